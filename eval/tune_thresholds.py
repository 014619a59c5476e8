"""Fit the retriever's score and choose its decision thresholds on the even-numbered eval questions;
report the odd-numbered half as the held-out check. This is how knowledge/weights.py was made.

    python -m eval.tune_thresholds            # fit, search, print both halves and the reliability table
    python -m eval.tune_thresholds --write    # ... and write the result to knowledge/weights.py

1. Weights: a conditional logistic regression (the candidates of one question compete with each
   other and with "none of them", as `scoring.probabilities` computes) over `Signals.features()` of
   every candidate the retriever considers for a tuning question; the expected procedure is the right
   choice, "none" for a no-match question; ambiguous questions are left out (no single candidate is
   right). Maximum likelihood (scipy L-BFGS-B, a small L2 penalty), each weight's sign bounded by its
   meaning (evidence never lowers a score). The score is then P(candidate is the right procedure).
2. Thresholds: a grid over (answer, margin, no-match) maximising top-1 on the tuning half.
3. Held-out: top-1 on the odd half and a reliability table (the answered candidate's score against
   how often it was right, per score bucket).

The retriever runs alone here (no NLU entities), as `python -m knowledge search` does; `make eval`
confirms the result through the running system.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import pprint
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.data import load_questions
from eval.metrics import ANSWER as ANSWERED
from eval.metrics import CLARIFY, HANDOFF, Gold, Prediction, top1_accuracy
from knowledge import KnowledgeBase, Retriever, scoring, weights

ANSWER = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)
MARGIN = (0.0, 0.25, 0.5, 1.0, 1.5)
NO_MATCH = (0.05, 0.1, 0.15, 0.2, 0.3)
L2_PENALTY = 0.5  # on the weights (not the bias): keeps a rare signal from taking an extreme weight
BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0001)
WEIGHTS_PATH = Path(weights.__file__)


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


# --- the regression -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One tuning question: the features of each candidate and which one is right (None: none is)."""

    features: np.ndarray  # candidates x FEATURES
    right: int | None


def training_choices(retriever: Retriever, questions: Sequence[Gold]) -> list[Choice]:
    choices = []
    for gold in questions:
        if gold.ambiguous:
            continue
        ranked = retriever.signals(gold.text)
        rows = [[signals.features()[name] for name in scoring.FEATURES] for _, signals, _ in ranked]
        ids = [procedure_id for procedure_id, _, _ in ranked]
        right = ids.index(gold.expected) if gold.expected in ids else None
        choices.append(Choice(np.array(rows, dtype=float).reshape(len(rows), len(scoring.FEATURES)), right))
    return choices


def negative_log_likelihood(params: np.ndarray, choices: Sequence[Choice]) -> tuple[float, np.ndarray]:
    """Of the conditional logit in `scoring.probabilities` (bias first), with an L2 penalty; and its
    gradient."""
    bias, w = params[0], params[1:]
    loss = L2_PENALTY * float(w @ w)
    grad = np.concatenate([[0.0], 2 * L2_PENALTY * w])
    for choice in choices:
        if not len(choice.features):
            continue
        z = bias + choice.features @ w
        top = max(0.0, float(z.max()))
        exps = np.exp(z - top)
        total = np.exp(-top) + exps.sum()
        p = exps / total
        loss += top + np.log(total) - (z[choice.right] if choice.right is not None else 0.0)
        grad[0] += p.sum() - (choice.right is not None)
        grad[1:] += choice.features.T @ p
        if choice.right is not None:
            grad[1:] -= choice.features[choice.right]
    return loss, grad


def fit_weights(choices: Sequence[Choice]) -> tuple[float, dict[str, float]]:
    """Maximum likelihood with each weight's sign fixed by its meaning (evidence never lowers a score)."""
    from scipy.optimize import minimize  # rasa's dependency (via scikit-learn); slow to import

    bounds = [(None, None)] + [
        scoring.PRIOR_BOUNDS.get(name, (None, 0.0) if name in scoring.NEGATIVE_FEATURES else (0.0, None))
        for name in scoring.FEATURES
    ]
    # A feature added since the last fit starts at 0.
    start = np.array([weights.BIAS, *(weights.WEIGHTS.get(name, 0.0) for name in scoring.FEATURES)],
                     dtype=float)
    low = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    high = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    start = np.clip(start, low, high)  # L-BFGS-B wants a feasible start
    result = minimize(negative_log_likelihood, start, args=(choices,), jac=True, method="L-BFGS-B",
                      bounds=bounds, options={"maxiter": 2000})
    if not result.success:
        raise RuntimeError(f"the fit did not converge: {result.message}")
    fitted = {name: round(float(w), 4) for name, w in zip(scoring.FEATURES, result.x[1:], strict=True)}
    return round(float(result.x[0]), 4), fitted


