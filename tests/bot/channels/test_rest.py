"""Chuishao's REST channel with a fake Rasa (`on_new_message`) behind it."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

import httpx
import pytest
import rasa.core.actions.action as rasa_action
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response

from bot import texts
from bot.channels.rest import (
    ChuishaoRestInput,
    InvalidWebhookRequest,
    parse_webhook_request,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
CJK = re.compile(r"[\u4e00-\u9fff]")
_app_numbers = itertools.count()

SENDER_MISSING = texts.ERROR_SENDER_MISSING.format(max_len=128)
SENDER_INVALID = texts.ERROR_SENDER_INVALID.format(max_len=128)
CHANNEL_INVALID = texts.ERROR_INPUT_CHANNEL_INVALID.format(max_len=64)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class FakeRasa:
    """Stands in for Rasa's agent: records each message and runs a scripted behaviour."""

    def __init__(self, behaviour: Callable[[UserMessage], Awaitable[None]] | None = None) -> None:
        self.messages: List[UserMessage] = []
        self.finished = asyncio.Event()
        self.behaviour = behaviour or self.echo

    @staticmethod
    async def echo(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        try:
            await self.behaviour(message)
        finally:
            self.finished.set()


@pytest.fixture(autouse=True)
def keep_rasa_action_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test does to RemoteAction's timeout and response validation is undone afterwards."""
    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", rasa_action.DEFAULT_REQUEST_TIMEOUT)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)


@pytest.fixture
def webhook(serve):
    """`async with webhook(fake, channel) as url:` serves the channel as Rasa does, at /webhooks/rest."""

    def make(fake: OnNewMessage, channel: ChuishaoRestInput | None = None):
        channel = channel or ChuishaoRestInput(reply_deadline_seconds=1.0, max_message_chars=50)
        app = Sanic(f"test_rest_{next(_app_numbers)}")
        app.blueprint(channel.blueprint(fake), url_prefix=f"/webhooks/{channel.url_prefix()}")
        return serve(app)

    return make


async def post(url: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{url}/webhooks/rest/webhook", content=content)


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", texts.ERROR_BODY_NOT_JSON),
        (b"{not json", texts.ERROR_BODY_NOT_JSON),
        (b"\xff\xfe\x00garbage", texts.ERROR_BODY_NOT_JSON),
        (b'{"sender": "a", "message": NaN}', texts.ERROR_BODY_NOT_JSON),
        (b"null", texts.ERROR_BODY_NOT_JSON),
        (b'["sender", "message"]', texts.ERROR_BODY_NOT_OBJECT),
        (b'"hello"', texts.ERROR_BODY_NOT_OBJECT),
        ('{"message": "你好"}'.encode(), SENDER_MISSING),
        ('{"sender": 42, "message": "你好"}'.encode(), SENDER_INVALID),
        ('{"sender": "", "message": "你好"}'.encode(), SENDER_INVALID),
        ('{"sender": "   ", "message": "你好"}'.encode(), SENDER_INVALID),
        (json.dumps({"sender": "x" * 129, "message": "你好"}).encode(), SENDER_INVALID),
        ('{"sender": "用户 1", "message": "你好"}'.encode(), SENDER_INVALID),
        ('{"sender": "a/b?c#d%20", "message": "你好"}'.encode(), SENDER_INVALID),
        (b'{"sender": "a"}', texts.ERROR_MESSAGE_MISSING),
        (b'{"sender": "a", "message": null}', texts.ERROR_MESSAGE_MISSING),
        (b'{"sender": "a", "message": 5}', texts.ERROR_MESSAGE_INVALID),
        (b'{"sender": "a", "message": ["hi"]}', texts.ERROR_MESSAGE_INVALID),
        (b'{"sender": "a", "message": "hi", "metadata": [1]}', texts.ERROR_METADATA_INVALID),
        (b'{"sender": "a", "message": "hi", "metadata": "x"}', texts.ERROR_METADATA_INVALID),
        (b'{"sender": "a", "message": "hi", "input_channel": 3}', CHANNEL_INVALID),
        (b'{"sender": "a", "message": "hi", "input_channel": "we chat"}', CHANNEL_INVALID),
    ],
)
def test_malformed_requests_are_refused_with_a_chinese_reason(body: bytes, reason: str):
    with pytest.raises(InvalidWebhookRequest) as refused:
        parse_webhook_request(body, default_channel="rest", max_message_chars=2000)
    assert refused.value.reason == reason
    assert refused.value.status == 400
    assert CJK.search(reason)


def test_a_valid_request_is_parsed():
    parsed = parse_webhook_request(
        json.dumps(
            {"sender": "u1", "message": " 开饭店要什么证？ ", "metadata": {"a": 1}, "input_channel": "wechat"}
        ).encode(),
        default_channel="rest",
        max_message_chars=2000,
    )
    assert (parsed.sender, parsed.message, parsed.metadata, parsed.input_channel) == (
        "u1",
        "开饭店要什么证？",
        {"a": 1},
        "wechat",
    )
    assert not parsed.truncated


