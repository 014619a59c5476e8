"""Find the procedure a message is about, and say whether to answer, ask which one, or give up.

BM25 (bm25s) proposes candidates; exact name/alias hits and NLU entities add theirs; a cheap
re-ranking of only those candidates combines the signals in `knowledge.scoring` into a calibrated
score. Nothing here loops over all procedures per query.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from knowledge import scoring
from knowledge.index import NGRAMS, PhraseHit, SearchIndex
from knowledge.loader import KnowledgeBase
from knowledge.query import FILLERS, Query, understand
from knowledge.schema import Procedure
from knowledge.text import normalise, tokenize

Decision = Literal["answer", "clarify", "no_match"]


@dataclass(frozen=True)
class Candidate:
    procedure: Procedure
    score: float  # calibrated, 0..1
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.procedure.id


@dataclass(frozen=True)
class SearchResult:
    """`candidates` are best first: the answer and its runners-up, the options of a clarification,
    or, with no_match, the near misses (for logs; do not offer them)."""

    query: str
    decision: Decision
    candidates: list[Candidate]
    understood: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates and self.decision != "no_match" else None


@dataclass
class _Scored:
    doc: int
    signals: scoring.Signals
    logit: float = field(init=False)
    probability: float = 0.0  # set once the whole pool is scored

    def __post_init__(self) -> None:
        self.logit = self.signals.logit


class Retriever:
    def __init__(self, kb: KnowledgeBase, index: SearchIndex) -> None:
        self.kb = kb
        self.index = index
        self._change_items = sorted({item for facts in index.facts for item in facts.change_items})

    @classmethod
    def build(cls, kb: KnowledgeBase) -> Retriever:
        return cls(kb, SearchIndex.build(kb))

    @classmethod
    def load(cls, index_dir: Path | str, kb: KnowledgeBase) -> Retriever:
        """Load build/knowledge/index; a missing or stale index is rebuilt in memory (logged)."""
        return cls(kb, SearchIndex.load(Path(index_dir), kb))

    def save(self, index_dir: Path | str) -> None:
        self.index.save(Path(index_dir))

    # --- search -------------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        action: str | None = None,
        change_item: str | None = None,
        entities: Sequence[Mapping[str, Any]] | None = None,
        exclude: Iterable[str] = (),
        top_k: int = 5,
    ) -> SearchResult:
        text = text if isinstance(text, str) else ""
        query, ranked, exact_docs, hints = self._rank(text, action, change_item, entities, exclude)
        generic = self._ambiguous(query, ranked, exact_docs, hints)
        decision, chosen = self._decide(ranked, generic, top_k)
        understood = {
            "normalised": query.normalised,
            "action": query.action,
            "change_items": sorted(query.change_items),
            "classes": sorted(query.classes),
            "generic": generic,
        }
        return SearchResult(text, decision, [self._candidate(s) for s in chosen], understood)

    def signals(
        self,
        text: str,
        action: str | None = None,
        change_item: str | None = None,
        entities: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[tuple[str, scoring.Signals, float]]:
        """Every candidate considered for `text` with its signals and score, best first: what the
        weights in knowledge/weights.py are fitted on."""
        _, ranked, _, _ = self._rank(text if isinstance(text, str) else "", action, change_item, entities, ())
        return [(self.index.ids[s.doc], s.signals, s.probability) for s in ranked]

    def _rank(
        self,
        text: str,
        action: str | None,
        change_item: str | None,
        entities: Sequence[Mapping[str, Any]] | None,
        exclude: Iterable[str],
    ) -> tuple[Query, list[_Scored], set[int], _EntityHints]:
        hints = _EntityHints.read(entities or (), self.index)
        # An entity normally is a span of the text; one that is not (carried over by the caller) is
        # read as if the user had written it.
        extra = [value for value in hints.phrases if value not in text]
        query = understand(
            " ".join([text, *extra]),
            self.index.tokenizer,
            self._change_items,
            action=action or hints.action,
            change_item=change_item or hints.change_item,
        )
        excluded = {self.index.position[i] for i in exclude if i in self.index.position}

        bm25 = self._bm25(query)
        phrase_docs, exact_docs = self._phrase_hits(query)
        pool = set(phrase_docs) | hints.procedures
        if bm25 is not None:
            pool.update(_top(bm25, scoring.BM25_CANDIDATES + len(excluded)))
        pool -= excluded

        context = _Context(
            query=query,
            grams=_grams(query.content),
            residual_grams=_grams(query.residual),
            bm25=bm25,
            best_bm25=max((float(bm25[d]) for d in pool), default=0.0) if bm25 is not None else 0.0,
            phrase_docs=phrase_docs,
            hints=hints,
            departments=hints.departments
            | {self.index.department_codes[h.doc] for h in self.index.departments.scan(query.normalised)},
        )
        if query.names_nothing and not (phrase_docs or hints.procedures or hints.licences):
            pool = set()  # nothing in the message can pick a procedure; scoring filler would guess
        ranked = [_Scored(doc, self._signals(doc, context)) for doc in pool]
        ranked.sort(key=lambda s: (-s.logit, self.index.ids[s.doc]))
        probabilities = scoring.probabilities([s.logit for s in ranked])
        for scored, probability in zip(ranked, probabilities, strict=True):
            scored.probability = probability
        return query, ranked, exact_docs, hints

    # --- signals ------------------------------------------------------------------------------------

    def _bm25(self, query: Query) -> np.ndarray | None:
        if not query.normalised:
            return None
        return self.index.bm25_scores(tokenize(self.index.tokenizer, query.normalised, NGRAMS))

    def _phrase_hits(self, query: Query) -> tuple[dict[int, tuple[str, bool]], set[int]]:
        """doc -> (matched phrase, partial) for names/aliases in the message; and the docs whose
        name/alias is the whole message."""
        found: dict[int, tuple[str, bool]] = {}
        exact: set[int] = set()
        for text in dict.fromkeys((query.normalised, query.content)):  # both, once, in this order
            hits = self.index.phrases.scan(text)
            for hit in hits:
                phrase = text[hit.start:hit.end]
                partial = _covered(hit, hits)
                if hit.end - hit.start == len(text):
                    exact.add(hit.doc)
                previous = found.get(hit.doc)
                if previous is None or (previous[1], -len(previous[0])) > (partial, -len(phrase)):
                    found[hit.doc] = (phrase, partial)
        return found, exact

    def _signals(self, doc: int, context: _Context) -> scoring.Signals:
        query, hints = context.query, context.hints
        facts = self.index.facts[doc]
        signals = scoring.Signals()
        if context.bm25 is not None:
            signals.bm25 = float(context.bm25[doc])
            signals.bm25_rel = signals.bm25 / context.best_bm25 if context.best_bm25 > 0 else 0.0
        signals.coverage = _coverage(context.grams, facts.key_text)
        signals.residual_coverage = _coverage(context.residual_grams, facts.key_text)
        signals.phrase_coverage = max(
            (_coverage(_grams(phrase), context.query.normalised) for phrase in facts.phrases),
            default=0.0,
        )
        if doc in context.phrase_docs:
            signals.phrase, signals.phrase_partial = context.phrase_docs[doc]
        signals.entity = doc in hints.procedures
        signals.selected = doc in hints.selected
        signals.licence = bool(facts.licence) and (
            facts.licence in query.normalised or facts.licence in hints.licences
        )
        if query.action and facts.action != "其他":
            signals.action = query.action_strength * (1 if facts.action == query.action else -1)
            named_with_action = signals.phrase and not signals.phrase_partial and any(
                word in signals.phrase for word in query.action_words
            )
            if signals.action < 0 and named_with_action:
                signals.action = 0.0  # its own alias says so ("食品经营许可证变更法人" on a 变更+延续 entry)
        signals.new_prior = query.action is None and facts.action == "新办"
        if query.change_items and facts.action == "变更" and facts.change_items:
            covers = any(a in b or b in a for a in query.change_items for b in facts.change_items)
            signals.change_item = 1 if covers else -1
        if query.classes and facts.licence_class:
            signals.licence_class = 1 if facts.licence_class in query.classes else -1
        signals.department = facts.department in context.departments
        if query.licence_cores:
            found = max(_coverage(_grams(core), facts.key_text) for core in query.licence_cores)
            signals.licence_miss = 1.0 - found
        return signals

    def _ambiguous(
        self, query: Query, ranked: list[_Scored], exact_docs: set[int], hints: _EntityHints
    ) -> bool:
        """Nothing but an action/change item ("我想变更法人") or nothing but a certificate ("排污证"):
        several procedures fit equally, so ask, unless a whole name/alias or an NLU entity decides."""
        if exact_docs or hints.procedures:
            return False
        if query.generic and not hints.licences:
            return True
        licences = {self.index.facts[s.doc].licence for s in ranked} - {""}
        # only a certificate's name, once or repeated ("排污证", "营业执照营业执照")
        return query.action is None and any(not query.content.replace(name, "") for name in licences)

    # --- decision -----------------------------------------------------------------------------------

    def _decide(self, ranked: list[_Scored], generic: bool, top_k: int) -> tuple[Decision, list[_Scored]]:
        """No match when no candidate is likely; answer a likely best that clearly beats the
        runner-up; otherwise ask among the close candidates."""
        top_k = max(1, top_k)
        offered = [s for s in ranked if s.probability >= scoring.OFFER_FLOOR]
        near_best = [s for s in ranked if ranked[0].logit - s.logit <= scoring.CLARIFY_LOGIT_WINDOW]
        close = [s for s in near_best if s.probability >= scoring.OFFER_FLOOR]
        likely = ranked[0].probability if ranked else 0.0
        if generic:
            # "我想变更法人" fits every procedure that changes that item, whatever its score, and
            # spreads the probability over them: their sum is what says the question is answerable.
            fits = [s for s in ranked if s.signals.action > 0 and s.signals.change_item > 0]
            close = [s for s in ranked if s in near_best or s in fits]
            likely = max(likely, sum(s.probability for s in close))
        if likely < scoring.NO_MATCH_THRESHOLD:
            near = [s for s in ranked if s.probability >= scoring.NEAR_MISS_FLOOR]
            return "no_match", near[:top_k]
        clear_margin = len(ranked) == 1 or (
            ranked[0].logit - ranked[1].logit >= scoring.MIN_LOGIT_MARGIN
            and not (ranked[1].probability >= scoring.OFFER_FLOOR and _only_wording_differs(*ranked[:2]))
        )
        if generic and len(close) > 1:
            return "clarify", close[:top_k]
        if ranked[0].probability >= scoring.ANSWER_THRESHOLD and clear_margin:
            return "answer", offered[:top_k]
        return "clarify", close[:top_k]

    def _candidate(self, scored: _Scored) -> Candidate:
        procedure = self.kb.procedures[self.index.ids[scored.doc]]
        return Candidate(procedure, round(scored.probability, 4), scored.signals.as_dict())


@dataclass
class _EntityHints:
    """What the NLU's entities point at."""

    procedures: set[int] = field(default_factory=set)
    selected: set[int] = field(default_factory=set)  # by id (a button), not by a name in the text
    licences: set[str] = field(default_factory=set)
    phrases: list[str] = field(default_factory=list)  # procedure/licence values as written
    departments: set[str] = field(default_factory=set)
    action: str | None = None
    change_item: str | None = None

    @classmethod
    def read(cls, entities: Iterable[Mapping[str, Any]], index: SearchIndex) -> _EntityHints:
        hints = cls()
        for entity in entities:
            if not isinstance(entity, Mapping):
                continue
            kind, value = entity.get("entity"), entity.get("value")
            if not isinstance(value, str) or not value:
                continue
            if kind in ("procedure", "procedure_id") and value in index.position:  # an id, from a button
                hints.procedures.add(index.position[value])
                hints.selected.add(index.position[value])
            elif kind == "procedure":
                hints.procedures.update(doc for doc, _ in index.phrases.lookup(normalise(value)))
                hints.phrases.append(value)
            elif kind == "licence":
                hints.licences.add(normalise(value))
                hints.phrases.append(value)
            elif kind == "department":
                codes = index.department_codes
                hints.departments.update(codes[d] for d, _ in index.departments.lookup(normalise(value)))
            elif kind == "action" and hints.action is None:
                hints.action = value
            elif kind == "change_item" and hints.change_item is None:
                hints.change_item = value
        return hints


