"""A conversation through the REST channel of the real system (Rasa, action server, web app)."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

pytestmark = pytest.mark.e2e

SERVICE_UNAVAILABLE = "service_unavailable"
PROCEDURE = "md2-operating-record-change"


@pytest.fixture
def sender(request: pytest.FixtureRequest) -> str:
    return f"e2e-{os.getpid()}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)


def test_start_up_is_clean_and_healthy(system):
    start_up = system.output().split("Chuishao is up")[0]
    assert not [line for line in start_up.splitlines() if "Traceback" in line or " ERROR " in line]

    health = httpx.get(f"{system.bot_url}/health", timeout=10).json()
    assert health["status"] == "ok", health
    assert health["services"]["rasa"]["ok"] and health["services"]["action_server"]["ok"]


def test_procedure_question_gets_a_procedure_answer(system, sender):
    mark = system.mark()
    reply = system.send(sender, "二类医疗器械备案证变更法人")

    assert reply.status == 200
    answer = reply.payload("procedure_answer")
    assert answer["procedure"]["id"] == PROCEDURE
    assert reply.texts
    assert not reply.payloads(SERVICE_UNAVAILABLE)
    assert system.problems_since(mark) == []


def test_follow_up_answers_materials_of_the_same_procedure(system, sender):
    mark = system.mark()
    system.send(sender, "二类医疗器械备案证变更法人")
    reply = system.send(sender, "要带什么材料？")

    answer = reply.payload("procedure_answer")
    assert answer["procedure"]["id"] == PROCEDURE
    assert answer["aspect"] == "materials"
    assert reply.texts
    assert system.problems_since(mark) == []


def test_vague_question_gets_a_clarification(system, sender):
    mark = system.mark()
    reply = system.send(sender, "我想变更法人")

    clarify = reply.payload("clarify")
    assert len(clarify["candidates"]) >= 2
    assert all(candidate["id"] and candidate["name"] for candidate in clarify["candidates"])
    assert system.problems_since(mark) == []


def test_out_of_scope_question_gets_a_sensible_answer(system, sender):
    mark = system.mark()
    reply = system.send(sender, "今天天气怎么样")

    assert reply.status == 200
    assert reply.texts
    assert not reply.payloads("procedure_answer")
    assert not reply.payloads(SERVICE_UNAVAILABLE)
    assert system.problems_since(mark) == []


@pytest.mark.parametrize(
    "message",
    [
        "",
        "我想咨询一下办理流程" * 500,  # 5,000 characters
        "😀😀😀",
        "hello how are you",
        "' OR 1=1; DROP TABLE users; --",
        "<script>alert(1)</script>",
    ],
    ids=["empty", "5000-chars", "emoji", "english", "sql", "html"],
)
def test_odd_input_gets_a_reply_and_logs_no_error(system, sender, message):
    mark = system.mark()
    reply = system.send(sender, message)

    assert reply.status == 200, reply.body
    assert reply.texts, reply.body
    assert not reply.payloads(SERVICE_UNAVAILABLE), reply.body
    if len(message) > 2000:
        assert "前2000字" in reply.texts[0]  # the truncation note comes first
    assert system.problems_since(mark) == []


def test_malformed_request_gets_400_with_a_chinese_reason(system):
    answer = httpx.post(f"{system.rasa_url}/webhooks/rest/webhook", content=b"{not json", timeout=10)
    assert answer.status_code == 400
    assert "JSON" in answer.json()["error"] and "请求体" in answer.json()["error"]


# Runs last in this module: it leaves Rasa's error log of the failed action behind.
def test_frozen_action_server_gets_a_polite_answer_within_5_seconds(system, sender):
    actions = system.child("actions")
    os.killpg(actions.pid, signal.SIGSTOP)  # alive but silent: the worst case for Rasa's 300 s default
    try:
        reply = system.send(sender, "二类医疗器械备案证变更法人")
    finally:
        os.killpg(actions.pid, signal.SIGCONT)

    assert reply.status == 200
    assert reply.seconds < 5
    assert reply.payloads(SERVICE_UNAVAILABLE) == [{"type": SERVICE_UNAVAILABLE}]
    assert any("12345" in text for text in reply.texts)

    # The action server is back: the next question is answered as usual.
    again = system.send(f"{sender}-after", "二类医疗器械备案证变更法人")
    assert again.payload("procedure_answer")["procedure"]["id"] == PROCEDURE
    assert system.process.poll() is None  # a paused child is not a dead one: the runner kept going
