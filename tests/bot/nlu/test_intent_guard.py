"""KnowledgeIntentGuard: procedure questions mistaken for small talk reach the knowledge base; real
small talk, refusals inside the forms and confident complaints or requests for a human keep their intent."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.intent_guard import KnowledgeIntentGuard
from knowledge import KnowledgeBase, Retriever


@pytest.fixture(scope="module")
def guard() -> KnowledgeIntentGuard:
    component = KnowledgeIntentGuard(KnowledgeIntentGuard.get_default_config())
    component._retriever = Retriever.build(KnowledgeBase.load())  # the real base, without build/
    return component


def parsed(
    text: str, intent: str, confidence: float = 0.95, entities: list[dict[str, Any]] | None = None,
    ranking: list[str] = (),
) -> Message:
    names = [intent, *ranking]
    return Message(data={
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": confidence / (i + 1)} for i, n in enumerate(names)],
        "entities": entities or [],
    })


def intent_after(guard: KnowledgeIntentGuard, message: Message) -> str:
    guard.process([message])
    return message.get("intent")["name"]


LICENCE = [{"entity": "licence", "value": "食品经营许可证", "start": 0, "end": 7}]


@pytest.mark.parametrize("intent", ["deny", "goodbye", "greet", "thank", "bot_challenge"])
def test_a_procedure_the_base_answers_is_asked_about(guard, intent: str) -> None:
    assert intent_after(guard, parsed("锅炉使用登记", intent)) == "ask_procedure"


def test_the_best_ranked_aspect_intent_is_kept(guard) -> None:
    message = parsed("起重机械使用登记要带啥", "goodbye", ranking=["thank", "ask_materials", "ask_fee"])
    assert intent_after(guard, message) == "ask_materials"
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "ask_materials"
    assert [r["name"] for r in ranking].count("ask_materials") == 1


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("不用了", "deny"),  # cancels the handoff form
        ("算了，营业执照我自己去办", "deny"),
        ("不是食品经营许可证的事", "deny"),
        ("谢谢，食品经营许可证办好了", "thank"),
        ("好的再见，锅炉使用登记我明天去办", "goodbye"),
        ("你好", "greet"),
        ("今天天气怎么样", "out_of_scope"),
    ],
)
def test_small_talk_keeps_its_intent(guard, text: str, intent: str) -> None:
    entities = LICENCE if "食品经营许可证" in text else []
    assert intent_after(guard, parsed(text, intent, entities=entities)) == intent


def test_out_of_scope_needs_a_name_the_base_knows(guard) -> None:
    assert intent_after(guard, parsed("我想办采砂许可证", "out_of_scope")) == "out_of_scope"
    named = parsed("食品经营许可证", "out_of_scope", entities=LICENCE)
    assert intent_after(guard, named) == "ask_procedure"


@pytest.mark.parametrize(
    ("intent", "own_words"),
    [("complain", "食品经营许可证拖了一个月，我要投诉"), ("request_human", "食品经营许可证的事帮我转人工")],
)
def test_only_an_unsure_handoff_intent_without_its_words_is_relabelled(
    guard, intent: str, own_words: str
) -> None:
    assert intent_after(guard, parsed("食品经营许可证要变更吗", intent, 0.5, LICENCE)) == "ask_procedure"
    assert intent_after(guard, parsed("食品经营许可证要变更吗", intent, 0.9, LICENCE)) == intent
    assert intent_after(guard, parsed(own_words, intent, 0.5, LICENCE)) == intent


@pytest.mark.parametrize("intent", ["inform", "affirm", "cancel", "check_ticket", "nlu_fallback"])
def test_form_and_handoff_intents_are_never_touched(guard, intent: str) -> None:
    """Inside the handoff form a company description may name a licence; the form reads the text."""
    message = parsed("菏泽某某食品有限公司，办食品经营许可证", intent, entities=LICENCE)
    assert intent_after(guard, message) == intent


def test_a_button_payload_and_a_message_naming_nothing_stay(guard) -> None:
    assert intent_after(guard, parsed("/deny", "deny")) == "deny"
    assert intent_after(guard, parsed("哈哈哈", "deny")) == "deny"


def test_a_broken_base_leaves_the_intent(monkeypatch) -> None:
    component = KnowledgeIntentGuard(KnowledgeIntentGuard.get_default_config())

    def broken() -> Retriever:
        raise OSError("knowledge/data unreadable")

    monkeypatch.setattr(component, "_load", broken)
    assert intent_after(component, parsed("锅炉使用登记", "deny")) == "deny"