@dataclass
class _Context:
    """What every candidate of one query is scored against."""

    query: Query
    grams: frozenset[str]
    residual_grams: frozenset[str]
    bm25: np.ndarray | None
    best_bm25: float
    phrase_docs: dict[int, tuple[str, bool]]
    hints: _EntityHints
    departments: set[str]


# Features that depend on how a procedure is written in the base more than on what the message says.
_HOW_WRITTEN = frozenset({"bm25_rel", "bm25_x_coverage", "phrase_coverage"})


def _only_wording_differs(first: _Scored, second: _Scored) -> bool:
    """Nothing the message says separates the two: the same share of its words is found in each, and
    the same name, certificate, action, change item and class agree or not. Only how the two are
    written in the base orders them (BM25's term weights, how long their names are, i.e. what share of
    a name the message spells out): no reason to pick one, so ask ("卖食品要办什么证")."""
    return _evidence(first.signals) == _evidence(second.signals)


def _evidence(signals: scoring.Signals) -> tuple:
    features = signals.features()
    return tuple(
        round(value, 3) for name, value in features.items() if name not in _HOW_WRITTEN
    )


def _top(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the n highest positive scores."""
    if n <= 0 or scores.size == 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    return [int(i) for i in top if scores[i] > 0]


def _covered(hit: PhraseHit, hits: list[PhraseHit]) -> bool:
    """True if a longer hit of another procedure contains this one."""
    return any(
        other.doc != hit.doc and other.start <= hit.start and other.end >= hit.end
        and other.end - other.start > hit.end - hit.start
        for other in hits
    )


@functools.lru_cache(maxsize=1 << 16)
def _grams(content: str) -> frozenset[str]:
    """Character bigrams (the character itself if only one), without filler words like 怎么.

    Cached: every query scores the same candidates' phrases again, which was the largest cost of a
    search at 10k procedures."""
    if len(content) == 1:
        return frozenset({content})
    return frozenset({content[i:i + 2] for i in range(len(content) - 1)} - FILLERS)


def _coverage(grams: frozenset[str], text: str) -> float:
    return sum(g in text for g in grams) / len(grams) if grams else 0.0
