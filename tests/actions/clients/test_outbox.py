"""The durable outbox: kept while the service is down, delivered once when it is back."""

from __future__ import annotations

import time

from actions.clients.outbox import Outbox, OutboxDelivery
from tests.actions.fake_handoff import FakeHandoffService, ticket_request


async def test_queued_while_down_then_delivered_exactly_once(tmp_path):
    service = FakeHandoffService()
    service.down = True
    outbox = Outbox(tmp_path / "outbox.db")
    client = service.client()

    assert outbox.put(ticket_request("k1"))
    assert not outbox.put(ticket_request("k1"))  # a retried action stores it once
    assert await outbox.deliver_due(client) == 0
    assert outbox.get("k1").status == "pending"
    assert outbox.get("k1").attempts == 1

    service.down = False
    later = time.time() + 3600  # past the back-off
    assert await outbox.deliver_due(client, now=later) == 1
    item = outbox.get("k1")
    assert item.status == "delivered"
    assert item.ticket_id == "HZ-20261126-0001"
    assert await outbox.deliver_due(client, now=later) == 0
    assert service.posts == 1
    assert len(service.by_key) == 1


async def test_survives_a_restart_of_the_outbox(tmp_path):
    path = tmp_path / "nested" / "outbox.db"
    Outbox(path).put(ticket_request("k1", "conv-1"))

    reopened = Outbox(path)  # as after an action server restart
    assert [i.idempotency_key for i in reopened.pending_for("conv-1")] == ["k1"]
    service = FakeHandoffService()
    assert await reopened.deliver_due(service.client()) == 1
    assert Outbox(path).get("k1").status == "delivered"
    assert Outbox(path).pending_for("conv-1") == []


async def test_a_delivery_that_reached_the_service_but_was_not_marked_gives_one_ticket(tmp_path):
    service = FakeHandoffService()
    client = service.client()
    first = await client.create_ticket(ticket_request("k1"))  # the action's own POST got through...
    outbox = Outbox(tmp_path / "o.db")
    outbox.put(ticket_request("k1"))  # ...but its answer was lost, so it was queued as well
    await outbox.deliver_due(client)
    assert outbox.get("k1").ticket_id == first["id"]
    assert len(service.by_key) == 1


async def test_a_refused_request_is_set_aside_not_retried(tmp_path):
    service = FakeHandoffService()
    outbox = Outbox(tmp_path / "o.db")
    outbox.put(ticket_request("bad", mobile=""))
    outbox.put(ticket_request("good"))
    assert await outbox.deliver_due(service.client()) == 1
    assert outbox.get("bad").status == "rejected"
    assert outbox.get("good").status == "delivered"
    assert await outbox.deliver_due(service.client(), now=time.time() + 3600) == 0
    assert service.posts == 2


def test_the_delivery_loop_delivers_in_the_background(tmp_path):
    service = FakeHandoffService()
    outbox = Outbox(tmp_path / "o.db")
    outbox.put(ticket_request("k1"))
    delivery = OutboxDelivery(outbox, service.client(), interval=0.05)
    delivery.start()
    try:
        deadline = time.monotonic() + 5
        while outbox.get("k1").status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        delivery.stop()
    assert outbox.get("k1").status == "delivered"
    assert not delivery.thread.is_alive()
