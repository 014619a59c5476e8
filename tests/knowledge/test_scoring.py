import math

import pytest

from knowledge import scoring
from knowledge.scoring import Signals, calibrate


def test_calibration_is_a_logistic() -> None:
    assert calibrate(0) == 0.5
    assert calibrate(-1000) == 0.0 and calibrate(1000) == 1.0
    assert calibrate(1.0) == pytest.approx(1 / (1 + math.exp(-1)))
    values = [calibrate(x / 4) for x in range(-40, 40)]
    assert values == sorted(values)


def test_thresholds_are_ordered() -> None:
    assert 0 < scoring.NEAR_MISS_FLOOR < scoring.NO_MATCH_THRESHOLD < scoring.ANSWER_THRESHOLD < 1
    assert scoring.MIN_LOGIT_MARGIN > 0 and scoring.CLARIFY_LOGIT_WINDOW >= scoring.MIN_LOGIT_MARGIN


def test_no_evidence_is_no_match() -> None:
    assert calibrate(Signals().logit) < scoring.NO_MATCH_THRESHOLD
    assert calibrate(Signals(bm25_rel=1.0, new_prior=True).logit) < scoring.NO_MATCH_THRESHOLD


@pytest.mark.parametrize(
    "change",
    [
        {"coverage": 1.0},
        {"residual_coverage": 1.0},
        {"phrase": "排污许可证延续"},
        {"entity": True},
        {"licence": True},
        {"action": 1.0},
        {"change_item": 1},
        {"licence_class": 1},
        {"department": True},
    ],
)
def test_every_positive_signal_raises_the_score(change: dict) -> None:
    base = Signals(coverage=0.5, bm25_rel=0.5)
    assert Signals(**{**vars(base), **change}).logit > base.logit


def test_contradictions_lower_the_score() -> None:
    base = Signals(coverage=1.0, bm25_rel=1.0, phrase="x")
    assert Signals(**{**vars(base), "licence_class": -1}).logit < base.logit - 2
    assert Signals(**{**vars(base), "action": -1.0}).logit < base.logit
    assert Signals(**{**vars(base), "change_item": -1}).logit < base.logit
    assert Signals(**{**vars(base), "phrase_partial": True}).logit < base.logit


def test_as_dict_carries_the_logit() -> None:
    values = Signals(coverage=0.5).as_dict()
    assert values["logit"] == pytest.approx(Signals(coverage=0.5).logit, abs=1e-4)
    assert values["coverage"] == 0.5
