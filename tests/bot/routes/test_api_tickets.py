"""Staff JSON API: every transition, its permission and its refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese_error(answer) -> str:
    reason = answer.json()["error"]
    assert CJK.search(reason), reason
    return reason


async def test_staff_see_only_their_department_sorted_by_deadline(web, clock):
    staff = await web.as_user("scjg1", "hz-scjg")
    first = await web.create_ticket()
    clock.advance(hours=30)  # later creation -> later deadline
    second = await web.create_ticket()
    await web.create_ticket(department="hz-tax")

    answer = await staff.get("/api/tickets")

    assert answer.status_code == 200
    assert [t["id"] for t in answer.json()["tickets"]] == [first["id"], second["id"]]
    assert {t["department"] for t in answer.json()["tickets"]} == {"hz-scjg"}


async def test_another_departments_ticket_is_404_not_403(web):
    staff = await web.as_user("tax1", "hz-tax")
    ticket = await web.create_ticket(department="hz-scjg")

    for answer in (
        await staff.get(f"/api/tickets/{ticket['id']}"),
        await staff.act(ticket["id"], "claim"),
        await staff.act(ticket["id"], "reply", {"text": "你好"}),
        await staff.act(ticket["id"], "resolve"),
        await staff.act(ticket["id"], "return", {"reason": "不是我们的"}),
        await staff.act(ticket["id"], "transfer", {"department": "hz-tax", "reason": "试试"}),
        await staff.act(ticket["id"], "extension", {"days": 3, "reason": "需要时间"}),
    ):
        assert answer.status_code == 404, answer.text
        assert chinese_error(answer) == "未找到该工单。"
    # The same answer as for an id that does not exist: nothing leaks.
    missing = await staff.get("/api/tickets/HZ-20261126-9999")
    assert missing.status_code == 404
    assert missing.json()["error"] == "未找到该工单。"


async def test_claim_reply_resolve(web):
    staff = await web.as_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    ticket = await web.create_ticket()

    claimed = await staff.act(ticket["id"], "claim")
    assert claimed.status_code == 200
    assert claimed.json()["ticket"]["status"] == "claimed"
    assert claimed.json()["ticket"]["assignee"]["name"] == "王晓明"

    again = await staff.act(ticket["id"], "claim")
    assert again.status_code == 409
    chinese_error(again)

    replied = await staff.act(ticket["id"], "reply", {"text": "您好，请携带营业执照原件。"})
    assert replied.status_code == 200
    body = replied.json()["ticket"]
    assert body["status"] == "replied"
    message = body["messages"][-1]
    assert message["text"] == "您好，请携带营业执照原件。"
    assert message["staff"] == {
        "name": "王晓明",
        "department": "hz-scjg",
        "department_name": "菏泽市市场监督管理局",
        "number": "SCJG-0101",
    }

    resolved = await staff.act(ticket["id"], "resolve", {"note": "已电话答复"})
    assert resolved.status_code == 200
    assert resolved.json()["ticket"]["status"] == "resolved"
    actions = [event["action"] for event in resolved.json()["ticket"]["events"]]
    assert actions[:1] == ["created"] and {"claimed", "replied", "resolved"} <= set(actions)

    for action, body in (("resolve", {}), ("reply", {"text": "再说一句"}), ("claim", {})):
        late = await staff.act(ticket["id"], action, body)
        assert late.status_code == 409, (action, late.text)
        chinese_error(late)


async def test_reply_needs_a_claim_and_the_handler(web):
    first = await web.as_user("scjg1", "hz-scjg")
    second = await web.as_user("scjg2", "hz-scjg")
    lead = await web.as_user("scjglead", "hz-scjg", "lead")
    ticket = await web.create_ticket()

    before = await first.act(ticket["id"], "reply", {"text": "你好"})
    assert before.status_code == 409
    assert "认领" in chinese_error(before)

    await first.act(ticket["id"], "claim")
    other = await second.act(ticket["id"], "reply", {"text": "我来答"})
    assert other.status_code == 403
    chinese_error(other)
    by_lead = await lead.act(ticket["id"], "reply", {"text": "负责人答复"})
    assert by_lead.status_code == 200


async def test_transfer_moves_the_ticket_to_the_other_queue(web):
    scjg = await web.as_user("scjg1", "hz-scjg")
    yjj = await web.as_user("yjj1", "sd-yjj")
    ticket = await web.create_ticket()
    await scjg.act(ticket["id"], "claim")

    no_reason = await scjg.act(ticket["id"], "transfer", {"department": "sd-yjj"})
    assert no_reason.status_code == 400
    chinese_error(no_reason)
    unknown = await scjg.act(ticket["id"], "transfer", {"department": "nowhere", "reason": "试试"})
    assert unknown.status_code == 400

    moved = await scjg.act(
        ticket["id"], "transfer", {"department": "sd-yjj", "reason": "属于二类医疗器械注册"}
    )
    assert moved.status_code == 200
    assert (await scjg.get(f"/api/tickets/{ticket['id']}")).status_code == 404
    queue = (await yjj.get("/api/tickets")).json()["tickets"]
    assert [(t["id"], t["status"], t["assignee"]) for t in queue] == [(ticket["id"], "transferred", None)]
    claimed = await yjj.act(ticket["id"], "claim")
    assert claimed.json()["ticket"]["status"] == "claimed"


async def test_return_sends_the_ticket_to_the_chuishao_office(web):
    scjg = await web.as_user("scjg1", "hz-scjg")
    office = await web.as_user("csb1", "hz-chuishao")
    ticket = await web.create_ticket()

    returned = await scjg.act(ticket["id"], "return", {"reason": "非本部门职责"})

    assert returned.status_code == 200
    queue = (await office.get("/api/tickets")).json()["tickets"]
    assert [(t["id"], t["status"]) for t in queue] == [(ticket["id"], "returned")]
    again = await office.act(ticket["id"], "return", {"reason": "再退"})
    assert again.status_code == 409
    # The office dispatches it onwards.
    dispatched = await office.act(ticket["id"], "transfer", {"department": "hz-tax", "reason": "涉税事项"})
    assert dispatched.status_code == 200


async def test_extension_requested_by_staff_and_decided_by_the_lead(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    lead = await web.as_user("scjglead", "hz-scjg", "lead")
    ticket = await web.create_ticket()
    await staff.act(ticket["id"], "claim")

    requested = await staff.act(ticket["id"], "extension", {"days": 5, "reason": "需要现场核查"})
    assert requested.status_code == 201
    extension = requested.json()["ticket"]["extensions"][0]
    assert (extension["status"], extension["days"]) == ("pending", 5)
    twice = await staff.act(ticket["id"], "extension", {"days": 2, "reason": "再延"})
    assert twice.status_code == 409

    by_staff = await staff.act(ticket["id"], f"extension/{extension['id']}/approve")
    assert by_staff.status_code == 403
    chinese_error(by_staff)

    approved = await lead.act(ticket["id"], f"extension/{extension['id']}/approve")
    assert approved.status_code == 200
    body = approved.json()["ticket"]
    assert body["extensions"][0]["status"] == "approved"
    assert body["extended_due"] is not None and body["extended_due"] > body["resolve_due"]
    decided = await lead.act(ticket["id"], f"extension/{extension['id']}/reject")
    assert decided.status_code == 409

    second = await staff.act(ticket["id"], "extension", {"days": 1, "reason": "还需一天"})
    ext_id = second.json()["ticket"]["extensions"][-1]["id"]
    rejected = await lead.act(ticket["id"], f"extension/{ext_id}/reject", {"reason": "时限足够"})
    assert rejected.json()["ticket"]["extensions"][-1]["status"] == "rejected"
    missing = await lead.act(ticket["id"], "extension/99999/approve")
    assert missing.status_code == 404


async def test_lead_assigns_within_the_department(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    lead = await web.as_user("scjglead", "hz-scjg", "lead")
    outsider = web.add_user("tax1", "hz-tax")
    ticket = await web.create_ticket()
    member = web.users["scjg1"]

    by_staff = await staff.act(ticket["id"], "assign", {"user_id": member.id})
    assert by_staff.status_code == 403
    wrong = await lead.act(ticket["id"], "assign", {"user_id": outsider.id})
    assert wrong.status_code == 400
    not_int = await lead.act(ticket["id"], "assign", {"user_id": "abc"})
    assert not_int.status_code == 400
    chinese_error(not_int)

    assigned = await lead.act(ticket["id"], "assign", {"user_id": member.id})
    assert assigned.status_code == 200
    body = assigned.json()["ticket"]
    assert (body["status"], body["assignee"]["id"]) == ("claimed", member.id)
    assert (await staff.act(ticket["id"], "reply", {"text": "已收到"})).status_code == 200


async def test_supervisor_sees_every_department_and_escalates(web):
    supervisor = await web.as_user("boss", "hz-chuishao", "supervisor")
    staff = await web.as_user("scjg1", "hz-scjg")
    one = await web.create_ticket()
    two = await web.create_ticket(department="hz-tax")

    everything = (await supervisor.get("/api/tickets")).json()["tickets"]
    assert {t["id"] for t in everything} == {one["id"], two["id"]}
    only_tax = (await supervisor.get("/api/tickets", params={"department": "hz-tax"})).json()["tickets"]
    assert [t["id"] for t in only_tax] == [two["id"]]

    not_allowed = await staff.act(one["id"], "escalate", {"note": "快办"})
    assert not_allowed.status_code == 403
    escalated = await supervisor.act(one["id"], "escalate", {"note": "请加快办理"})
    assert escalated.status_code == 200
    assert escalated.json()["ticket"]["escalated_at"] is not None
    # A supervisor oversees; claiming another department's case is not theirs to do.
    assert (await supervisor.act(one["id"], "claim")).status_code == 403


async def test_overdue_is_marked_and_filtered(web, clock):
    staff = await web.as_user("scjg1", "hz-scjg")
    late = await web.create_ticket()
    clock.advance(days=3)
    fresh = await web.create_ticket()

    tickets = {t["id"]: t for t in (await staff.get("/api/tickets")).json()["tickets"]}
    assert tickets[late["id"]]["overdue"] is True
    assert tickets[fresh["id"]]["overdue"] is False
    only_overdue = (await staff.get("/api/tickets", params={"overdue": "1"})).json()["tickets"]
    assert [t["id"] for t in only_overdue] == [late["id"]]
    resolved_filter = (await staff.get("/api/tickets", params={"status": "resolved"})).json()["tickets"]
    assert resolved_filter == []


async def test_bad_input_is_400_with_a_chinese_reason(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    ticket = await web.create_ticket()
    await staff.act(ticket["id"], "claim")

    malformed = await staff.post(
        f"/api/tickets/{ticket['id']}/reply",
        content=b'{"text": ',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert chinese_error(malformed) == "请求体必须是 JSON 对象。"
    for body in ({"text": 123}, {"text": ""}, ["text"], {"text": "x" * 2001}):
        answer = await staff.act(ticket["id"], "reply", body)
        assert answer.status_code == 400, (body, answer.text)
        chinese_error(answer)
    for body in ({"days": "five", "reason": "x"}, {"days": 0, "reason": "x"}, {"days": True, "reason": "x"}):
        answer = await staff.act(ticket["id"], "extension", body)
        assert answer.status_code == 400, (body, answer.text)
    assert (await staff.get("/api/tickets", params={"status": "bogus"})).status_code == 400
    assert (await staff.get("/api/tickets", params={"overdue": "maybe"})).status_code == 400


async def test_stats_for_leads_and_supervisors_only(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    lead = await web.as_user("scjglead", "hz-scjg", "lead")
    supervisor = await web.as_user("boss", "hz-chuishao", "supervisor")
    await web.create_ticket()
    await web.create_ticket(department="hz-tax")

    refused = await staff.get("/api/stats")
    assert refused.status_code == 403
    chinese_error(refused)
    own = (await lead.get("/api/stats", params={"department": "hz-tax"})).json()
    assert own["total"] == 1 and own["department"] == "hz-scjg"  # a lead only ever sees their own
    overall = (await supervisor.get("/api/stats")).json()
    assert overall["total"] == 2
    assert {e["department"] for e in overall["by_department"]} == {"hz-scjg", "hz-tax"}


async def test_not_logged_in_is_401(web):
    ticket = await web.create_ticket()
    for answer in (
        await web.client.get("/api/tickets"),
        await web.client.get(f"/api/tickets/{ticket['id']}"),
        await web.client.post(f"/api/tickets/{ticket['id']}/claim", json={}),
    ):
        assert answer.status_code == 401
        assert answer.json()["error"] == "请先登录。"