def test_a_huge_body_is_refused():
    body = json.dumps({"sender": "a", "message": "字" * 200_000}).encode()
    with pytest.raises(InvalidWebhookRequest) as refused:
        parse_webhook_request(body, default_channel="rest", max_message_chars=2000)
    assert refused.value.status == 413


async def test_malformed_body_gets_http_400_with_reason(webhook):
    fake = FakeRasa()
    async with webhook(fake) as url:
        answer = await post(url, b"{oops")
        wrong_type = await post(url, {"sender": 1, "message": "你好"})

    assert answer.status_code == 400
    assert answer.json() == {"error": texts.ERROR_BODY_NOT_JSON}
    assert wrong_type.status_code == 400
    assert CJK.search(wrong_type.json()["error"])
    assert fake.messages == []


# -- replies ------------------------------------------------------------------------------------


async def test_normal_reply_passes_through(webhook):
    async def answer(message: UserMessage) -> None:
        out = message.output_channel
        await out.send_text_message(message.sender_id, "食品经营许可证由市行政审批服务局办理。")
        await out.send_custom_json(message.sender_id, {"type": "procedure_answer", "aspect": "overview"})

    fake = FakeRasa(answer)
    async with webhook(fake) as url:
        reply = await post(url, {"sender": "u1", "message": "食品经营许可证怎么办"})

    assert reply.status_code == 200
    assert reply.json() == [
        {"recipient_id": "u1", "text": "食品经营许可证由市行政审批服务局办理。"},
        {"recipient_id": "u1", "custom": {"type": "procedure_answer", "aspect": "overview"}},
    ]
    assert fake.messages[0].text == "食品经营许可证怎么办"


@pytest.mark.parametrize("body_channel, expected", [(None, "rest"), ("", "rest"), ("wechat", "wechat")])
async def test_input_channel_and_metadata_are_honoured(webhook, body_channel, expected):
    fake = FakeRasa()
    body: Dict[str, Any] = {"sender": "u2", "message": "你好", "metadata": {"openid": "o-1"}}
    if body_channel is not None:
        body["input_channel"] = body_channel
    async with webhook(fake) as url:
        reply = await post(url, body)

    assert reply.status_code == 200
    message = fake.messages[0]
    assert message.input_channel == expected
    assert message.metadata == {"openid": "o-1"}
    assert message.sender_id == "u2"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
async def test_empty_message_gets_a_prompt_without_bothering_rasa(webhook, text):
    fake = FakeRasa()
    async with webhook(fake) as url:
        reply = await post(url, {"sender": "u3", "message": text})

    assert reply.status_code == 200
    assert reply.json() == [{"recipient_id": "u3", "text": texts.EMPTY_MESSAGE}]
    assert fake.messages == []


async def test_long_message_is_truncated_with_a_note(webhook):
    fake = FakeRasa()
    async with webhook(fake) as url:  # the fixture's channel keeps 50 characters
        reply = await post(url, {"sender": "u4", "message": "办" * 120})

    assert reply.status_code == 200
    note, echo = reply.json()
    assert note == {"recipient_id": "u4", "text": texts.TRUNCATED_MESSAGE.format(length=120, limit=50)}
    assert fake.messages[0].text == "办" * 50
    assert echo["text"] == f"收到：{'办' * 50}"


# -- failures -----------------------------------------------------------------------------------


def assert_service_unavailable(message: Dict[str, Any], sender: str) -> None:
    assert message == {
        "recipient_id": sender,
        "text": texts.SERVICE_UNAVAILABLE,
        "custom": {"type": "service_unavailable"},
    }
    assert "12345" in message["text"]


async def test_deadline_passed_answers_politely_in_time_and_keeps_processing(webhook):
    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(2)
        await message.output_channel.send_text_message(message.sender_id, "迟到的回答")

    fake = FakeRasa(slow)
    channel = ChuishaoRestInput(reply_deadline_seconds=0.5)
    async with webhook(fake, channel) as url:
        started = time.monotonic()
        reply = await post(url, {"sender": "u5", "message": "你好"})
        elapsed = time.monotonic() - started

        assert reply.status_code == 200
        assert elapsed < 1.5
        [message] = reply.json()
        assert_service_unavailable(message, "u5")
        assert not fake.finished.is_set()
        # The turn goes on in the background, so the tracker gets the whole turn.
        await asyncio.wait_for(fake.finished.wait(), timeout=5)
        await asyncio.sleep(0)
        assert not channel._background


async def test_what_was_said_before_the_deadline_is_kept(webhook):
    async def half(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "正在为您查询……")
        await asyncio.sleep(2)

    channel = ChuishaoRestInput(reply_deadline_seconds=0.3)
    async with webhook(FakeRasa(half), channel) as url:
        reply = await post(url, {"sender": "u6", "message": "你好"})

    first, second = reply.json()
    assert first == {"recipient_id": "u6", "text": "正在为您查询……"}
    assert_service_unavailable(second, "u6")


