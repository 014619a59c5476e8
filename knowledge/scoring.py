"""Signals of one candidate, their weights, the calibration to 0..1 and the decision thresholds.

All tunable numbers live here. The score is a logistic over a weighted sum of signals (a hand-set
logistic regression); the weights and thresholds were checked against the labelled queries in
tests/knowledge/test_retriever.py and against the real knowledge base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# --- decision thresholds (on the calibrated score, 0..1) ------------------------------------------
# Tuned on the even-numbered questions of eval/questions.yml by `python -m eval.tune_thresholds`
# (a grid over these three; the odd-numbered half is the held-out check). Asking back costs the user
# a turn, so a clear best is answered even when its score is modest: the score is a hand-weighted
# logistic, not a calibrated probability.
ANSWER_THRESHOLD = 0.30  # answer only above this ...
MIN_LOGIT_MARGIN = 0.5  # ... and when the best beats the runner-up by this much (odds ratio e^0.5 ~ 1.6)
NO_MATCH_THRESHOLD = 0.20  # below this nothing is offered, not even a clarification
CLARIFY_LOGIT_WINDOW = 2.5  # a clarification offers the candidates this close to the best
NEAR_MISS_FLOOR = 0.05  # candidates listed (for debugging) with a no_match

# --- retrieval ------------------------------------------------------------------------------------
BM25_CANDIDATES = 30  # BM25 hits re-ranked per query; name/alias/entity hits are always added

# --- weights of the logit -------------------------------------------------------------------------
BIAS = -4.0
W_COVERAGE = 3.0  # share of the message's content bigrams found in the procedure's names/licence/items
W_RESIDUAL = 2.0  # the same for the residual: the content without action and change-item words
# BM25 relative to the best BM25 score of this query; like W_NEW_PRIOR it is multiplied by the coverage,
# so that it orders candidates without lifting a message that matches nothing (the best is always 1).
W_BM25 = 1.5
W_NAMED = 2.5  # a name/alias of the procedure is in the message, or the NLU tagged it (counted once) ...
W_NAMED_PARTIAL = 1.0  # ... or only inside a longer name/alias of another procedure
W_LICENCE = 1.0  # the procedure's licence is named in the message or by an NLU entity
W_ACTION_MATCH = 1.0  # x action strength
W_ACTION_MISMATCH = -2.0  # x action strength; waived when the procedure's own matched alias has the word
W_NEW_PRIOR = 1.5  # no action said: a bare procedure name usually means getting it for the first time
W_CHANGE_ITEM_MATCH = 0.8
W_CHANGE_ITEM_MISMATCH = -0.8  # a 变更 procedure that does not cover the item asked about
W_CLASS_MATCH = 1.0
W_CLASS_MISMATCH = -3.0  # 三类 asked, 第二类 procedure: almost certainly wrong
W_DEPARTMENT = 0.5


@dataclass
class Signals:
    """Evidence for one candidate; `logit` combines it and `calibrate(logit)` is the score."""

    bm25: float = 0.0
    bm25_rel: float = 0.0
    coverage: float = 0.0
    residual_coverage: float = 0.0
    phrase: str = ""  # the matched name/alias (normalised), if any
    phrase_partial: bool = False
    licence: bool = False
    entity: bool = False
    action: float = 0.0  # +strength match, -strength mismatch, 0 unknown
    new_prior: bool = False
    change_item: int = 0  # +1 covers the item asked about, -1 does not, 0 not applicable
    licence_class: int = 0  # +1 same class, -1 another class, 0 not applicable
    department: bool = False

    @property
    def logit(self) -> float:
        value = BIAS + W_COVERAGE * self.coverage + W_RESIDUAL * self.residual_coverage
        value += W_BM25 * self.bm25_rel * self.coverage
        if self.entity or (self.phrase and not self.phrase_partial):
            value += W_NAMED
        elif self.phrase:
            value += W_NAMED_PARTIAL
        value += W_LICENCE * self.licence + W_DEPARTMENT * self.department
        if self.action > 0:
            value += W_ACTION_MATCH * self.action
        elif self.action < 0:
            value += W_ACTION_MISMATCH * -self.action
        value += W_NEW_PRIOR * self.new_prior * self.coverage
        if self.change_item:
            value += W_CHANGE_ITEM_MATCH if self.change_item > 0 else W_CHANGE_ITEM_MISMATCH
        if self.licence_class:
            value += W_CLASS_MATCH if self.licence_class > 0 else W_CLASS_MISMATCH
        return value

    def as_dict(self) -> dict[str, float | str | bool]:
        values: dict[str, float | str | bool] = {
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()
        }
        values["logit"] = round(self.logit, 4)
        return values


def calibrate(logit: float) -> float:
    """Logistic: logit 0 -> 0.5; ANSWER_THRESHOLD 0.8 is a logit of about 1.4."""
    if logit < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-logit))
