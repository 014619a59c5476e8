"""HandoffClient against a fake handoff service (httpx.MockTransport) that implements the contract."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from actions.clients.handoff import (
    HandoffClient,
    HandoffRejected,
    HandoffSettings,
    HandoffUnavailable,
    TicketNotFound,
)
from tests.actions.fake_handoff import FakeHandoffService, ticket_request


@pytest.fixture
def service() -> FakeHandoffService:
    return FakeHandoffService()


async def test_create_ticket_is_idempotent(service):
    client = service.client()
    first = await client.create_ticket(ticket_request("same-key"))
    again = await client.create_ticket(ticket_request("same-key"))
    other = await client.create_ticket(ticket_request("other-key"))

    assert first == again
    assert first["id"] == "HZ-20261126-0001"
    assert first["department_name"] == "菏泽市行政审批服务局"
    assert other["id"] == "HZ-20261126-0002"
    assert len(service.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403, 429])
async def test_server_errors_and_auth_problems_are_worth_retrying(service, status):
    service.status_override = status
    with pytest.raises(HandoffUnavailable) as raised:
        await service.client().create_ticket(ticket_request())
    assert raised.value.status == status


async def test_a_refused_request_is_not_worth_retrying(service):
    with pytest.raises(HandoffRejected) as raised:
        await service.client().create_ticket(ticket_request(mobile=""))
    assert raised.value.status == 400
    assert "mobile" in str(raised.value)


async def test_unreachable_service_is_unavailable(service):
    service.down = True
    with pytest.raises(HandoffUnavailable):
        await service.client().create_ticket(ticket_request())


async def test_wrong_token_is_refused_by_the_service(service):
    settings = HandoffSettings(base_url="http://handoff.test", token="wrong", timeout=1)
    client = HandoffClient(settings, transport=httpx.MockTransport(service.handle))
    with pytest.raises(HandoffUnavailable) as raised:
        await client.create_ticket(ticket_request())
    assert raised.value.status == 401
    assert service.requests == []


async def test_a_2xx_without_a_ticket_is_not_success():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    client = HandoffClient(HandoffSettings("http://handoff.test", "t", 1), transport=transport)
    with pytest.raises(HandoffUnavailable):
        await client.create_ticket(ticket_request())


async def test_timeout_is_applied_to_a_hanging_service(monkeypatch):
    import asyncio
    import time

    from sanic import Sanic, response

    from tests.bot.conftest import serving

    monkeypatch.setattr(Sanic, "test_mode", True)  # see tests/bot/conftest.py
    app = Sanic("hanging_handoff_service")

    @app.post("/api/internal/tickets")
    async def hang(request):
        await asyncio.sleep(5)
        return response.json({})

    async with serving(app) as url:
        client = HandoffClient(HandoffSettings(url, "t", 0.3))
        started = time.monotonic()
        with pytest.raises(HandoffUnavailable):
            await client.create_ticket(ticket_request())
    assert time.monotonic() - started < 2


async def test_conversation_tickets_lists_only_that_conversation(service):
    client = service.client()
    await client.create_ticket(ticket_request("k1", "conv-a"))
    await client.create_ticket(ticket_request("k2", "conv-b"))
    tickets = await client.conversation_tickets("conv-a")
    assert [t["id"] for t in tickets] == ["HZ-20261126-0001"]


async def test_feedback_for_another_conversation_is_not_found(service):
    client = service.client()
    ticket = await client.create_ticket(ticket_request("k1", "conv-a"))
    await client.send_feedback(ticket["id"], "conv-a", solved=True, rating=5)
    with pytest.raises(TicketNotFound):
        await client.send_feedback(ticket["id"], "conv-b", solved=False, rating=1)
    assert service.feedback == [(ticket["id"], {"conversation_id": "conv-a", "solved": True, "rating": 5})]


def test_settings_from_the_environment():
    settings = HandoffSettings.from_env(
        {
            "BOT_PORT": "8123",
            "INTERNAL_API_TOKEN": "tok",
            "HANDOFF_TIMEOUT_SECONDS": "1.5",
            "OUTBOX_PATH": "var/test-outbox.db",
        }
    )
    assert settings.base_url == "http://127.0.0.1:8123"
    assert settings.token == "tok"
    assert settings.timeout == 1.5
    assert settings.outbox_path.is_absolute() and settings.outbox_path.parts[-2:] == ("var", "test-outbox.db")
    explicit = HandoffSettings.from_env({"HANDOFF_URL": "http://10.0.0.2:8000/", "OUTBOX_PATH": "/tmp/o.db"})
    assert explicit.base_url == "http://10.0.0.2:8000"
    assert explicit.outbox_path == Path("/tmp/o.db")