async def test_nothing_collected_answers_politely(webhook):
    async def silent(message: UserMessage) -> None:
        return None  # as when the action server failed and Rasa swallowed the error

    async with webhook(FakeRasa(silent)) as url:
        reply = await post(url, {"sender": "u7", "message": "要带什么材料？"})

    assert reply.status_code == 200
    [message] = reply.json()
    assert_service_unavailable(message, "u7")


async def test_rasa_failure_answers_politely_and_is_logged(webhook, caplog):
    async def broken(message: UserMessage) -> None:
        raise RuntimeError("tracker store down")

    caplog.set_level(logging.ERROR, logger="bot.channels.rest")
    async with webhook(FakeRasa(broken)) as url:
        reply = await post(url, {"sender": "u8", "message": "你好"})

    assert reply.status_code == 200
    [message] = reply.json()
    assert_service_unavailable(message, "u8")
    assert "tracker store down" in caplog.text


async def test_rest_health_route_is_kept(webhook):
    async with webhook(FakeRasa()) as url, httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/webhooks/rest/")
    assert answer.json() == {"status": "ok"}


async def test_streaming_still_works_and_carries_the_note(webhook):
    fake = FakeRasa()
    async with webhook(fake) as url, httpx.AsyncClient() as client:
        answer = await client.post(
            f"{url}/webhooks/rest/webhook?stream=true",
            content=json.dumps({"sender": "u9", "message": "长" * 60}),
        )
    lines = [json.loads(line) for line in answer.text.splitlines() if line]
    assert lines[0]["text"] == texts.TRUNCATED_MESSAGE.format(length=60, limit=50)
    assert lines[1]["text"] == f"收到：{'长' * 50}"


# -- Rasa integration: credentials.yml, settings, RemoteAction timeout --------------------------------


def test_credentials_file_registers_the_channel_with_settings(monkeypatch: pytest.MonkeyPatch):
    from rasa.core.run import create_http_input_channels

    monkeypatch.setenv("CHUISHAO_ENV", "test")
    monkeypatch.setenv("RASA_API_TOKEN", "test-token")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "internal-test-token")
    monkeypatch.setenv("REPLY_DEADLINE_SECONDS", "3.5")
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "500")

    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [channel] = [c for c in channels if isinstance(c, ChuishaoRestInput)]

    assert channel.url_prefix() == "rest"  # so the URL stays /webhooks/rest/webhook
    assert channel.reply_deadline_seconds == 3.5
    assert channel.max_message_chars == 500
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 2.0


def test_importing_the_channel_changes_nothing_in_rasa():
    code = "import bot.channels.rest, rasa.core.actions.action as a; print(a.DEFAULT_REQUEST_TIMEOUT)"
    printed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    ).stdout
    assert printed.strip() == "300"


async def test_remote_action_gives_up_after_the_action_timeout(serve):
    hanging = Sanic(f"test_hanging_actions_{next(_app_numbers)}")

    @hanging.post("/webhook")
    async def webhook(request):
        await asyncio.sleep(10)
        return response.json({"events": [], "responses": []})

    ChuishaoRestInput(action_timeout_seconds=0.5)
    tracker = DialogueStateTracker("u10", slots=[])
    action = None
    async with serve(hanging) as url:
        action = RemoteAction("action_answer_procedure", EndpointConfig(f"{url}/webhook"))
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await action.run(
                CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, Domain.empty()
            )
        elapsed = time.monotonic() - started

    assert elapsed < 2


# -- paused conversations (a member of staff has the case) ---------------------------------------------


async def test_paused_conversation_gets_a_short_note_instead_of_service_unavailable(webhook):
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.events import ConversationPaused, UserUttered

    store = InMemoryTrackerStore(Domain.empty())
    paused = DialogueStateTracker("u11", slots=[])
    paused.update(ConversationPaused())
    await store.save(paused)

    async def record_only(message: UserMessage) -> None:
        # What Rasa does while paused: record the message, predict nothing.
        tracker = await store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text))
        await store.save(tracker)

    fake = FakeRasa(record_only)
    channel = ChuishaoRestInput(reply_deadline_seconds=1.0)
    app = Sanic(f"test_rest_paused_{next(_app_numbers)}")
    app.ctx.agent = type("Agent", (), {"tracker_store": store})()
    app.blueprint(channel.blueprint(fake), url_prefix="/webhooks/rest")
    from tests.bot.conftest import serving

    async with serving(app) as url:
        paused_reply = await post(url, {"sender": "u11", "message": "请问处理到哪一步了？"})
        other_reply = await post(url, {"sender": "u12", "message": "你好"})

    assert paused_reply.status_code == 200
    assert paused_reply.json() == [
        {"recipient_id": "u11", "text": texts.HANDOFF_PAUSED, "custom": {"type": "handoff_paused"}}
    ]
    # A conversation that is not paused and got no answer still hears that the service is busy.
    [message] = other_reply.json()
    assert_service_unavailable(message, "u12")
    # The user's message was kept for the staff.
    tracker = await store.retrieve("u11")
    assert tracker.latest_message.text == "请问处理到哪一步了？"
