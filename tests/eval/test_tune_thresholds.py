from __future__ import annotations

import pytest

from eval.metrics import Gold
from eval.tune_thresholds import predict, score
from knowledge import KnowledgeBase, Retriever


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    return Retriever.build(KnowledgeBase.load())


def test_predictions_carry_the_retrievers_decision(retriever):
    answered = predict(retriever, "社保开户")
    assert answered.kind == "answer" and answered.procedure == "social-insurance-registration"
    assert predict(retriever, "今天天气怎么样").predicts_no_match
    assert predict(retriever, "我想变更法人").kind == "clarify"


def test_score_is_top1_on_the_given_questions(retriever):
    right = Gold("社保开户", expected="social-insurance-registration")
    wrong = Gold("社保开户", expected="seal-engraving-record")
    assert score(retriever, [right, wrong]) == 0.5
