"""The action server's answers are validated as Rasa does, with the schema compiled once."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.channels.rest import precompile_action_response_schema

ANSWERS = {
    "a procedure answer": {
        "events": [
            {"event": "slot", "timestamp": None, "name": "procedure_id", "value": "scjg-001"},
            {"event": "slot", "timestamp": None, "name": "aspect", "value": "overview"},
        ],
        "responses": [
            {"text": "企业开办……", "buttons": [{"title": "材料", "payload": "/ask_materials"}],
             "custom": {"type": "procedure_answer"}},
        ],
    },
    "nothing": {},
    "no events": {"events": [], "responses": []},
    "events not a list": {"events": {"event": "slot"}, "responses": []},
    "an event without a type": {"events": [{"name": "procedure_id", "value": "x"}], "responses": []},
    "an unknown event type": {"events": [{"event": "teleport"}], "responses": []},
    "a slot event without a name": {"events": [{"event": "slot", "value": "x"}], "responses": []},
    "responses not a list": {"events": [], "responses": "你好"},
    "a response that is a string": {"events": [], "responses": ["你好"]},
}


@pytest.fixture
def rasa_validate(monkeypatch: pytest.MonkeyPatch) -> Callable[[Dict[str, Any]], bool]:
    """Rasa's own (slow) validation; the precompiled one is undone after the test."""
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    action = RemoteAction("action_answer_procedure", None)
    return lambda result: original(action, result)


def outcome(validate: Callable[[Dict[str, Any]], bool], result: Dict[str, Any]) -> str:
    try:
        validate(result)
    except ValidationError as error:
        return f"rejected: {error.message} at {list(error.absolute_path)}"
    return "accepted"


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_precompiled_validation_decides_and_explains_as_rasa_does(rasa_validate, case: str):
    expected = outcome(rasa_validate, ANSWERS[case])

    precompile_action_response_schema()
    action = RemoteAction("action_answer_procedure", None)

    assert outcome(action._validate_action_result, ANSWERS[case]) == expected
    if case in {"a procedure answer", "nothing", "no events"}:
        assert expected == "accepted"
    else:
        assert "Failed to validate Action server response" in expected


def test_precompiled_validation_is_much_faster_and_installed_once(rasa_validate):
    answer = ANSWERS["a procedure answer"]

    def per_call(validate: Callable[[Dict[str, Any]], bool]) -> float:
        started = time.perf_counter()
        for _ in range(10):
            validate(answer)
        return (time.perf_counter() - started) / 10

    slow = per_call(rasa_validate)
    precompile_action_response_schema()
    installed = RemoteAction._validate_action_result
    precompile_action_response_schema()
    assert RemoteAction._validate_action_result is installed
    action = RemoteAction("action_answer_procedure", None)
    assert per_call(action._validate_action_result) * 5 < slow
