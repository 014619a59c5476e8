"""The widget's socket.io channel, served by a real Sanic app and reached by a real socket.io client.

Rasa itself is replaced by a small `on_new_message` that answers through the channel's output, so these
tests run in seconds; tests/e2e/test_socketio_rasa.py does the same against a real `rasa run`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List

import pytest
import redis
import socketio
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot import texts
from bot.channels.socketio import (
    ChuishaoSocketIOInput,
    ChuishaoSocketIOOutput,
    bot_message,
    parse_metadata,
    session_id_or_new,
)
from bot.channels.socketio_push import SocketIOPush, staff_reply_message

REDIS_URL = "redis://127.0.0.1:6379/15"
ANSWER = {
    "text": "二类医疗器械经营备案变更需要：\n\n1. 变更申请表\n2. 法定代表人身份证明",
    "buttons": [{"title": "办理流程", "payload": "/ask_steps"}],
    "custom": {
        "type": "procedure_answer",
        "procedure": {"id": "p1", "name": "备案变更"},
        "aspect": "materials",
    },
}


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


class Client:
    """A socket.io client that records every `bot_uttered` event."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.received.put_nowait)
        self.sio.on("session_confirm", self.confirmed.put_nowait)

    async def connect(self, url: str, session_id: Any = None) -> str:
        # Long-polling: python-engineio 4.15's websocket client needs a newer aiohttp than Rasa pins
        # (aiohttp.ClientWSTimeout). The browser test covers the websocket transport the widget uses.
        await self.sio.connect(url, transports=["polling"], wait_timeout=5)
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 5)

    async def say(self, session_id: str, message: Any, **extra: Any) -> None:
        await self.sio.emit("user_uttered", {"message": message, "session_id": session_id, **extra})

    async def next(self, timeout: float = 5) -> Dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def nothing_more(self, wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        assert self.received.empty(), f"unexpected message: {self.received.get_nowait()}"

    async def close(self) -> None:
        await self.sio.disconnect()


Handler = Callable[[UserMessage], Awaitable[Any]]


@asynccontextmanager
async def widget_server(
    serve: Callable, handler: Handler, **options: Any
) -> AsyncIterator[tuple[str, ChuishaoSocketIOInput, Sanic]]:
    channel = ChuishaoSocketIOInput(**options)
    app = Sanic(f"socketio_test_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(channel.blueprint(handler), url_prefix="/webhooks/socketio")
    async with serve(app) as url:
        yield url, channel, app


@pytest.fixture
def seen() -> List[UserMessage]:
    return []


@pytest.fixture
def answering(seen: List[UserMessage]) -> Handler:
    """Stands in for Rasa: records the message and answers with one card."""

    async def handle(message: UserMessage) -> None:
        seen.append(message)
        await message.output_channel.send_response(message.sender_id, dict(ANSWER))

    return handle


async def test_a_message_is_answered_in_the_session_room_as_one_event(serve, answering, seen) -> None:
    async with widget_server(serve, answering) as (url, _, _):
        client = Client()
        session = await client.connect(url, "session-0001")
        assert session == "session-0001"
        await client.say(session, "二类医疗器械经营备案变更法人要什么材料", customData={"page": "/portal"})
        reply = await client.next()
        await client.close()
    # One event: the text whole (Rasa's channel splits it on blank lines), buttons and card payload beside it.
    assert reply == {
        "text": ANSWER["text"],
        "quick_replies": [{"content_type": "text", "title": "办理流程", "payload": "/ask_steps"}],
        "custom": ANSWER["custom"],
    }
    assert seen[0].sender_id == "session-0001"
    assert seen[0].input_channel == "socketio"
    assert seen[0].metadata == {"page": "/portal"}


async def test_a_reloaded_page_rejoins_its_conversation(serve, answering, seen) -> None:
    async with widget_server(serve, answering) as (url, channel, _):
        first = Client()
        session = await first.connect(url)  # no session yet: the server makes one
        await first.close()
        again = Client()
        assert await again.connect(url, session) == session
        # A message emitted later to the conversation (a staff reply, say) reaches the new socket.
        output = channel.get_output_channel()
        await output.send_response(session, {"text": "您好，我是市场监管局张明。"})
        assert (await again.next())["text"] == "您好，我是市场监管局张明。"
        await again.close()


async def test_a_junk_session_id_is_replaced(serve, answering) -> None:
    async with widget_server(serve, answering) as (url, _, _):
        client = Client()
        session = await client.connect(url, "../../etc<script>")
        await client.close()
    assert session != "../../etc<script>"
    assert len(session) == 32


async def test_empty_and_malformed_messages(serve, answering, seen) -> None:
    async with widget_server(serve, answering) as (url, _, _):
        client = Client()
        session = await client.connect(url, "session-0002")
        await client.say(session, "   ")
        assert (await client.next())["text"] == texts.EMPTY_MESSAGE
        await client.say(session, {"not": "text"})
        await client.sio.emit("user_uttered", ["not", "an", "object"])
        await client.sio.emit("user_uttered", {"message": "你好"})  # no session id
        await client.nothing_more()
        # Junk page context is ignored, the message is still answered.
        await client.say(session, "你好", customData="[1, 2]")
        assert (await client.next())["custom"]["type"] == "procedure_answer"
        await client.close()
    assert len(seen) == 1 and seen[0].metadata is None


async def test_a_long_message_is_truncated_with_a_note(serve, answering, seen) -> None:
    async with widget_server(serve, answering, max_message_chars=10) as (url, _, _):
        client = Client()
        session = await client.connect(url, "session-0003")
        await client.say(session, "我" * 25)
        note = await client.next()
        assert note["text"] == texts.TRUNCATED_MESSAGE.format(length=25, limit=10)
        assert (await client.next())["custom"]["type"] == "procedure_answer"
        await client.close()
    assert seen[0].text == "我" * 10


async def test_silence_gets_a_polite_message_and_a_late_answer_still_arrives(serve) -> None:
    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(0.6)
        await message.output_channel.send_response(message.sender_id, {"text": "迟到的答复"})

    async with widget_server(serve, slow, reply_deadline_seconds=0.2) as (url, _, _):
        client = Client()
        session = await client.connect(url, "session-0004")
        await client.say(session, "你好")
        busy = await client.next()
        assert busy == {"text": texts.SERVICE_UNAVAILABLE, "custom": {"type": "service_unavailable"}}
        assert (await client.next())["text"] == "迟到的答复"
        await client.close()


async def test_a_paused_conversation_gets_a_note_not_an_apology(serve) -> None:
    async def paused(message: UserMessage) -> None:
        return None  # Rasa records the message and predicts nothing while paused

    class Tracker:
        def is_paused(self) -> bool:
            return True

    class Store:
        async def retrieve(self, sender_id: str) -> Tracker:
            return Tracker()

    async with widget_server(serve, paused) as (url, _, app):
        app.ctx.agent = type("Agent", (), {"tracker_store": Store()})()
        client = Client()
        session = await client.connect(url, "session-0005")
        await client.say(session, "请问进度如何")
        note = await client.next()
        await client.close()
    assert note == {"text": texts.HANDOFF_PAUSED, "custom": {"type": "handoff_paused"}}


def test_bot_message_shapes() -> None:
    assert bot_message({"text": " 你好 ", "custom": None}) == {"text": "你好"}
    assert bot_message({"custom": {"type": "clarify", "candidates": []}}) == {
        "custom": {"type": "clarify", "candidates": []}
    }
    assert bot_message({"image": "/a.png"}) == {"image": "/a.png"}


def test_page_context_must_be_a_small_object() -> None:
    assert parse_metadata({"page": "/portal"}) == {"page": "/portal"}
    assert parse_metadata('{"page": "/portal"}') == {"page": "/portal"}
    assert parse_metadata(None) == {}
    for junk in ("[1]", 3, "not json", {"x": "长" * 5000}):
        with pytest.raises(ValueError):
            parse_metadata(junk)


def test_session_ids() -> None:
    assert session_id_or_new({"session_id": "abcdef12"}) == "abcdef12"
    assert session_id_or_new({"session_id": "short"}) != "short"
    assert session_id_or_new(None) != session_id_or_new(None)


class Recorder:
    def __init__(self) -> None:
        self.calls: List[tuple] = []

    async def emit(self, event: str, data: Any = None, **kwargs: Any) -> None:
        self.calls.append((event, data, kwargs["room"]))


async def test_output_channel_custom_json_is_wrapped_not_spread() -> None:
    """Rasa's own channel calls emit(**payload), which breaks on a payload with a "type" key."""
    recorder = Recorder()
    output = ChuishaoSocketIOOutput(recorder)
    await output.send_custom_json("room-1", {"type": "handoff_offer", "department": None})
    await output.send_text_with_buttons("room-1", "要转人工吗？", [{"title": "是", "payload": "/affirm"}])
    yes = {"content_type": "text", "title": "是", "payload": "/affirm"}
    assert recorder.calls == [
        ("bot_uttered", {"custom": {"type": "handoff_offer", "department": None}}, "room-1"),
        ("bot_uttered", {"text": "要转人工吗？", "quick_replies": [yes]}, "room-1"),
    ]
    assert output.sent == 2


def test_without_redis_other_processes_have_no_output_channel() -> None:
    assert ChuishaoSocketIOInput().get_output_channel() is None
    assert isinstance(ChuishaoSocketIOInput(redis_url=REDIS_URL).get_output_channel(), ChuishaoSocketIOOutput)


def require_redis() -> None:
    if redis_available():
        return
    if os.environ.get("CHUISHAO_REQUIRE_REDIS") == "1":
        pytest.fail("no Redis on 127.0.0.1:6379, and CHUISHAO_REQUIRE_REDIS=1 (make test) needs it")
    pytest.skip("no Redis on 127.0.0.1:6379")


async def test_with_redis_the_server_listens_before_the_first_client(serve, answering) -> None:
    """python-socketio subscribes lazily on the first connection: replies published before the
    subscription completed were lost and the widget hung at "连接中". The channel subscribes at start."""
    require_redis()
    channel_name = f"chuishao-test-{uuid.uuid4().hex}"
    push = SocketIOPush(REDIS_URL, channel_name)
    async with widget_server(serve, answering, redis_url=REDIS_URL, redis_channel=channel_name):
        for _ in range(50):  # the subscription is a background task of the started server
            if await push.listeners() >= 1:
                break
            await asyncio.sleep(0.05)
        assert await push.listeners() == 1  # listening, and no client has connected yet
    await push.close()


async def test_with_redis_an_emit_from_anywhere_reaches_the_socket(serve, answering) -> None:
    """Two socket.io servers (two Rasa instances in production) and the web app's push share Redis."""
    require_redis()
    channel_name = f"chuishao-test-{uuid.uuid4().hex}"
    options = {"redis_url": REDIS_URL, "redis_channel": channel_name}
    push = SocketIOPush(REDIS_URL, channel_name)
    assert (await push.push("nobody", {"text": "x"})).delivered is False  # no server listens yet
    async with (
        widget_server(serve, answering, **options) as (url_a, _, _),
        widget_server(serve, answering, **options) as (_, channel_b, _),
    ):
        client = Client()
        session = await client.connect(url_a, "session-redis-1")
        # Instance B does not hold the socket; its output channel still reaches it.
        await channel_b.get_output_channel().send_response(session, {"text": "来自另一个实例"})
        assert (await client.next())["text"] == "来自另一个实例"
        # A process with no socket.io server at all (the web app) pushes a staff reply.
        staff = staff_reply_message(
            "您好，材料清单已发您。",
            ticket_id="HZ-20261126-0001",
            staff_name="张明",
            staff_number="HZ0012",
            department="hz-amr",
            department_name="菏泽市市场监督管理局",
            message_id=7,
        )
        result = await push.push(session, staff)
        assert result.delivered and result.listeners >= 1
        assert await client.next() == staff
        await client.close()
    await push.close()
