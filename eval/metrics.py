"""Pure scoring functions for the evaluation: no I/O, so tests can check them by hand.

Definitions (also printed by ``python -m eval.run_eval``):

- top-1: a labelled question is right when the answer's procedure id equals the label; a no-match
  question (``expected: null``) is right when no procedure answer is given; an ambiguous question is
  right when the reply is a clarification offering at least one acceptable id.
- top-3: the label (for ambiguous questions: any acceptable id) is the answer or among the first three
  offered ids (a clarification's candidates; a baseline's ranking). No-match questions as in top-1.
- clarify rate: share of questions answered with a clarification.
- no-match precision / recall: a reply "predicts no match" when it carries neither an answer nor a
  clarification; the positive class is ``expected: null``.
- turn accuracy: a turn is right when top-1 holds for it and, if the turn names an aspect, the answer
  has that aspect.

A reply that failed (HTTP error, timeout, malformed payload) is wrong on every metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ANSWER = "answer"
CLARIFY = "clarify"
HANDOFF = "handoff"
NONE = "none"
ERROR = "error"
KINDS = (ANSWER, CLARIFY, HANDOFF, NONE, ERROR)


@dataclass(frozen=True)
class Gold:
    """What a question (or a dialogue turn) should get."""

    text: str
    expected: str | None = None
    ambiguous: bool = False
    acceptable: tuple[str, ...] = ()
    aspect: str | None = None

    @property
    def is_no_match(self) -> bool:
        return not self.ambiguous and self.expected is None


@dataclass(frozen=True)
class Prediction:
    """One reply reduced to what the metrics need.

    ``candidates`` are the ids offered besides the answer: a clarification's candidates, or a
    baseline's runners-up, best first.
    """

    kind: str
    procedure: str | None = None
    candidates: tuple[str, ...] = ()
    aspect: str | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown prediction kind {self.kind!r}")
        if (self.kind == ANSWER) != (self.procedure is not None):
            raise ValueError("an answer needs a procedure id, and only an answer has one")

    @property
    def ranked(self) -> tuple[str, ...]:
        return ((self.procedure,) if self.procedure else ()) + self.candidates

    @property
    def predicts_no_match(self) -> bool:
        return self.kind in (HANDOFF, NONE)


def is_top1_correct(gold: Gold, pred: Prediction) -> bool:
    if pred.kind == ERROR:
        return False
    if gold.ambiguous:
        return pred.kind == CLARIFY and bool(set(pred.candidates) & set(gold.acceptable))
    if gold.expected is None:
        return pred.procedure is None
    return pred.procedure == gold.expected


def is_top3_correct(gold: Gold, pred: Prediction, k: int = 3) -> bool:
    if pred.kind == ERROR:
        return False
    if gold.ambiguous:
        return bool(set(pred.ranked[:k]) & set(gold.acceptable))
    if gold.expected is None:
        return pred.procedure is None
    return gold.expected in pred.ranked[:k]


def is_turn_correct(gold: Gold, pred: Prediction) -> bool:
    if not is_top1_correct(gold, pred):
        return False
    return gold.aspect is None or gold.expected is None or pred.aspect == gold.aspect


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return sum(values) / len(values) if values else None


def top1_accuracy(pairs: Sequence[tuple[Gold, Prediction]]) -> float | None:
    return _share(is_top1_correct(g, p) for g, p in pairs)


def top3_accuracy(pairs: Sequence[tuple[Gold, Prediction]], k: int = 3) -> float | None:
    return _share(is_top3_correct(g, p, k) for g, p in pairs)


def clarify_rate(preds: Sequence[Prediction]) -> float | None:
    return _share(p.kind == CLARIFY for p in preds)


def no_match_precision(pairs: Sequence[tuple[Gold, Prediction]]) -> float | None:
    """Of the replies that predicted no match, the share whose question really has none."""
    return _share(g.is_no_match for g, p in pairs if p.predicts_no_match)


def no_match_recall(pairs: Sequence[tuple[Gold, Prediction]]) -> float | None:
    """Of the questions with no match, the share that got a no-match reply."""
    return _share(p.predicts_no_match for g, p in pairs if g.is_no_match)


def turn_accuracy(pairs: Sequence[tuple[Gold, Prediction]]) -> float | None:
    return _share(is_turn_correct(g, p) for g, p in pairs)


def dialogue_success_rate(dialogues: Sequence[Sequence[tuple[Gold, Prediction]]]) -> float | None:
    """Share of dialogues whose every turn is right."""
    return _share(all(is_turn_correct(g, p) for g, p in turns) for turns in dialogues)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def question_group(gold: Gold) -> str:
    if gold.ambiguous:
        return "ambiguous"
    return "no_match" if gold.expected is None else "procedure"


def summarize(pairs: Sequence[tuple[Gold, Prediction]]) -> dict:
    """All single-question metrics, with top-1 per question group and the count of failed replies."""
    preds = [p for _, p in pairs]
    by_group: dict[str, float | None] = {}
    for group in ("procedure", "no_match", "ambiguous"):
        subset = [(g, p) for g, p in pairs if question_group(g) == group]
        by_group[group] = top1_accuracy(subset)
    return {
        "n": len(pairs),
        "top1": top1_accuracy(pairs),
        "top3": top3_accuracy(pairs),
        "clarify_rate": clarify_rate(preds),
        "no_match_precision": no_match_precision(pairs),
        "no_match_recall": no_match_recall(pairs),
        "top1_by_group": by_group,
        "errors": sum(p.kind == ERROR for p in preds),
    }
