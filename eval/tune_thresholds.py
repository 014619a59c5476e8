"""Grid-search the retriever's decision thresholds on the even-numbered eval questions and report the
odd-numbered half as the held-out check: how the constants in knowledge/scoring.py were chosen.

Run: `python -m eval.tune_thresholds`. It only prints; copy a chosen triple into knowledge/scoring.py
by hand, then confirm with `make eval` through the running system.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from eval.data import load_questions
from eval.metrics import ANSWER as ANSWERED
from eval.metrics import CLARIFY, HANDOFF, Gold, Prediction, top1_accuracy
from knowledge import KnowledgeBase, Retriever, scoring

ANSWER = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MARGIN = (0.25, 0.5, 1.0, 1.5)
NO_MATCH = (0.1, 0.2, 0.35)


def predict(retriever: Retriever, text: str) -> Prediction:
    result = retriever.search(text)
    ids = tuple(c.id for c in result.candidates)
    if result.decision == "answer":
        return Prediction(ANSWERED, procedure=ids[0], candidates=ids[1:])
    if result.decision == "clarify":
        return Prediction(CLARIFY, candidates=ids)
    return Prediction(HANDOFF)


def set_thresholds(answer: float, margin: float, no_match: float) -> None:
    scoring.ANSWER_THRESHOLD, scoring.MIN_LOGIT_MARGIN, scoring.NO_MATCH_THRESHOLD = answer, margin, no_match


def score(retriever: Retriever, questions: Sequence[Gold]) -> float:
    return top1_accuracy([(q, predict(retriever, q.text)) for q in questions]) or 0.0


def main() -> None:
    logging.disable(logging.WARNING)
    questions = load_questions()
    tune, held_out = questions[0::2], questions[1::2]
    retriever = Retriever.build(KnowledgeBase.load())
    results = []
    for answer, margin, no_match in itertools.product(ANSWER, MARGIN, NO_MATCH):
        set_thresholds(answer, margin, no_match)
        results.append((score(retriever, tune), answer, margin, no_match))
    results.sort(reverse=True)
    print("tuning-half top-1  answer  margin  no-match")
    for accuracy, answer, margin, no_match in results[:10]:
        print(f"{accuracy:17.1%}  {answer:6.2f}  {margin:6.2f}  {no_match:8.2f}")
    set_thresholds(*results[0][1:])
    print(f"best on the tuning half; held-out half top-1: {score(retriever, held_out):.1%}")


if __name__ == "__main__":
    main()
