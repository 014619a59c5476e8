"""The blank Chinese spaCy pipeline whose entity ruler tags procedures, licences and departments.

Rasa's `SpacyNLP` loads it; `SpacyEntityExtractor` passes the ruler's entities on. spaCy's zh
tokenizer segments with jieba's *global* tokenizer, whose dictionary differs depending on whether
Rasa's `JiebaTokenizer` has already loaded build/knowledge/jieba. Each phrase therefore gets a phrase
pattern (re-segmented when the pipeline loads) plus token patterns for both segmentations: with the
user dictionary and with jieba's main dictionary alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jieba
import spacy
from spacy.language import Language

from knowledge.loader import KnowledgeBase
from knowledge.text import base_tokenizer, colloquial_variants, normalise
from knowledge.vocabulary import department_phrases, licence_names, procedure_phrases

LABEL_PROCEDURE = "procedure"
LABEL_LICENCE = "licence"
LABEL_DEPARTMENT = "department"
PROBE_SENTENCE = "我想咨询一下{}怎么办理"


def blank_pipeline() -> Language:
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


def use_segmenter(nlp: Language, tokenizer: jieba.Tokenizer) -> None:
    """Make this pipeline segment with `tokenizer` instead of jieba's global one (not saved)."""
    nlp.tokenizer.jieba_seg = tokenizer


def labelled_phrases(kb: KnowledgeBase) -> Iterator[tuple[str, str, str]]:
    """(label, phrase, id) for every phrase and its colloquial variants.

    A procedure alias that is just a licence name ("三类医疗器械经营许可证") is tagged as the
    licence: it says which certificate, not which of its procedures (new, change, renewal).
    """
    licences = {normalise(name): name for name in licence_names(kb)}
    for name in licences.values():
        for variant in colloquial_variants(name):
            yield LABEL_LICENCE, variant, name
    for phrase, procedure_id in procedure_phrases(kb):
        if normalise(phrase) in licences:
            continue
        for variant in colloquial_variants(phrase):
            yield LABEL_PROCEDURE, variant, procedure_id
    for phrase, code in department_phrases(kb):
        for variant in colloquial_variants(phrase):
            yield LABEL_DEPARTMENT, variant, code


def patterns(kb: KnowledgeBase, segmenters: Sequence[jieba.Tokenizer]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for label, phrase, pattern_id in labelled_phrases(kb):
        key = (label, phrase, pattern_id)
        if key in seen:
            continue
        seen.add(key)
        result.append({"label": label, "pattern": phrase, "id": pattern_id})
        token_lists = {tuple(t for t in seg.lcut(phrase) if t.strip()) for seg in segmenters}
        for tokens in sorted(token_lists):
            token_pattern = [{"LOWER": t.lower()} for t in tokens]
            result.append({"label": label, "pattern": token_pattern, "id": pattern_id})
    return result


def build_pipeline(kb: KnowledgeBase, userdict_tokenizer: jieba.Tokenizer) -> Language:
    nlp = blank_pipeline()
    use_segmenter(nlp, userdict_tokenizer)
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "validate": True})
    ruler.add_patterns(patterns(kb, [userdict_tokenizer, base_tokenizer()]))
    return nlp


def unrecognised_names(nlp: Language, kb: KnowledgeBase) -> list[str]:
    """Procedure names the pipeline does not tag with their id in a probe sentence.

    A name that is also its licence's name ("仅销售预包装食品备案") is tagged as that licence.
    """
    missing = []
    for procedure in kb.procedures.values():
        doc = nlp(PROBE_SENTENCE.format(procedure.name))
        wanted = {(LABEL_PROCEDURE, procedure.id)}
        if procedure.licence and normalise(procedure.licence) == normalise(procedure.name):
            wanted.add((LABEL_LICENCE, procedure.licence))
        if not any((ent.label_, ent.ent_id_) in wanted for ent in doc.ents):
            missing.append(procedure.name)
    return missing


def load(path: Path, tokenizer: jieba.Tokenizer | None = None) -> Language:
    """Load a saved pipeline; with `tokenizer`, segment (and re-read the patterns) with it."""
    nlp = spacy.load(path)
    if tokenizer is not None:
        use_segmenter(nlp, tokenizer)
        nlp.get_pipe("entity_ruler").from_disk(Path(path) / "entity_ruler")
    return nlp
