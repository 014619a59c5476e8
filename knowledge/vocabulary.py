"""The words of the knowledge base: what jieba must keep whole and what spaCy should tag.

One source for the jieba user dictionary (`build/knowledge/jieba/userdict.txt`), the spaCy entity
ruler and the retriever's own tokenizer, so the three agree on what a term is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import jieba

from knowledge.loader import KnowledgeBase
from knowledge.text import colloquial_variants, normalise

# Below this jieba may split a rare domain word when a neighbouring character forms a common word.
MIN_WORD_FREQ = 2000
# jieba cuts text at every character outside this class (its re_han_default) before using the
# dictionary, so a dictionary word must consist of these characters only.
_NOT_JIEBA_WORD = re.compile(r"[^\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")


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


def dictionary_words(kb: KnowledgeBase) -> list[str]:
    """Every phrase of the base as people type it (with colloquial variants), for jieba and spaCy."""
    phrases = [phrase for phrase, _ in procedure_phrases(kb)]
    phrases += licence_names(kb) + change_items(kb) + [phrase for phrase, _ in department_phrases(kb)]
    words: set[str] = set()
    for phrase in phrases:
        for variant in colloquial_variants(phrase):
            # "企业变更登记（法定代表人）" -> 企业变更登记, 法定代表人
            words.update(part for part in _NOT_JIEBA_WORD.split(variant) if len(part) > 1)
    return sorted(words)


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
