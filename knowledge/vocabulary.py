"""The words of the knowledge base: what jieba must keep whole and what spaCy should tag.

One source for the jieba user dictionary (`build/knowledge/jieba/userdict.txt`), the spaCy entity
ruler and the retriever's own tokenizer, so the three agree on what a term is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import jieba

from knowledge.loader import KnowledgeBase
from knowledge.query import ACTION_WORDS, CHANGE_ITEM_WORDS
from knowledge.text import SYNONYMS, colloquial_variants, normalise

# Below this jieba may split a rare domain word when a neighbouring character forms a common word.
MIN_WORD_FREQ = 2000
# jieba cuts text at every character outside this class (its re_han_default) before using the
# dictionary, so a dictionary word must consist of these characters only.
_NOT_JIEBA_WORD = re.compile(r"[^\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
# Words that join two terms of one official name ("……及数电票开票", "……等其他事项").
_NAME_CONJUNCTIONS = ("及", "与", "等")


def procedure_phrases(kb: KnowledgeBase) -> Iterator[tuple[str, str]]:
    """(phrase, procedure id) for every name and alias."""
    for procedure in kb.procedures.values():
        yield procedure.name, procedure.id
        for alias in procedure.aliases:
            yield alias, procedure.id


def licence_names(kb: KnowledgeBase) -> list[str]:
    return sorted({p.licence for p in kb.procedures.values() if p.licence})


def department_phrases(kb: KnowledgeBase) -> Iterator[tuple[str, str]]:
    """(phrase, department code) for every name, short name and alias."""
    for department in kb.departments.values():
        for phrase in (department.name, department.short_name, *department.aliases):
            yield phrase, department.code


def change_items(kb: KnowledgeBase) -> list[str]:
    return sorted({item for p in kb.procedures.values() for item in p.change_items})


def terms(kb: KnowledgeBase) -> list[str]:
    """Shared domain terms (licences, change items, departments), normalised.

    The retriever's tokenizer knows these; names and aliases are matched whole by the phrase scan, so
    the tokenizer's size follows the number of distinct terms, not the number of procedures.
    """
    raw = [*licence_names(kb), *change_items(kb), *(phrase for phrase, _ in department_phrases(kb))]
    return sorted({n for n in map(normalise, raw) if len(n) > 1})


def entity_words(kb: KnowledgeBase) -> list[str]:
    """Words the NLU annotates as `action` or `change_item` entities, as people type them.

    A dictionary word must not swallow one of these: "营业执照换法人" as one jieba token leaves DIET no
    token for the action 换 or the change item 法人, and Rasa drops such annotations at training.
    """
    words = [w for _, ws in ACTION_WORDS for w in ws] + list(CHANGE_ITEM_WORDS)
    for item in change_items(kb):
        words += colloquial_variants(item)
    words += [short for short, official in SYNONYMS.items() if official in words]  # 法人, 法人代表
    return sorted({w for w in words if w})


def name_terms(kb: KnowledgeBase, avoid: Iterable[str]) -> list[str]:
    """The pieces of the official procedure names between punctuation and entity words.

    "第二类医疗器械注册变更（变更注册、变更备案）" -> 第二类医疗器械注册, 注册, 备案: the terms a
    name is made of, not the name with its action (the entity ruler matches whole names and aliases).
    """
    separators = [*sorted(avoid, key=len, reverse=True), *_NAME_CONJUNCTIONS]
    splitter = re.compile("|".join(map(re.escape, separators)))
    pieces: set[str] = set()
    for procedure in kb.procedures.values():
        for part in _NOT_JIEBA_WORD.split(procedure.name):
            pieces.update(piece for piece in splitter.split(part) if len(piece) > 1)
    return sorted(pieces)


def dictionary_words(kb: KnowledgeBase) -> list[str]:
    """Domain terms as people type them (with colloquial variants), for jieba and spaCy.

    Terms only: licence names, change items, department names and the pieces of procedure names.
    Whole aliases ("营业执照换法人") stay out: they join an action or change item to a certificate,
    which mis-segments messages; the spaCy entity ruler matches them whole instead. No word
    contains an action or change-item word unless it is one.
    """
    avoid = entity_words(kb)
    phrases = licence_names(kb) + change_items(kb) + [phrase for phrase, _ in department_phrases(kb)]
    phrases += name_terms(kb, avoid)
    words: set[str] = set()
    for phrase in phrases:
        for variant in colloquial_variants(phrase):
            # "药品经营许可证（批发）" -> 药品经营许可证, 批发
            words.update(part for part in _NOT_JIEBA_WORD.split(variant) if len(part) > 1)
    return sorted(w for w in words if w in avoid or not any(a in w for a in avoid))


def add_words(tokenizer: jieba.Tokenizer, words: Iterable[str]) -> dict[str, int]:
    """Add `words` to `tokenizer` with frequencies high enough that it keeps each one whole.

    Returns the frequencies used (the content of a jieba user dictionary). Longer words go first so
    that a shorter word added later cannot pull a longer one apart; a second pass re-tunes any word
    that a later addition split.
    """
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    frequencies: dict[str, int] = {}
    for word in ordered:
        frequencies[word] = max(MIN_WORD_FREQ, tokenizer.suggest_freq(word))
        tokenizer.add_word(word, frequencies[word])
    for word in ordered:
        if tokenizer.lcut(word, HMM=False) != [word]:
            frequencies[word] = tokenizer.suggest_freq(word, tune=True)
    return frequencies
