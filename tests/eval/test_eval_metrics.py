"""The evaluation metrics on small cases computed by hand."""

import pytest

from eval.data import spread_sample
from eval.metrics import (
    Gold,
    Prediction,
    clarify_rate,
    dialogue_success_rate,
    is_top1_correct,
    is_top3_correct,
    is_turn_correct,
    no_match_precision,
    no_match_recall,
    percentile,
    summarize,
    top1_accuracy,
    top3_accuracy,
    turn_accuracy,
)


def answer(pid, *others, aspect=None):
    return Prediction(kind="answer", procedure=pid, candidates=tuple(others), aspect=aspect)


def clarify(*ids):
    return Prediction(kind="clarify", candidates=tuple(ids))


HANDOFF = Prediction(kind="handoff")
NONE = Prediction(kind="none")
ERROR = Prediction(kind="error", note="HTTP 500")

# (gold, prediction, top-1 right, top-3 right)
CASES = [
    (Gold("q1", expected="a"), answer("a"), True, True),
    (Gold("q2", expected="a"), clarify("b", "a"), False, True),
    (Gold("q3", expected="a"), answer("b", "c", "d", "a"), False, False),  # "a" is 4th
    (Gold("q4", expected=None), HANDOFF, True, True),
    (Gold("q5", expected=None), clarify("a", "b"), True, True),  # no procedure answer given
    (Gold("q6", expected=None), answer("a"), False, False),
    (Gold("q7", ambiguous=True, acceptable=("a", "b")), clarify("b", "c"), True, True),
    (Gold("q8", ambiguous=True, acceptable=("a", "b")), answer("a"), False, True),
    (Gold("q9", expected="a"), NONE, False, False),
    (Gold("q10", expected="a"), ERROR, False, False),
]
PAIRS = [(g, p) for g, p, _, _ in CASES]


@pytest.mark.parametrize(("gold", "pred", "top1", "top3"), CASES, ids=[g.text for g, *_ in CASES])
def test_each_case(gold, pred, top1, top3):
    assert is_top1_correct(gold, pred) is top1
    assert is_top3_correct(gold, pred) is top3


def test_aggregates_by_hand():
    assert top1_accuracy(PAIRS) == pytest.approx(4 / 10)  # q1 q4 q5 q7
    assert top3_accuracy(PAIRS) == pytest.approx(6 / 10)  # + q2 q8
    assert clarify_rate([p for _, p in PAIRS]) == pytest.approx(3 / 10)  # q2 q5 q7
    # predicted no match: q4 (handoff, right) and q9 (none, wrong); q10's error is not a prediction
    assert no_match_precision(PAIRS) == pytest.approx(1 / 2)
    # no-match questions q4 q5 q6; only q4 got a no-match reply (q5 was a clarification)
    assert no_match_recall(PAIRS) == pytest.approx(1 / 3)


def test_summary():
    summary = summarize(PAIRS)
    assert summary["n"] == 10
    assert summary["errors"] == 1
    assert summary["top1_by_group"] == {
        "procedure": pytest.approx(1 / 5),  # q1 q2 q3 q9 q10
        "no_match": pytest.approx(2 / 3),  # q4 q5 q6
        "ambiguous": pytest.approx(1 / 2),  # q7 q8
    }


def test_top_k_is_a_parameter():
    gold = Gold("q", expected="a")
    assert not is_top3_correct(gold, answer("b", "c", "d", "a"))
    assert is_top3_correct(gold, answer("b", "c", "d", "a"), k=4)


def test_undefined_metrics_are_none():
    assert top1_accuracy([]) is None
    assert clarify_rate([]) is None
    assert no_match_precision([(Gold("q", expected="a"), answer("a"))]) is None
    assert no_match_recall([(Gold("q", expected="a"), answer("a"))]) is None


def test_turns():
    materials = Gold("要带什么材料", expected="a", aspect="materials")
    assert is_turn_correct(materials, answer("a", aspect="materials"))
    assert not is_turn_correct(materials, answer("a", aspect="fee"))
    assert not is_turn_correct(materials, answer("b", aspect="materials"))
    assert is_turn_correct(Gold("x", expected="a"), answer("a", aspect="fee"))  # no aspect stated
    assert is_turn_correct(Gold("谢谢", expected=None), NONE)
    assert is_turn_correct(Gold("我想变更法人", ambiguous=True, acceptable=("a", "b")), clarify("a", "b"))

    dialogue_ok = [(materials, answer("a", aspect="materials")), (Gold("y", expected=None), HANDOFF)]
    dialogue_bad = [(materials, answer("a", aspect="steps"))]
    assert turn_accuracy(dialogue_ok + dialogue_bad) == pytest.approx(2 / 3)
    assert dialogue_success_rate([dialogue_ok, dialogue_bad]) == pytest.approx(1 / 2)


def test_percentile_interpolates_like_numpy():
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_prediction_invariants():
    with pytest.raises(ValueError):
        Prediction(kind="answer")
    with pytest.raises(ValueError):
        Prediction(kind="clarify", procedure="a")
    with pytest.raises(ValueError):
        Prediction(kind="maybe")
    assert answer("a", "b").ranked == ("a", "b")
    assert clarify("b", "c").ranked == ("b", "c")


def test_spread_sample_covers_the_whole_list():
    items = list(range(10))
    assert spread_sample(items, 3) == [0, 3, 6]
    assert spread_sample(items, None) == items
    assert spread_sample(items, 50) == items
    assert spread_sample(items, 0) == []
