"""Internal API for the action server: bearer token, idempotent creation, a conversation's tickets,
feedback only from the owning conversation."""

from __future__ import annotations

import asyncio

from tests.bot.routes.conftest import ticket_payload


async def test_the_internal_api_needs_the_token(web):
    payload = ticket_payload()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
        answer = await web.client.post("/api/internal/tickets", json=payload, headers=headers)
        assert answer.status_code == 401, headers
        assert "令牌" in answer.json()["error"]
    assert (await web.client.get("/api/internal/conversations/conv-1/tickets")).status_code == 401


async def test_create_is_201_then_200_with_the_same_ticket(web):
    payload = ticket_payload(idempotency_key="retry-me")

    first = await web.internal_post("/api/internal/tickets", payload)
    second = await web.internal_post("/api/internal/tickets", payload)

    assert first.status_code == 201
    assert second.status_code == 200
    ticket = first.json()["ticket"]
    assert second.json()["ticket"]["id"] == ticket["id"]
    assert ticket["id"].startswith("HZ-20261126-")
    assert ticket["department_name"] == "菏泽市市场监督管理局"
    assert {"due", "reply_due", "first_response_due", "status"} <= set(ticket)


async def test_concurrent_duplicates_give_one_ticket(web):
    payload = ticket_payload(idempotency_key="twice-at-once")
    answers = await asyncio.gather(*(web.internal_post("/api/internal/tickets", payload) for _ in range(4)))
    assert sorted(a.status_code for a in answers).count(201) == 1
    assert len({a.json()["ticket"]["id"] for a in answers}) == 1


async def test_bad_payloads_are_400(web):
    broken = await web.client.post(
        "/api/internal/tickets",
        content=b"[1, 2",
        headers={"Authorization": "Bearer internal-test-token-123456", "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == "请求体必须是 JSON 对象。"
    for bad in (
        ticket_payload(department="nowhere"),
        ticket_payload(mobile=None),
        ticket_payload(question=42),
    ):
        answer = await web.internal_post("/api/internal/tickets", bad)
        assert answer.status_code == 400, answer.text


async def test_conversation_tickets_newest_first_with_the_latest_reply(web, clock):
    staff = await web.as_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    older = await web.create_ticket(conversation_id="conv-A")
    clock.advance(minutes=5)
    newer = await web.create_ticket(conversation_id="conv-A")
    await web.create_ticket(conversation_id="conv-B")
    await staff.act(older["id"], "claim")
    await staff.act(older["id"], "reply", {"text": "请补充营业执照复印件"})

    answer = await web.internal_get("/api/internal/conversations/conv-A/tickets")

    tickets = answer.json()["tickets"]
    assert [t["id"] for t in tickets] == [newer["id"], older["id"]]
    assert tickets[0]["latest_reply"] is None
    reply = tickets[1]["latest_reply"]
    assert reply["text"] == "请补充营业执照复印件"
    assert (reply["staff"]["name"], reply["staff"]["number"]) == ("王晓明", "SCJG-0101")
    nobody = await web.internal_get("/api/internal/conversations/unknown-sender/tickets")
    assert nobody.json() == {"tickets": []}


async def test_feedback_only_from_the_owning_conversation_after_resolution(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    ticket = await web.create_ticket(conversation_id="conv-A")
    path = f"/api/internal/tickets/{ticket['id']}/feedback"
    good = {"conversation_id": "conv-A", "solved": True, "rating": 5}

    early = await web.internal_post(path, good)
    assert early.status_code == 409
    await staff.act(ticket["id"], "claim")
    await staff.act(ticket["id"], "resolve")

    stranger = await web.internal_post(path, {**good, "conversation_id": "conv-B"})
    assert stranger.status_code == 404
    for bad in ({**good, "rating": 6}, {**good, "rating": "5"}, {**good, "solved": "yes"}, {"solved": True}):
        answer = await web.internal_post(path, bad)
        assert answer.status_code == 400, bad
    saved = await web.internal_post(path, good)
    assert saved.status_code == 200
    lead = await web.as_user("scjglead", "hz-scjg", "lead")
    stats = (await lead.get("/api/stats")).json()
    assert (stats["avg_rating"], stats["rated"]) == (5, 1)


async def test_conversation_tickets_of_a_percent_encoded_wechat_sender(web):
    """The action server's client encodes the sender id ("wechat:<openid>" → "wechat%3A<openid>");
    Sanic does not decode path parameters, so the route must."""
    ticket = await web.create_ticket(conversation_id="wechat:oAbC-12_xyz")

    answer = await web.internal_get("/api/internal/conversations/wechat%3AoAbC-12_xyz/tickets")

    assert [t["id"] for t in answer.json()["tickets"]] == [ticket["id"]]
