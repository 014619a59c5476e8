"""The search index: BM25 (bm25s) over one document per procedure, plus exact-phrase tables.

Built once from a knowledge base; `save`/`load` keep the BM25 part on disk (build/knowledge/index)
while the cheap parts (phrase tables, per-procedure facts, tokenizer) are rebuilt from the base.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import jieba
import numpy as np

from knowledge.loader import KnowledgeBase
from knowledge.schema import Procedure
from knowledge.text import normalise, tokenize, tokenizer_with_words, words
from knowledge.vocabulary import add_words, department_phrases, terms

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "meta.json"
NGRAMS = (2, 3)
NOTES_IN_DOCUMENT = 2  # the first notes carry the distinctions worth matching; the rest is detail

# How many times each field's tokens enter the BM25 document.
FIELD_WEIGHTS = {
    "name": 3,
    "aliases": 1,
    "licence": 2,
    "change_items": 1,
    "kind_action": 1,
    "department": 1,
}


class _BM25(bm25s.BM25):
    """bm25s.BM25 with the posting-list sum done by np.bincount.

    bm25s computes every BM25 weight; this only replaces its accumulation loop, whose np.add.at is
    slow on numpy < 1.25: measured 4-10 ms instead of 0.2-0.4 ms per query at 20k procedures, with
    identical scores (tests/knowledge/test_index.py).
    """

    @staticmethod
    def _compute_relevance_from_scores(
        data: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        num_docs: int,
        query_tokens_ids: np.ndarray,
        dtype: np.dtype,
    ) -> np.ndarray:
        if len(query_tokens_ids) == 0:
            return np.zeros(num_docs, dtype=dtype)
        starts, ends = indptr[query_tokens_ids], indptr[query_tokens_ids + 1]
        docs = np.concatenate([indices[s:e] for s, e in zip(starts, ends, strict=True)])
        weights = np.concatenate([data[s:e] for s, e in zip(starts, ends, strict=True)])
        return np.bincount(docs, weights=weights, minlength=num_docs).astype(dtype, copy=False)


@dataclass(frozen=True)
class DocFacts:
    """What re-ranking needs to know about one procedure, normalised once."""

    action: str
    change_items: tuple[str, ...]
    licence: str
    licence_class: str | None
    department: str
    key_text: str  # name, aliases, licence and change items, separated by "|"
    phrases: tuple[str, ...] = ()  # name, aliases and licence, normalised: what names this procedure


@dataclass(frozen=True)
class PhraseHit:
    start: int
    end: int
    doc: int
    kind: str  # "name" | "alias"


class PhraseTable:
    """Exact lookup of normalised phrases (procedure names and aliases) inside a query, built once.

    A scan tries, at each position of the query, only the phrase lengths that exist; a set of
    two-character prefixes skips positions where no phrase can start. Cost: O(len(query) x lengths)
    dict lookups, independent of the number of procedures.
    """

    def __init__(self) -> None:
        self._entries: dict[str, list[tuple[int, str]]] = {}
        self._prefixes: set[str] = set()
        self._lengths: list[int] = []

    def add(self, phrase: str, doc: int, kind: str) -> None:
        if len(phrase) < 2:
            return
        entries = self._entries.setdefault(phrase, [])
        if (doc, kind) not in entries:
            entries.append((doc, kind))
        self._prefixes.add(phrase[:2])

    def freeze(self) -> PhraseTable:
        self._lengths = sorted({len(p) for p in self._entries})
        return self

    def lookup(self, phrase: str) -> list[tuple[int, str]]:
        return self._entries.get(phrase, [])

    def scan(self, text: str) -> list[PhraseHit]:
        hits = []
        for start in range(len(text) - 1):
            if text[start:start + 2] not in self._prefixes:
                continue
            for length in self._lengths:
                end = start + length
                if end > len(text):
                    break
                for doc, kind in self._entries.get(text[start:end], ()):
                    hits.append(PhraseHit(start, end, doc, kind))
        return hits


class SearchIndex:
    """BM25 over procedure documents, phrase tables and per-procedure facts."""

    def __init__(
        self,
        ids: Sequence[str],
        facts: Sequence[DocFacts],
        bm25: bm25s.BM25 | None,
        tokenizer: jieba.Tokenizer,
        phrases: PhraseTable,
        departments: PhraseTable,
        department_codes: Sequence[str],
        fingerprint: str,
    ) -> None:
        self.ids = list(ids)
        self.facts = list(facts)
        self.bm25 = bm25  # None for an empty knowledge base
        self.tokenizer = tokenizer
        self.phrases = phrases
        self.departments = departments
        self.department_codes = list(department_codes)
        self.fingerprint = fingerprint
        self.position = {procedure_id: i for i, procedure_id in enumerate(self.ids)}

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def build(cls, kb: KnowledgeBase) -> SearchIndex:
        ids = sorted(kb.procedures)
        tokenizer = make_tokenizer(kb)
        vocab: dict[str, int] = {}
        corpus_ids: list[list[int]] = []
        cache: dict[str, list[str]] = {}
        for procedure_id in ids:
            procedure = kb.procedures[procedure_id]
            tokens = document_tokens(procedure, kb.department_of(procedure).name, tokenizer, cache)
            corpus_ids.append([vocab.setdefault(token, len(vocab)) for token in tokens])
        bm25 = None
        if vocab:
            bm25 = _BM25()
            bm25.index((corpus_ids, vocab), create_empty_token=False, show_progress=False)
        return cls._assemble(kb, ids, bm25, tokenizer, kb.fingerprint())

    @classmethod
    def _assemble(
        cls,
        kb: KnowledgeBase,
        ids: list[str],
        bm25: bm25s.BM25 | None,
        tokenizer: jieba.Tokenizer,
        fingerprint: str,
    ) -> SearchIndex:
        phrases, departments, facts = PhraseTable(), PhraseTable(), []
        for doc, procedure_id in enumerate(ids):
            procedure = kb.procedures[procedure_id]
            facts.append(doc_facts(procedure))
            phrases.add(normalise(procedure.name), doc, "name")
            for alias in procedure.aliases:
                phrases.add(normalise(alias), doc, "alias")
        codes = sorted(kb.departments)
        position = {code: i for i, code in enumerate(codes)}
        for phrase, code in department_phrases(kb):
            departments.add(normalise(phrase), position[code], "department")
        return cls(ids, facts, bm25, tokenizer, phrases.freeze(), departments.freeze(), codes, fingerprint)

    # --- persistence --------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.bm25 is not None:
            self.bm25.save(str(directory), show_progress=False)
        meta = {"format": FORMAT_VERSION, "fingerprint": self.fingerprint, "ids": self.ids, "ngrams": NGRAMS}
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", "utf-8")

    @classmethod
    def load(cls, directory: Path, kb: KnowledgeBase) -> SearchIndex:
        """Load a saved index; rebuild in memory (with a warning) if it does not match `kb`."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text("utf-8"))
            fresh = meta.get("format") == FORMAT_VERSION and meta.get("fingerprint") == kb.fingerprint()
        except (OSError, ValueError) as exc:
            logger.warning("No usable index in %s (%s); building it in memory", directory, exc)
            return cls.build(kb)
        if not fresh:
            logger.warning("The index in %s is stale; building it in memory", directory)
            return cls.build(kb)
        try:
            bm25 = _BM25.load(str(directory), show_progress=False) if meta["ids"] else None
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("The index in %s is unreadable (%s); building it in memory", directory, exc)
            return cls.build(kb)
        return cls._assemble(kb, list(meta["ids"]), bm25, make_tokenizer(kb), meta["fingerprint"])

    # --- queries ------------------------------------------------------------------------------------

    def bm25_scores(self, tokens: Iterable[str]) -> np.ndarray | None:
        """BM25 score of every document for these query tokens; None if no token is indexed."""
        if self.bm25 is None:
            return None
        vocab = self.bm25.vocab_dict
        token_ids = sorted({vocab[t] for t in tokens if t in vocab})
        return self.bm25.get_scores_from_ids(token_ids) if token_ids else None


