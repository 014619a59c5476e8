"""TicketService on SQLite and PostgreSQL: transitions, permissions, audit, idempotency, figures."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from bot.db.engine import session_scope
from bot.db.models import Ticket, TicketEvent
from bot.handoff import service as service_module
from bot.handoff.calendar import SHANGHAI
from bot.handoff.service import (
    CHUISHAO_OFFICE,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    TicketService,
    verify_password,
)

DEPT = "hz-xzsp"
OTHER = "hz-scjg"


def payload(key: str = "key-1", **overrides: Any) -> Dict[str, Any]:
    body = {
        "idempotency_key": key,
        "conversation_id": "conv-1",
        "channel": "rest",
        "company_name": "菏泽示例食品有限公司",
        "credit_code": "91371700MA3C0000X1",
        "contact_name": "王经理",
        "mobile": "13800000000",
        "question": "食品经营许可证延续需要什么材料？",
        "procedure_id": None,
        "department": DEPT,
        "transcript": [{"role": "user", "text": "转人工", "at": "2026-11-26T10:00:00+08:00"}],
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the tests check behaviour, not the cost settings."""
    monkeypatch.setattr(
        service_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(service_module, "_dummy_hash", None)


@pytest.fixture
def people(service: TicketService) -> Dict[str, Any]:
    def make(username: str, department: str, role: str, name: str, number: str):
        return service.create_user(username, "correct-horse-1", department, role, name, number)

    return {
        "staff": make("zhang", DEPT, "staff", "张三", "HZ0001"),
        "staff2": make("li", DEPT, "staff", "李四", "HZ0002"),
        "lead": make("wang", DEPT, "lead", "王科长", "HZ0003"),
        "other": make("zhao", OTHER, "staff", "赵六", "SJ0001"),
        "other_lead": make("qian", OTHER, "lead", "钱科长", "SJ0002"),
        "office": make("sun", CHUISHAO_OFFICE, "staff", "孙吹哨", "CS0001"),
        "super": make("zhou", CHUISHAO_OFFICE, "supervisor", "周督办", "DB0001"),
    }


def events(service: TicketService, ticket_id: str) -> list[TicketEvent]:
    with session_scope(service._factory) as session:
        return list(
            session.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
            ).scalars()
        )


def actions(service: TicketService, ticket_id: str) -> list[str]:
    return [e.action for e in events(service, ticket_id)]


# -- creation and deadlines ------------------------------------------------------------------------------


def test_create_ticket_sets_id_deadlines_and_audit(service: TicketService) -> None:
    ticket, created = service.create_ticket(payload())
    assert created is True
    assert ticket.id == "HZ-20261126-0001"
    assert ticket.status == "new"
    # Created Thu 26 Nov 2026 10:00: 1, 3 and 15 working days later, at 17:30 Beijing time.
    assert ticket.first_response_due.astimezone(SHANGHAI) == dt.datetime(
        2026, 11, 27, 17, 30, tzinfo=SHANGHAI
    )
    assert ticket.reply_due.astimezone(SHANGHAI) == dt.datetime(2026, 12, 1, 17, 30, tzinfo=SHANGHAI)
    assert ticket.resolve_due.astimezone(SHANGHAI) == dt.datetime(2026, 12, 17, 17, 30, tzinfo=SHANGHAI)
    assert ticket.calendar_estimated is False
    assert actions(service, ticket.id) == ["created"]
    public = service.public_ticket(ticket)
    assert public["department_name"] == "菏泽市行政审批服务局"
    assert public["due"] == "2026-12-17T17:30:00+08:00"


def test_deadline_into_2027_is_flagged_estimated(service: TicketService, clock) -> None:
    clock.now = dt.datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)
    ticket, _ = service.create_ticket(payload())
    assert ticket.calendar_estimated is True
    assert service.summary(ticket)["calendar_estimated"] is True


def test_deadlines_follow_department_service_level(service: TicketService, knowledge, monkeypatch) -> None:
    from knowledge.schema import ServiceLevel

    department = knowledge.departments[DEPT]
    custom = department.copy(
        update={
            "service_level": ServiceLevel(
                first_contact_days=2, reply_days=2, resolve_days=5, extend_to_days=10
            )
        }
    )
    monkeypatch.setitem(knowledge.departments, DEPT, custom)
    ticket, _ = service.create_ticket(payload())
    assert ticket.first_response_due.astimezone(SHANGHAI).date() == dt.date(2026, 11, 30)
    assert ticket.resolve_due.astimezone(SHANGHAI).date() == dt.date(2026, 12, 3)


