"""HandoffCoordinator: staff actions reach Rasa and the user's channel; failures are recorded, not raised."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import httpx
import pytest
from argon2 import PasswordHasher

from bot.handoff import service as service_module
from bot.handoff.delivery import (
    SYNC_FAILED_NOTICE,
    DeliveryRegistry,
    DeliveryResult,
    HandoffCoordinator,
    RecordingDelivery,
)
from bot.handoff.rasa import RasaClient
from bot.handoff.service import NotFound, TicketService


class FakeRasa:
    """A Rasa stand-in: records (method, path, body); the tracker holds `user_events`."""

    def __init__(self) -> None:
        self.calls: List[tuple[str, str, Any]] = []
        self.user_events: List[Dict[str, Any]] = []
        self.down = False
        self.resolved_reply: List[Dict[str, Any]] = [
            {"recipient_id": "conv-1", "text": "问题解决了吗？请评分1-5。"}
        ]

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, text="down")
        payload = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, payload))
        if request.url.path.endswith("/trigger_intent"):
            return httpx.Response(200, json={"tracker": {}, "messages": self.resolved_reply})
        if request.method == "GET":
            return httpx.Response(200, json={"events": self.user_events})
        return httpx.Response(200, json={})


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        service_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def wechat() -> RecordingDelivery:
    return RecordingDelivery()


@pytest.fixture
async def coordinator(service: TicketService, fake_rasa: FakeRasa, wechat: RecordingDelivery):
    rasa = RasaClient("http://rasa.test", "t", transport=httpx.MockTransport(fake_rasa.handler))
    registry = DeliveryRegistry()
    registry.register("wechat", wechat)
    yield HandoffCoordinator(service, rasa, registry)
    await rasa.aclose()


@pytest.fixture
def staff(service: TicketService):
    return service.create_user("zhang", "correct-horse-1", "hz-xzsp", "staff", "张三", "HZ0001")


def new_ticket(service: TicketService, channel: str = "rest", key: str = "k1"):
    ticket, _ = service.create_ticket(
        {
            "idempotency_key": key,
            "conversation_id": "conv-1",
            "channel": channel,
            "company_name": "菏泽示例有限公司",
            "contact_name": "王经理",
            "mobile": "13800000000",
            "question": "营业执照怎么变更？",
            "department": "hz-xzsp",
            "transcript": [],
        }
    )
    return ticket


async def test_claim_pauses_and_resolve_resumes_and_asks_for_feedback(
    coordinator: HandoffCoordinator, service: TicketService, fake_rasa: FakeRasa, staff, clock
) -> None:
    ticket = new_ticket(service)
    await coordinator.claim(staff, ticket.id)
    assert fake_rasa.calls == [("POST", "/conversations/conv-1/tracker/events", [{"event": "pause"}])]

    created = clock.now.timestamp()
    fake_rasa.user_events = [
        {"event": "user", "text": "转人工前", "timestamp": created - 60},
        {"event": "user", "text": "我还在等回复", "timestamp": created + 30},
    ]
    ticket_after, message = await coordinator.reply(staff, ticket.id, "您好，请带营业执照原件到窗口。")
    assert ticket_after.status == "replied"
    assert fake_rasa.calls[-1] == (
        "POST",
        "/conversations/conv-1/tracker/events",
        [
            {
                "event": "bot",
                "text": "您好，请带营业执照原件到窗口。",
                "data": {"custom": {"type": "staff_reply", "ticket": ticket.id, "message_id": message.id}},
            }
        ],
    )
    assert message.delivery_status == "polling"  # REST: the client polls
    detail = await coordinator.open_ticket(staff, ticket.id)
    assert [m["text"] for m in detail["messages"] if m["direction"] == "in"] == ["我还在等回复"]
    assert detail["sync_notice"] is None

    await coordinator.resolve(staff, ticket.id)
    assert fake_rasa.calls[-2] == ("POST", "/conversations/conv-1/tracker/events", [{"event": "resume"}])
    assert fake_rasa.calls[-1] == (
        "POST",
        "/conversations/conv-1/trigger_intent",
        {"name": "EXTERNAL_ticket_resolved", "entities": {"ticket_id": ticket.id}},
    )
    polled = service.messages_for_conversation("conv-1")["messages"]
    assert [(m["direction"], m["text"]) for m in polled] == [
        ("out", "您好，请带营业执照原件到窗口。"),
        ("bot", "问题解决了吗？请评分1-5。"),
    ]


async def test_push_channel_delivers_and_records_failure(
    coordinator: HandoffCoordinator, service: TicketService, wechat: RecordingDelivery, staff
) -> None:
    ticket = new_ticket(service, channel="wechat")
    await coordinator.claim(staff, ticket.id)
    _, message = await coordinator.reply(staff, ticket.id, "第一条")
    assert message.delivery_status == "delivered"
    assert wechat.sent == [(ticket.id, "conv-1", "第一条")]

    wechat.fail_with = "客服消息窗口已关闭"
    _, failed = await coordinator.reply(staff, ticket.id, "第二条")
    assert (failed.delivery_status, failed.delivery_error) == ("failed", "客服消息窗口已关闭")
    detail = service.ticket_detail(staff, ticket.id)
    assert detail["messages"][-1]["delivery_status"] == "failed"
    assert detail["events"][-1]["action"] == "delivery_failed"
    assert detail["events"][-1]["detail"]["error"] == "客服消息窗口已关闭"


async def test_raising_delivery_counts_as_failed(service: TicketService, staff) -> None:
    class Broken:
        async def deliver(self, ticket, message) -> DeliveryResult:
            raise ConnectionError("redis down")

    registry = DeliveryRegistry()
    registry.register("socketio", Broken())
    coordinator = HandoffCoordinator(service, None, registry)
    ticket = new_ticket(service, channel="socketio")
    await coordinator.claim(staff, ticket.id)
    _, message = await coordinator.reply(staff, ticket.id, "您好")
    assert message.delivery_status == "failed" and "redis down" in message.delivery_error


async def test_rasa_down_never_fails_the_staff_action(
    coordinator: HandoffCoordinator, service: TicketService, fake_rasa: FakeRasa, staff
) -> None:
    ticket = new_ticket(service)
    fake_rasa.down = True
    claimed = await coordinator.claim(staff, ticket.id)
    assert claimed.status == "claimed"
    assert await coordinator.sync_incoming(staff, ticket.id) == SYNC_FAILED_NOTICE
    _, message = await coordinator.reply(staff, ticket.id, "您好")
    resolved = await coordinator.resolve(staff, ticket.id)
    assert resolved.status == "resolved"
    failures = [
        e for e in service.ticket_detail(staff, ticket.id)["events"] if e["action"] == "delivery_failed"
    ]
    assert [f["detail"]["step"] for f in failures] == ["pause", "transcript", "resume", "trigger_intent"]
    assert "HTTP 503" in failures[0]["detail"]["error"]


async def test_scope_is_checked_before_talking_to_rasa(
    coordinator: HandoffCoordinator, service: TicketService, fake_rasa: FakeRasa
) -> None:
    ticket = new_ticket(service)
    outsider = service.create_user("zhao", "correct-horse-1", "hz-scjg", "staff", "赵六", "SJ0001")
    with pytest.raises(NotFound):
        await coordinator.sync_incoming(outsider, ticket.id)
    with pytest.raises(NotFound):
        await coordinator.claim(outsider, ticket.id)
    assert fake_rasa.calls == []


async def test_transfer_and_return_resume_the_bot(
    coordinator: HandoffCoordinator, service: TicketService, fake_rasa: FakeRasa, staff
) -> None:
    first = new_ticket(service, key="a")
    await coordinator.claim(staff, first.id)
    await coordinator.transfer(staff, first.id, "hz-scjg", "属于市场监管事项")
    second = new_ticket(service, key="b")
    await coordinator.claim(staff, second.id)
    await coordinator.return_(staff, second.id, "不属于本部门")
    assert [c[2] for c in fake_rasa.calls] == [[{"event": e}] for e in ("pause", "resume", "pause", "resume")]
