"""action_check_ticket: status and the latest staff reply, only for this conversation's tickets."""

from __future__ import annotations

import pytest

from actions.clients.outbox import Outbox
from actions.tickets import ActionCheckTicket
from tests.actions.fake_handoff import FakeHandoffService, ticket_request


@pytest.fixture
async def service() -> FakeHandoffService:
    service = FakeHandoffService()
    client = service.client()
    mine = await client.create_ticket(ticket_request("k1", "test-user", department="hz-xzsp"))
    await client.create_ticket(ticket_request("k2", "someone-else"))
    service.by_key["k1"]["status"] = "replied"
    service.replies[mine["id"]] = {
        "text": "您好，材料已补齐，明天可领取。",
        "created_at": "2026-11-27T03:00:00+00:00",
        "staff": {
            "name": "李明",
            "department": "hz-xzsp",
            "department_name": "菏泽市行政审批服务局",
            "number": "HZ0123",
        },
    }
    return service


async def test_my_tickets_with_the_latest_reply_and_its_staff(
    service, tmp_path, dispatcher, domain, make_tracker
):
    action = ActionCheckTicket(service.client(), Outbox(tmp_path / "o.db"))
    await action.run(dispatcher, make_tracker("我的工单怎么样了", "check_ticket"), domain)
    [message] = dispatcher.messages
    for words in (
        "HZ-20261126-0001",
        "部门已答复",
        "菏泽市行政审批服务局",
        "2026年12月17日",
        "李明",
        "HZ0123",
        "明天可领取",
    ):
        assert words in message["text"]
    assert "HZ-20261126-0002" not in message["text"]
    [ticket] = message["custom"]["tickets"]
    assert message["custom"]["type"] == "ticket_status"
    assert ticket["id"] == "HZ-20261126-0001" and ticket["status"] == "replied"
    assert ticket["latest_reply"]["staff"]["number"] == "HZ0123"


async def test_another_conversations_ticket_is_not_found(service, tmp_path, dispatcher, domain, make_tracker):
    action = ActionCheckTicket(service.client(), Outbox(tmp_path / "o.db"))
    tracker = make_tracker("查一下HZ-20261126-0002", "check_ticket", {"ticket_id": "HZ-20261126-0002"})
    await action.run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert "没有找到工单 HZ-20261126-0002" in message["text"]
    assert "someone" not in message["text"] and "菏泽某某药业" not in message["text"]
    assert message["custom"] == {"type": "ticket_status", "tickets": [], "not_found": "HZ-20261126-0002"}


async def test_an_id_in_the_text_picks_that_ticket(service, tmp_path, dispatcher, domain, make_tracker):
    action = ActionCheckTicket(service.client(), Outbox(tmp_path / "o.db"))
    await action.run(dispatcher, make_tracker("hz-20261126-0001处理到哪了", "check_ticket"), domain)
    assert [t["id"] for t in dispatcher.messages[0]["custom"]["tickets"]] == ["HZ-20261126-0001"]


async def test_no_ticket_but_one_queued(tmp_path, dispatcher, domain, make_tracker):
    outbox = Outbox(tmp_path / "o.db")
    outbox.put(ticket_request("k9", "test-user"))
    await ActionCheckTicket(FakeHandoffService().client(), outbox).run(
        dispatcher, make_tracker("我的工单怎么样了", "check_ticket"), domain
    )
    [message] = dispatcher.messages
    assert "1个诉求已保存" in message["text"]
    assert message["custom"] == {"type": "ticket_status", "tickets": [], "queued": 1}


async def test_service_down_is_said_plainly(tmp_path, dispatcher, domain, make_tracker):
    service = FakeHandoffService()
    service.down = True
    await ActionCheckTicket(service.client(), Outbox(tmp_path / "o.db")).run(
        dispatcher, make_tracker("我的工单怎么样了", "check_ticket"), domain
    )
    assert "暂时无法查询" in dispatcher.messages[0]["text"]