def test_create_is_idempotent(service: TicketService) -> None:
    first, created = service.create_ticket(payload())
    again, created_again = service.create_ticket(payload())
    assert (created, created_again) == (True, False)
    assert again.id == first.id


def test_concurrent_duplicates_give_one_ticket(service: TicketService) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: service.create_ticket(payload("same-key")), range(16)))
    assert len({ticket.id for ticket, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with session_scope(service._factory) as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
    # The numbers taken by the losers were rolled back: the next ticket is 0002.
    assert service.create_ticket(payload("next"))[0].id == "HZ-20261126-0002"


@pytest.mark.parametrize(
    "override",
    [
        {"department": "no-such-dept"},
        {"company_name": ""},
        {"mobile": None},
        {"idempotency_key": ""},
        {"transcript": "not a list"},
        {"question": "问" * 2001},
    ],
)
def test_create_rejects_bad_input(service: TicketService, override: Dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.create_ticket(payload(**override))
    assert caught.value.status == 400
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)


# -- scope -------------------------------------------------------------------------------------------


def test_other_departments_tickets_are_not_found(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    with pytest.raises(NotFound):
        service.get_ticket(people["other"], ticket.id)
    for action in (
        lambda: service.claim(people["other"], ticket.id),
        lambda: service.reply(people["other"], ticket.id, "你好"),
        lambda: service.transfer(people["other"], ticket.id, OTHER, "理由"),
        lambda: service.resolve(people["other"], ticket.id),
        lambda: service.return_(people["other"], ticket.id, "理由"),
        lambda: service.request_extension(people["other"], ticket.id, 5, "理由"),
        lambda: service.assign(people["other_lead"], ticket.id, people["other"].id),
        lambda: service.escalate(people["other"], ticket.id),
    ):
        with pytest.raises(NotFound):
            action()
    assert service.list_tickets(people["other"]) == []
    assert service.list_tickets(people["other"], department=DEPT) == []
    assert [t.id for t in service.list_tickets(people["staff"])] == [ticket.id]
    assert [t.id for t in service.list_tickets(people["super"])] == [ticket.id]
    with pytest.raises(NotFound):
        service.get_ticket(people["super"], "HZ-20990101-0001")


def test_disabled_account_can_do_nothing(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    with session_scope(service._factory) as session:
        session.get(type(people["staff"]), people["staff"].id).active = False
    with pytest.raises(PermissionDenied):
        service.claim(people["staff"], ticket.id)
    assert service.authenticate("zhang", "correct-horse-1") is None


# -- the main path ---------------------------------------------------------------------------------------


def test_claim_reply_resolve_feedback(service: TicketService, people, clock) -> None:
    ticket, _ = service.create_ticket(payload())
    claimed = service.claim(people["staff"], ticket.id, remote_addr="10.0.0.5")
    assert (claimed.status, claimed.assignee_id) == ("claimed", people["staff"].id)
    with pytest.raises(InvalidTransition) as caught:
        service.claim(people["staff2"], ticket.id)
    assert "已被认领" in caught.value.message

    clock.advance(hours=2)
    replied, message = service.reply(people["staff"], ticket.id, "  您好，需要准备营业执照和申请书。 ")
    assert replied.status == "replied"
    assert replied.first_response_at == clock.now
    assert (message.staff_name, message.staff_department, message.staff_number) == ("张三", DEPT, "HZ0001")
    clock.advance(hours=1)
    service.reply(people["staff"], ticket.id, "补充：还需要法人身份证复印件。")
    assert service.get_ticket(people["staff"], ticket.id).first_response_at == clock.now - dt.timedelta(
        hours=1
    )

    polled = service.messages_for_conversation("conv-1")
    assert [m["text"] for m in polled["messages"]] == [
        "您好，需要准备营业执照和申请书。",
        "补充：还需要法人身份证复印件。",
    ]
    assert polled["messages"][0]["staff"] == {
        "name": "张三",
        "department": DEPT,
        "department_name": "菏泽市行政审批服务局",
        "number": "HZ0001",
    }
    assert service.messages_for_conversation("conv-1", after=polled["cursor"])["messages"] == []
    assert service.messages_for_conversation("someone-else")["messages"] == []

    with pytest.raises(InvalidTransition):
        service.record_feedback(ticket.id, "conv-1", True, 5)  # not resolved yet
    resolved = service.resolve(people["staff"], ticket.id, "已电话告知")
    assert resolved.status == "resolved" and resolved.resolved_at == clock.now
    for action in (
        lambda: service.reply(people["staff"], ticket.id, "再说一句"),
        lambda: service.claim(people["staff"], ticket.id),
        lambda: service.resolve(people["staff"], ticket.id),
        lambda: service.transfer(people["staff"], ticket.id, OTHER, "理由"),
        lambda: service.return_(people["staff"], ticket.id, "理由"),
    ):
        with pytest.raises(InvalidTransition):
            action()

    with pytest.raises(NotFound):
        service.record_feedback(ticket.id, "another-conversation", True, 5)
    with pytest.raises(InvalidInput):
        service.record_feedback(ticket.id, "conv-1", True, 6)
    rated = service.record_feedback(ticket.id, "conv-1", True, 4)
    assert (rated.outcome_solved, rated.rating) == (True, 4)
    service.record_feedback(ticket.id, "conv-1", True, 4)  # a retry is fine
    with pytest.raises(InvalidTransition):
        service.record_feedback(ticket.id, "conv-1", False, 1)

    log = events(service, ticket.id)
    assert [e.action for e in log] == ["created", "claimed", "replied", "replied", "resolved", "feedback"]
    assert log[1].actor_name == "张三" and log[1].remote_addr == "10.0.0.5"
    assert log[4].detail == {"note": "已电话告知", "on_time": True}


def test_reply_needs_claim_and_the_right_person(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    with pytest.raises(InvalidTransition):
        service.reply(people["staff"], ticket.id, "你好")
    service.claim(people["staff"], ticket.id)
    with pytest.raises(PermissionDenied) as caught:
        service.reply(people["staff2"], ticket.id, "你好")
    assert "张三" in caught.value.message
    with pytest.raises(PermissionDenied):
        service.resolve(people["staff2"], ticket.id)
    with pytest.raises(InvalidInput):
        service.reply(people["staff"], ticket.id, "   ")
    # The department's lead may step in.
    service.reply(people["lead"], ticket.id, "我是科长，您的问题我们已收到。")
    assert service.resolve(people["lead"], ticket.id).status == "resolved"


def test_supervisor_sees_everything_but_does_not_work_other_queues(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    assert service.get_ticket(people["super"], ticket.id).id == ticket.id
    with pytest.raises(PermissionDenied):
        service.claim(people["super"], ticket.id)


# -- transfer, return, dispatch ----------------------------------------------------------------------------


def test_transfer_moves_ticket_to_other_queue(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    service.claim(people["staff"], ticket.id)
    with pytest.raises(InvalidInput):
        service.transfer(people["staff"], ticket.id, OTHER, "  ")
    with pytest.raises(InvalidInput):
        service.transfer(people["staff"], ticket.id, DEPT, "同部门")
    with pytest.raises(InvalidInput):
        service.transfer(people["staff"], ticket.id, "nowhere", "理由")
    moved = service.transfer(people["staff"], ticket.id, OTHER, "属于市场监管事项", remote_addr="10.0.0.6")
    assert (moved.status, moved.department, moved.assignee_id) == ("transferred", OTHER, None)
    with pytest.raises(NotFound):
        service.get_ticket(people["staff"], ticket.id)
    assert [t.id for t in service.list_tickets(people["other"], status="transferred")] == [ticket.id]
    assert service.claim(people["other"], ticket.id).status == "claimed"
    transfer_event = events(service, ticket.id)[-2]
    assert transfer_event.detail == {"from": DEPT, "to": OTHER, "reason": "属于市场监管事项"}


def test_return_goes_to_office_and_supervisor_dispatches(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    returned = service.return_(people["staff"], ticket.id, "不属于本部门职责")
    assert (returned.status, returned.department) == ("returned", CHUISHAO_OFFICE)
    with pytest.raises(InvalidTransition):
        service.return_(people["office"], ticket.id, "再退")
    assert [t.id for t in service.list_tickets(people["office"])] == [ticket.id]
    dispatched = service.transfer(people["super"], ticket.id, OTHER, "督办派发至市场监管局")
    assert (dispatched.status, dispatched.department) == ("transferred", OTHER)
    assert actions(service, ticket.id) == ["created", "returned", "transferred"]


# -- lead and supervisor actions --------------------------------------------------------------------------


def test_assign_is_for_leads_within_the_department(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    with pytest.raises(PermissionDenied):
        service.assign(people["staff"], ticket.id, people["staff2"].id)
    with pytest.raises(InvalidInput):
        service.assign(people["lead"], ticket.id, people["other"].id)
    assigned = service.assign(people["lead"], ticket.id, people["staff2"].id)
    assert (assigned.status, assigned.assignee_id) == ("claimed", people["staff2"].id)
    assert service.summary(assigned)["assignee"] == {
        "id": people["staff2"].id,
        "name": "李四",
        "number": "HZ0002",
    }
    service.reply(people["staff2"], ticket.id, "您好")
    event = events(service, ticket.id)[1]
    assert (event.action, event.actor_name, event.detail["assignee_name"]) == ("assigned", "王科长", "李四")


def test_escalate_only_by_supervisor(service: TicketService, people, clock) -> None:
    ticket, _ = service.create_ticket(payload())
    with pytest.raises(PermissionDenied):
        service.escalate(people["lead"], ticket.id)
    escalated = service.escalate(people["super"], ticket.id, "请尽快联系企业")
    assert escalated.escalated_at == clock.now
    assert actions(service, ticket.id)[-1] == "escalated"


def test_extension_request_and_decisions(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    service.claim(people["staff"], ticket.id)
    with pytest.raises(InvalidInput):
        service.request_extension(people["staff"], ticket.id, 16, "需要现场核查")  # 15 + 16 > 30
    with pytest.raises(InvalidInput):
        service.request_extension(people["staff"], ticket.id, 5, "")
    first = service.request_extension(people["staff"], ticket.id, 10, "需要现场核查")
    with pytest.raises(InvalidTransition):
        service.request_extension(people["staff"], ticket.id, 2, "再申请")
    with pytest.raises(PermissionDenied):
        service.approve_extension(people["staff"], ticket.id, first.id)
    with pytest.raises(NotFound):
        service.approve_extension(people["other_lead"], ticket.id, first.id)
    approved = service.approve_extension(people["lead"], ticket.id, first.id)
    # 25 working days from Thu 26 Nov 2026.
    assert approved.extended_due.astimezone(SHANGHAI) == dt.datetime(2026, 12, 31, 17, 30, tzinfo=SHANGHAI)
    assert approved.final_due == approved.extended_due
    with pytest.raises(InvalidTransition):
        service.approve_extension(people["lead"], ticket.id, first.id)

    second = service.request_extension(people["staff"], ticket.id, 5, "仍需协调")
    rejected = service.reject_extension(people["super"], ticket.id, second.id, "理由不足")
    assert rejected.status == "rejected"
    last = service.request_extension(people["staff"], ticket.id, 5, "最后一次")
    service.approve_extension(people["super"], ticket.id, last.id)
    with pytest.raises(InvalidTransition):
        service.request_extension(people["staff"], ticket.id, 1, "超过30个工作日")
    detail = service.ticket_detail(people["lead"], ticket.id)
    assert [x["status"] for x in detail["extensions"]] == ["approved", "rejected", "approved"]
    assert actions(service, ticket.id)[-5:] == [
        "extension_approved",
        "extension_requested",
        "extension_rejected",
        "extension_requested",
        "extension_approved",
    ]


# -- overdue, queue, figures -------------------------------------------------------------------------------


def test_overdue_is_derived_sorted_and_logged_once(service: TicketService, people, clock) -> None:
    early, _ = service.create_ticket(payload("a"))
    clock.advance(days=1)  # Friday 27 Nov
    late, _ = service.create_ticket(payload("b", conversation_id="conv-2"))
    assert [t.id for t in service.list_tickets(people["staff"])] == [early.id, late.id]
    assert service.list_tickets(people["staff"], overdue=True) == []

    clock.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI)  # after Friday 17:30
    assert [t.id for t in service.list_tickets(people["staff"], overdue=True)] == [early.id]
    service.list_tickets(people["staff"])
    service.get_ticket(people["staff"], early.id)
    assert actions(service, early.id).count("overdue") == 1
    assert service.summary(service.get_ticket(people["staff"], early.id))["overdue"] is True

    # A first reply moves the current due to the resolution deadline: no longer overdue.
    service.claim(people["staff"], early.id)
    service.reply(people["staff"], early.id, "您好")
    assert service.list_tickets(people["staff"], overdue=True) == []
    with pytest.raises(InvalidInput):
        service.list_tickets(people["staff"], status="lost")


def test_stats(service: TicketService, people, clock) -> None:
    on_time, _ = service.create_ticket(payload("a"))
    service.claim(people["staff"], on_time.id)
    clock.advance(hours=3)
    service.reply(people["staff"], on_time.id, "您好")
    service.resolve(people["staff"], on_time.id)
    service.record_feedback(on_time.id, "conv-1", True, 5)
    other, _ = service.create_ticket(payload("b", department=OTHER, conversation_id="conv-2"))
    clock.now = dt.datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI)  # past every deadline
    service.create_ticket(payload("c", conversation_id="conv-3"))

    mine = service.stats(people["staff"], department=OTHER)  # staff only ever get their department
    assert mine["department"] == DEPT
    assert mine["total"] == 2 and mine["by_status"]["resolved"] == 1 and mine["by_status"]["new"] == 1
    assert mine["avg_first_response_seconds"] == 3 * 3600
    assert mine["avg_rating"] == 5
    assert mine["on_time_rate"] == 1.0
    everything = service.stats(people["super"])
    assert everything["total"] == 3
    assert [o["id"] for o in everything["overdue"]] == [other.id]
    assert {d["department"]: d["overdue"] for d in everything["by_department"]} == {DEPT: 0, OTHER: 1}
    assert everything["on_time_rate"] == 0.5  # one on time, one open past its resolution deadline
    public = service.stats(department=OTHER, public=True)
    assert "overdue" not in public and public["overdue_count"] == 1


# -- conversation side -------------------------------------------------------------------------------------


def test_conversation_tickets_newest_first_with_latest_reply(service: TicketService, people, clock) -> None:
    older, _ = service.create_ticket(payload("a"))
    clock.advance(minutes=5)
    newer, _ = service.create_ticket(payload("b"))
    service.claim(people["staff"], older.id)
    service.reply(people["staff"], older.id, "第一条")
    service.reply(people["staff"], older.id, "第二条")
    listed = service.conversation_tickets("conv-1")
    assert [t["id"] for t in listed] == [newer.id, older.id]
    assert listed[0]["latest_reply"] is None
    assert listed[1]["latest_reply"]["text"] == "第二条"
    assert listed[1]["latest_reply"]["staff"]["number"] == "HZ0001"
    assert service.conversation_tickets("nobody") == []


def test_incoming_messages_are_deduplicated(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload())
    batch = [{"text": "请问进度？", "at": 1795665600.123456}, {"text": "我在等。", "at": 1795665660.5}]
    assert service.add_incoming_messages(ticket.id, batch) == 2
    assert (
        service.add_incoming_messages(ticket.id, batch + [{"text": "还有一个问题", "at": 1795665700.0}]) == 1
    )
    detail = service.ticket_detail(people["staff"], ticket.id)
    assert [m["text"] for m in detail["messages"] if m["direction"] == "in"] == [
        "请问进度？",
        "我在等。",
        "还有一个问题",
    ]
    # The enterprise's own words are not echoed back through the polling API.
    assert service.messages_for_conversation("conv-1")["messages"] == []
    assert service.latest_incoming_at(ticket.id).timestamp() == pytest.approx(1795665700.0)


def test_delivery_failure_is_visible_to_staff(service: TicketService, people) -> None:
    ticket, _ = service.create_ticket(payload(channel="wechat"))
    service.claim(people["staff"], ticket.id)
    _, message = service.reply(people["staff"], ticket.id, "您好")
    service.record_delivery(message.id, "failed", "48小时客服消息窗口已过")
    detail = service.ticket_detail(people["staff"], ticket.id)
    assert detail["messages"][0]["delivery_status"] == "failed"
    assert detail["messages"][0]["delivery_error"] == "48小时客服消息窗口已过"
    assert detail["events"][-1]["action"] == "delivery_failed"


# -- users ------------------------------------------------------------------------------------------------


def test_users_and_passwords(service: TicketService, people) -> None:
    assert people["staff"].password_hash.startswith("$argon2")
    assert verify_password(people["staff"].password_hash, "correct-horse-1")
    assert service.authenticate("zhang", "correct-horse-1").id == people["staff"].id
    assert service.authenticate("zhang", "wrong-password") is None
    assert service.authenticate("nobody", "correct-horse-1") is None
    with pytest.raises(InvalidInput, match="用户名已存在"):
        service.create_user("zhang", "another-pass-1", DEPT, "staff", "张三二", "HZ0009")
    for args in (
        ("a b", "long-enough-1", DEPT, "staff", "名", "1"),
        ("newuser", "short", DEPT, "staff", "名", "1"),
        ("newuser", "long-enough-1", "nowhere", "staff", "名", "1"),
        ("newuser", "long-enough-1", DEPT, "boss", "名", "1"),
    ):
        with pytest.raises(InvalidInput):
            service.create_user(*args)
    assert [u.username for u in service.list_users(DEPT)] == ["li", "wang", "zhang"]
