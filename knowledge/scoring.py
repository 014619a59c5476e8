"""Signals of one candidate, their fitted weights, the score in 0..1 and the decision thresholds.

The score is a logistic regression over the signals, conditional on the other candidates of the
same message: P(this candidate is the procedure the message asks about). `python -m
eval.tune_thresholds --write` fits the weights on the even-numbered questions of eval/questions.yml,
grid-searches the decision thresholds on the same half and writes both into knowledge/weights.py;
the odd-numbered half is the held-out check (its reliability table is printed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge import weights

# --- decision thresholds (on the calibrated score, 0..1) ------------------------------------------
ANSWER_THRESHOLD = weights.ANSWER_THRESHOLD  # answer only above this ...
MIN_LOGIT_MARGIN = weights.MIN_LOGIT_MARGIN  # ... and when the best beats the runner-up by this (log odds)
# Below this nothing is offered (for a generic question: the close candidates' summed scores).
NO_MATCH_THRESHOLD = weights.NO_MATCH_THRESHOLD
CLARIFY_LOGIT_WINDOW = 3.0  # a clarification offers the candidates this close to the best (log odds) ...
OFFER_FLOOR = 0.05  # ... whose score is at least this
NEAR_MISS_FLOOR = 0.01  # candidates listed (for debugging) with a no_match

# --- retrieval ------------------------------------------------------------------------------------
BM25_CANDIDATES = 30  # BM25 hits re-ranked per query; name/alias/entity hits are always added

# The features of the regression (the keys of weights.WEIGHTS); `Signals.features` computes them.
FEATURES = (
    "coverage",  # share of the message's content bigrams found in the procedure's names/licence/items
    "residual_coverage",  # the same for the residual: the content without action and change-item words
    "phrase_coverage",  # share of the best-matching name/alias's bigrams found in the message
    "bm25_rel",  # BM25 relative to the best BM25 score of this query
    "bm25_x_coverage",  # ... times the coverage: orders candidates without lifting a message matching nothing
    "named",  # a name/alias of the procedure is in the message, or the NLU tagged it
    "named_partial",  # ... or only inside a longer name/alias of another procedure
    "licence",  # the procedure's licence is named in the message or by an NLU entity
    "department",  # its department is named
    "action_match",  # x action strength
    "action_mismatch",  # x action strength; waived when the procedure's own matched alias has the word
    "new_prior",  # no action said (x coverage): a bare name usually means getting it for the first time
    "change_item_match",
    "change_item_mismatch",  # a 变更 procedure that does not cover the item asked about
    "class_match",
    "class_mismatch",  # 三类 asked, 第二类 procedure: almost certainly wrong
    "licence_miss",  # share of the words naming a certificate in the message ("采矿许可证") it lacks
)
# Not fitted (the evaluation questions have no buttons): a procedure chosen by id wins.
W_SELECTED = 8.0
# Bounds on fitted weights where the tuning half has too few cases to learn what is certain:
# a device class other than the one asked about is almost always wrong.
PRIOR_BOUNDS = {"class_mismatch": (None, -2.0), "licence_miss": (None, -2.0)}
# The sign each weight must have: a fitted weight of the other sign is dropped (set to 0) and the rest
# refitted, so that evidence for a candidate never lowers its score.
NEGATIVE_FEATURES = frozenset({"action_mismatch", "change_item_mismatch", "class_mismatch", "licence_miss"})


@dataclass
class Signals:
    """Evidence for one candidate; `logit` combines it and `probabilities` turns logits into scores."""

    bm25: float = 0.0
    bm25_rel: float = 0.0
    coverage: float = 0.0
    residual_coverage: float = 0.0
    phrase_coverage: float = 0.0
    phrase: str = ""  # the matched name/alias (normalised), if any
    phrase_partial: bool = False
    licence: bool = False
    entity: bool = False
    selected: bool = False  # chosen by id (a clarification button)
    action: float = 0.0  # +strength match, -strength mismatch, 0 unknown
    new_prior: bool = False
    change_item: int = 0  # +1 covers the item asked about, -1 does not, 0 not applicable
    licence_class: int = 0  # +1 same class, -1 another class, 0 not applicable
    department: bool = False
    licence_miss: float = 0.0  # 0..1: how little of the certificate named in the message it matches

    def features(self) -> dict[str, float]:
        """The regression's inputs (FEATURES), all 0..1."""
        named = bool(self.entity or (self.phrase and not self.phrase_partial))
        return {
            "coverage": self.coverage,
            "residual_coverage": self.residual_coverage,
            "phrase_coverage": self.phrase_coverage,
            "bm25_rel": self.bm25_rel,
            "bm25_x_coverage": self.bm25_rel * self.coverage,
            "named": float(named),
            "named_partial": float(bool(self.phrase) and not named),
            "licence": float(self.licence),
            "department": float(self.department),
            "action_match": max(self.action, 0.0),
            "action_mismatch": max(-self.action, 0.0),
            "new_prior": float(self.new_prior) * self.coverage,
            "change_item_match": float(self.change_item > 0),
            "change_item_mismatch": float(self.change_item < 0),
            "class_match": float(self.licence_class > 0),
            "class_mismatch": float(self.licence_class < 0),
            "licence_miss": self.licence_miss,
        }

    @property
    def logit(self) -> float:
        features = self.features()
        fitted = sum(weights.WEIGHTS.get(name, 0.0) * value for name, value in features.items())
        return weights.BIAS + fitted + W_SELECTED * self.selected

    def as_dict(self) -> dict[str, float | str | bool]:
        values: dict[str, float | str | bool] = {
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()
        }
        values["logit"] = round(self.logit, 4)
        return values


def probabilities(logits: Sequence[float]) -> list[float]:
    """The score of each candidate: P(it is the procedure the message asks about).

    A conditional logit: the candidates of one message compete with each other and with "none of
    them" (logit 0), so one candidate alone keeps its logistic probability, and two close ones share
    it. The weights are fitted for exactly this (eval/tune_thresholds.py).
    """
    if not logits:
        return []
    top = max(0.0, *logits)
    exps = [math.exp(max(z - top, -700.0)) for z in logits]
    total = math.exp(-top) + sum(exps)
    return [e / total for e in exps]