def use_weights(bias: float, fitted: dict[str, float]) -> None:
    weights.BIAS, weights.WEIGHTS = bias, fitted


def search_thresholds(retriever: Retriever, questions: Sequence[Gold]) -> list[tuple[float, ...]]:
    """(top-1, answer, margin, no-match), best first; ties prefer the higher thresholds."""
    results = []
    for answer, margin, no_match in itertools.product(ANSWER, MARGIN, NO_MATCH):
        if no_match >= answer:
            continue
        set_thresholds(answer, margin, no_match)
        results.append((score(retriever, questions), answer, margin, no_match))
    results.sort(reverse=True)
    return results


# --- calibration ----------------------------------------------------------------------------------


def reliability(retriever: Retriever, questions: Sequence[Gold]) -> list[tuple[str, int, float, float]]:
    """Per score bucket of the best candidate: (bucket, questions, mean score, share where it is right).

    "Right" means the best candidate is the expected procedure (never, for a no-match question);
    ambiguous questions are left out, as in the fit.
    """
    pairs = []
    for gold in questions:
        if gold.ambiguous:
            continue
        ranked = retriever.signals(gold.text)
        best = ranked[0] if ranked else None
        probability = best[2] if best else 0.0
        pairs.append((probability, best is not None and best[0] == gold.expected))
    table = []
    for low, high in itertools.pairwise(BUCKETS):
        inside = [(p, ok) for p, ok in pairs if low <= p < high]
        if inside:
            label = f"{low:.1f}-{min(high, 1.0):.1f}"
            table.append((label, len(inside), float(np.mean([p for p, _ in inside])),
                          float(np.mean([ok for _, ok in inside]))))
    return table


def write_weights(path: Path, bias: float, fitted: dict[str, float], thresholds: tuple[float, ...]) -> None:
    answer, margin, no_match = thresholds
    text = (
        '"""Generated by `python -m eval.tune_thresholds --write`: do not edit by hand.\n\n'
        "Logistic-regression weights of the signals in knowledge/scoring.py (FEATURES), fitted on the\n"
        'even-numbered questions of eval/questions.yml, and the decision thresholds chosen on them.\n"""\n\n'
        f"BIAS = {bias!r}\n"
        f"WEIGHTS = {pprint.pformat(fitted, sort_dicts=False, width=100)}\n"
        f"ANSWER_THRESHOLD = {answer!r}\n"
        f"MIN_LOGIT_MARGIN = {margin!r}\n"
        f"NO_MATCH_THRESHOLD = {no_match!r}\n"
    )
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the result to {WEIGHTS_PATH}")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    questions = load_questions()
    tune, held_out = questions[0::2], questions[1::2]
    retriever = Retriever.build(KnowledgeBase.load())

    bias, fitted = fit_weights(training_choices(retriever, tune))
    use_weights(bias, fitted)
    print(f"fitted on {len(tune)} tuning questions: bias {bias}")
    for name, weight in fitted.items():
        print(f"  {name:22s} {weight:8.4f}")

    results = search_thresholds(retriever, tune)
    print("tuning-half top-1  answer  margin  no-match")
    for accuracy, answer, margin, no_match in results[:10]:
        print(f"{accuracy:17.1%}  {answer:6.2f}  {margin:6.2f}  {no_match:8.2f}")
    best = results[0][1:]
    set_thresholds(*best)
    print(f"chosen: answer {best[0]}, margin {best[1]}, no-match {best[2]}")
    print(f"top-1 (retriever alone): tuning half {score(retriever, tune):.1%}, "
          f"held-out half {score(retriever, held_out):.1%}")

    print("reliability on the held-out half (best candidate's score vs how often it is right):")
    print("score bucket  questions  mean score  observed")
    for label, count, predicted, observed in reliability(retriever, held_out):
        print(f"{label:12s}  {count:9d}  {predicted:10.1%}  {observed:8.1%}")
    if args.write:
        write_weights(WEIGHTS_PATH, bias, fitted, best)
        print(f"wrote {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
