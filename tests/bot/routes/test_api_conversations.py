"""`GET /api/conversations/{sender}/messages`: a REST client polls for staff replies (三亮 included)."""

from __future__ import annotations


async def test_polling_returns_staff_replies_after_the_cursor(web):
    staff = await web.as_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    ticket = await web.create_ticket(conversation_id="conv-poll")
    await staff.act(ticket["id"], "claim")
    await staff.act(ticket["id"], "reply", {"text": "第一条答复"})

    first = await web.client.get("/api/conversations/conv-poll/messages")
    body = first.json()
    assert [m["text"] for m in body["messages"]] == ["第一条答复"]
    assert body["messages"][0]["staff"] == {
        "name": "王晓明",
        "department": "hz-scjg",
        "department_name": "菏泽市市场监督管理局",
        "number": "SCJG-0101",
    }
    assert body["messages"][0]["ticket"] == ticket["id"]

    await staff.act(ticket["id"], "reply", {"text": "第二条答复"})
    second = (
        await web.client.get("/api/conversations/conv-poll/messages", params={"after": body["cursor"]})
    ).json()
    assert [m["text"] for m in second["messages"]] == ["第二条答复"]
    third = (
        await web.client.get("/api/conversations/conv-poll/messages", params={"after": second["cursor"]})
    ).json()
    assert third == {"messages": [], "cursor": second["cursor"]}
    other = (await web.client.get("/api/conversations/someone-else/messages")).json()
    assert other["messages"] == []


async def test_a_bad_cursor_is_400(web):
    for cursor in ("-1", "abc", "1.5", "²"):
        answer = await web.client.get("/api/conversations/conv-poll/messages", params={"after": cursor})
        assert answer.status_code == 400, cursor
        assert "cursor" in answer.json()["error"]


async def test_a_percent_encoded_sender_id_is_the_same_conversation(web):
    staff = await web.as_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    ticket = await web.create_ticket(conversation_id="wechat:oAbC-12_xyz")
    await staff.act(ticket["id"], "claim")
    await staff.act(ticket["id"], "reply", {"text": "答复"})

    for sender in ("wechat:oAbC-12_xyz", "wechat%3AoAbC-12_xyz"):
        body = (await web.client.get(f"/api/conversations/{sender}/messages")).json()
        assert [m["text"] for m in body["messages"]] == ["答复"], sender