def make_tokenizer(kb: KnowledgeBase) -> jieba.Tokenizer:
    tokenizer = tokenizer_with_words([])
    add_words(tokenizer, terms(kb))
    return tokenizer


def doc_facts(procedure: Procedure) -> DocFacts:
    key_parts = [procedure.name, *procedure.aliases, procedure.licence or "", *procedure.change_items]
    return DocFacts(
        action=procedure.action,
        change_items=tuple(normalise(item) for item in procedure.change_items),
        licence=normalise(procedure.licence or ""),
        licence_class=procedure.licence_class,
        department=procedure.department,
        key_text="|".join(normalise(part) for part in key_parts),
        phrases=tuple(normalise(part) for part in key_parts[: len(procedure.aliases) + 2] if part),
    )


def document_tokens(
    procedure: Procedure, department_name: str, tokenizer: jieba.Tokenizer, cache: dict[str, list[str]]
) -> list[str]:
    """The BM25 document of a procedure: each field's tokens repeated by its weight."""
    fields = {
        "name": [procedure.name],
        "aliases": procedure.aliases,
        "licence": [procedure.licence] if procedure.licence else [],
        "change_items": procedure.change_items,
        "kind_action": [procedure.kind, procedure.action],
        "department": [department_name],
    }
    tokens: list[str] = []
    for field, texts in fields.items():
        for text in texts:
            if text not in cache:
                cache[text] = tokenize(tokenizer, normalise(text), NGRAMS)
            tokens.extend(cache[text] * FIELD_WEIGHTS[field])
    for note in procedure.notes[:NOTES_IN_DOCUMENT]:  # a little of the notes: words only, no n-grams
        tokens.extend(words(tokenizer, normalise(note)))
    return tokens

