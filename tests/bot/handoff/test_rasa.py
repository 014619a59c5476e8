"""RasaClient sends exactly the requests Rasa's HTTP API expects, and reports failures as RasaUnavailable."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, List

import httpx
import pytest

from bot.handoff.rasa import RasaClient, RasaUnavailable


class FakeRasa:
    """Records requests; answers with `reply(request)`."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: List[httpx.Request] = []
        self.reply = reply or (lambda request: httpx.Response(200, json={"events": []}))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    def client(self, token: str = "secret-token") -> RasaClient:
        return RasaClient("http://rasa.test:5005/", token, transport=httpx.MockTransport(self.handler))


def raw_path(request: httpx.Request) -> str:
    """The path as sent (still percent-encoded, if at all)."""
    return request.url.raw_path.decode().split("?", 1)[0]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


async def test_pause_resume_and_bot_message() -> None:
    fake = FakeRasa()
    client = fake.client()
    await client.pause("user/1")
    await client.resume("user/1")
    await client.add_bot_message("user/1", "您好，我是张三", {"type": "staff_reply", "ticket": "HZ-1"})
    await client.aclose()
    assert [(r.method, raw_path(r), dict(r.url.params)) for r in fake.requests] == [
        # Rasa does not percent-decode the id (Sanic 21.12): "user%2F1" would be another conversation.
        ("POST", "/conversations/user/1/tracker/events", {"token": "secret-token"}),
    ] * 3
    assert [body(r) for r in fake.requests] == [
        [{"event": "pause"}],
        [{"event": "resume"}],
        [
            {
                "event": "bot",
                "text": "您好，我是张三",
                "data": {"custom": {"type": "staff_reply", "ticket": "HZ-1"}},
            }
        ],
    ]


async def test_wechat_and_widget_ids_reach_rasa_as_they_are() -> None:
    fake = FakeRasa()
    client = fake.client()
    await client.pause("wechat:oAbC-12_xyz")
    await client.pause("socketio.session:9f-2")
    await client.aclose()
    assert [raw_path(r) for r in fake.requests] == [
        "/conversations/wechat:oAbC-12_xyz/tracker/events",
        "/conversations/socketio.session:9f-2/tracker/events",
    ]


async def test_trigger_intent_returns_collected_messages() -> None:
    fake = FakeRasa(
        lambda r: httpx.Response(200, json={"tracker": {}, "messages": [{"text": "问题解决了吗？"}]})
    )
    client = fake.client()
    messages = await client.trigger_intent(
        "conv-1", "EXTERNAL_ticket_resolved", entities={"ticket_id": "HZ-1"}
    )
    await client.aclose()
    request = fake.requests[0]
    assert (request.method, request.url.path) == ("POST", "/conversations/conv-1/trigger_intent")
    assert dict(request.url.params) == {"token": "secret-token", "output_channel": "latest"}
    assert body(request) == {"name": "EXTERNAL_ticket_resolved", "entities": {"ticket_id": "HZ-1"}}
    assert messages == [{"text": "问题解决了吗？"}]


async def test_fetch_user_messages_since() -> None:
    events = [
        {"event": "user", "text": "旧消息", "timestamp": 100.0},
        {"event": "bot", "text": "机器人", "timestamp": 150.0},
        {"event": "user", "text": "暂停时写的", "timestamp": 200.5},
        {"event": "user", "text": "EXTERNAL: EXTERNAL_ticket_resolved", "timestamp": 210.0},
        {"event": "user", "text": None, "timestamp": 220.0},
        {"event": "user", "text": "还在吗", "timestamp": 300.0},
    ]
    fake = FakeRasa(lambda r: httpx.Response(200, json={"sender_id": "c", "events": events}))
    client = fake.client(token="")
    found = await client.fetch_user_messages_since("c", dt.datetime.fromtimestamp(150, dt.timezone.utc))
    await client.aclose()
    assert found == [{"text": "暂停时写的", "at": 200.5}, {"text": "还在吗", "at": 300.0}]
    assert (fake.requests[0].method, fake.requests[0].url.path) == ("GET", "/conversations/c/tracker")
    assert dict(fake.requests[0].url.params) == {"include_events": "ALL"}  # no token configured


@pytest.mark.parametrize(
    "reply",
    [
        lambda r: httpx.Response(401, json={"message": "unauthorized"}),
        lambda r: httpx.Response(500, text="boom"),
        lambda r: httpx.Response(200, text="not json"),
    ],
)
async def test_failures_raise_rasa_unavailable(reply) -> None:
    client = FakeRasa(reply).client()
    with pytest.raises(RasaUnavailable):
        await client.pause("c")
    await client.aclose()


async def test_unreachable_rasa_times_out_quickly() -> None:
    client = RasaClient("http://127.0.0.1:9", "t", timeout=0.5)  # discard port: nothing listens
    started = dt.datetime.now()
    with pytest.raises(RasaUnavailable):
        await client.resume("c")
    await client.aclose()
    assert (dt.datetime.now() - started).total_seconds() < 3
