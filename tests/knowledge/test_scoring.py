import math

import pytest

from knowledge import scoring, weights
from knowledge.scoring import Signals, probabilities


def test_one_candidate_gets_its_logistic_probability() -> None:
    assert probabilities([]) == []
    assert probabilities([0.0]) == [0.5]
    assert probabilities([1.0])[0] == pytest.approx(1 / (1 + math.exp(-1)))
    assert probabilities([-1000.0])[0] < 1e-300 and probabilities([1000.0]) == [1.0]
    values = [probabilities([x / 4])[0] for x in range(-40, 40)]
    assert values == sorted(values)


def test_close_candidates_share_the_probability() -> None:
    """Two equally good candidates cannot both be likely: each gets less than either alone."""
    alone = probabilities([3.0])[0]
    pair = probabilities([3.0, 3.0])
    assert pair[0] == pair[1] < alone and sum(pair) < 1
    assert probabilities([3.0, -2.0])[0] == pytest.approx(alone, abs=0.01)


def test_every_feature_has_a_fitted_weight() -> None:
    assert set(weights.WEIGHTS) == set(scoring.FEATURES) == set(Signals().features())
    for name in scoring.NEGATIVE_FEATURES:
        assert weights.WEIGHTS[name] <= 0, name
    assert all(weights.WEIGHTS[name] >= 0 for name in set(scoring.FEATURES) - scoring.NEGATIVE_FEATURES)


def test_thresholds_are_ordered() -> None:
    assert 0 < scoring.NEAR_MISS_FLOOR < scoring.NO_MATCH_THRESHOLD < scoring.ANSWER_THRESHOLD < 1
    # A margin of 0 is allowed: two candidates only their wording tells apart are asked about anyway.
    assert scoring.MIN_LOGIT_MARGIN >= 0 and scoring.CLARIFY_LOGIT_WINDOW >= scoring.MIN_LOGIT_MARGIN


def test_no_evidence_is_no_match() -> None:
    assert probabilities([Signals().logit])[0] < scoring.NO_MATCH_THRESHOLD
    assert probabilities([Signals(bm25_rel=1.0, new_prior=True).logit])[0] < scoring.NO_MATCH_THRESHOLD


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
def test_no_positive_signal_lowers_the_score(change: dict) -> None:
    """The fit may find a signal redundant (weight 0), never evidence against."""
    base = Signals(coverage=0.5, bm25_rel=0.5)
    assert Signals(**{**vars(base), **change}).logit >= base.logit


def test_the_main_signals_raise_the_score() -> None:
    base = Signals(coverage=0.5, bm25_rel=0.5)
    for change in ({"coverage": 1.0}, {"phrase": "x"}, {"entity": True}, {"action": 1.0}, {"change_item": 1}):
        assert Signals(**{**vars(base), **change}).logit > base.logit + 0.3, change


def test_contradictions_lower_the_score() -> None:
    base = Signals(coverage=1.0, bm25_rel=1.0, phrase="x")
    same_class = Signals(**{**vars(base), "licence_class": 1})
    assert Signals(**{**vars(base), "licence_class": -1}).logit < same_class.logit - 0.5
    assert Signals(**{**vars(base), "action": -1.0}).logit < base.logit
    assert Signals(**{**vars(base), "change_item": -1}).logit < base.logit
    assert Signals(**{**vars(base), "phrase_partial": True}).logit < base.logit


def test_as_dict_carries_the_logit() -> None:
    values = Signals(coverage=0.5).as_dict()
    assert values["logit"] == pytest.approx(Signals(coverage=0.5).logit, abs=1e-4)
    assert values["coverage"] == 0.5
