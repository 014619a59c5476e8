"""Text normalisation and tokenisation shared by the index, the retriever and the build.

Documents and queries go through the same `normalise`, so colloquial forms ("二类械", "执照",
"社保") meet the official ones ("第二类医疗器械", "营业执照", "社会保险") before any matching.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence

import jieba

# Characters kept after normalisation: ASCII letters/digits and CJK ideographs. Everything else
# (punctuation, emoji, whitespace, symbols) is dropped.
_DROP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# Device/licence class words, unified to 第一类/第二类/第三类. Roman numerals arrive here already
# NFKC-folded and lower-cased (Ⅱ -> "ii").
_CLASS_WORDS = {
    "一": "第一类", "二": "第二类", "三": "第三类",
    "1": "第一类", "2": "第二类", "3": "第三类",
    "i": "第一类", "ii": "第二类", "iii": "第三类",
}
_CLASS = re.compile(r"(?<![第0-9a-z])(iii|ii|i|[一二三123])类")
_CLASS_DEVICE = re.compile(r"(第[一二三]类)(?:器械|械)")

# Colloquial -> official wording, applied in one pass after the class words.
SYNONYMS: dict[str, str] = {
    "法人代表": "法定代表人",
    "法人": "法定代表人",
    "执照": "营业执照",
    "营业证": "营业执照",
    "社保": "社会保险",
    "公积金": "住房公积金",
    "排污证": "排污许可证",
    "数电票": "数字化电子发票",
    "个体户": "个体工商户",
    "危化品": "危险化学品",
    "备案证": "备案凭证",
    "餐饮证": "食品经营许可证",
    "食品证": "食品经营许可证",
}
# Where a colloquial word is not replaced: (text right before it, text right after it) that block it.
_SYNONYM_CONTEXT = {
    "法人": ("非", "组织|资格|单位|营业执照|证书"),  # 非法人组织, 法人资格, 企业法人营业执照 ...
    "执照": ("营业", ""),  # already 营业执照
    "公积金": ("住房", ""),  # already 住房公积金
}


def _synonym_pattern(word: str) -> str:
    not_after, not_before = _SYNONYM_CONTEXT.get(word, ("", ""))
    pattern = re.escape(word)
    if not_after:
        pattern = f"(?<!{not_after}){pattern}"
    if not_before:
        pattern = f"{pattern}(?!{not_before})"
    return pattern


_SYNONYM = re.compile("|".join(map(_synonym_pattern, sorted(SYNONYMS, key=len, reverse=True))))


def _synonym(match: re.Match[str]) -> str:
    return SYNONYMS[match.group(0)]


def normalise(text: str) -> str:
    """Fold width and case, drop punctuation/emoji/space and map colloquial words to official ones."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DROP.sub("", text)
    text = _CLASS.sub(lambda m: _CLASS_WORDS[m.group(1)], text)
    text = _CLASS_DEVICE.sub(r"\1医疗器械", text)
    return _SYNONYM.sub(_synonym, text)


def colloquial_variants(phrase: str, limit: int = 8) -> list[str]:
    """Spell an official phrase the ways people type it (第二类 -> 二类, 排污许可证 -> 排污证, ...).

    Used for the spaCy patterns and the jieba dictionary, which see raw text, not `normalise`d text.
    The phrase itself comes first; every variant normalises back to the same text as the phrase.
    """
    replacements = [(official, short) for short, official in SYNONYMS.items() if short != "法人代表"]
    replacements += [("第一类", "一类"), ("第二类", "二类"), ("第三类", "三类")]
    replacements += [("医疗器械", "器械"), ("医疗器械", "械")]
    target = normalise(phrase)
    variants = [phrase]
    for official, short in replacements:
        for existing in list(variants):
            if official not in existing or len(variants) >= limit:
                continue
            variant = existing.replace(official, short)
            if variant not in variants and normalise(variant) == target:
                variants.append(variant)
    return variants


class _BaseTokenizer:
    """The jieba main dictionary, loaded once per process on first use (about a second)."""

    _lock = threading.Lock()
    _instance: jieba.Tokenizer | None = None

    @classmethod
    def get(cls) -> jieba.Tokenizer:
        with cls._lock:
            if cls._instance is None:
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                cls._instance = tokenizer
            return cls._instance


def base_tokenizer() -> jieba.Tokenizer:
    """The shared jieba tokenizer with only the main dictionary (never jieba's global one)."""
    return _BaseTokenizer.get()


def tokenizer_with_words(words: Iterable[tuple[str, int]]) -> jieba.Tokenizer:
    """A private jieba tokenizer: the main dictionary plus `words` (word, frequency).

    Copies the base tokenizer's frequency table instead of mutating it, so several knowledge bases
    (tests, the benchmark) and jieba's global tokenizer never see each other's words.
    """
    base = base_tokenizer()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    for word, freq in words:
        tokenizer.add_word(word, freq)
    return tokenizer


def char_ngrams(text: str, n: int) -> list[str]:
    """Overlapping character n-grams, prefixed with n so they never collide with jieba words."""
    return [f"{n}:{text[i:i + n]}" for i in range(len(text) - n + 1)]


def words(tokenizer: jieba.Tokenizer, normalised: str) -> list[str]:
    """jieba search-mode words (long words plus their dictionary sub-words), single characters dropped."""
    return [w for w in tokenizer.cut_for_search(normalised, HMM=False) if len(w) > 1]


def tokenize(tokenizer: jieba.Tokenizer, normalised: str, ngrams: Sequence[int] = (2, 3)) -> list[str]:
    """Index/query tokens of already normalised text: jieba words plus character n-grams."""
    tokens = words(tokenizer, normalised)
    for n in ngrams:
        tokens.extend(char_ngrams(normalised, n))
    return tokens
