"""The handoff: preparing the form, submitting (ticket / outbox / refused), cancel and decline."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.clients.knowledge import KnowledgeClient, KnowledgeSettings
from actions.clients.outbox import Outbox
from actions.handoff import (
    ActionCancelHandoff,
    ActionDeclineHandoff,
    ActionRequestHuman,
    ActionSubmitHandoff,
    default_description,
    idempotency_key,
)
from tests.actions.fake_handoff import FakeHandoffService


def user(text: str, intent: str, timestamp: float) -> dict[str, Any]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return {"event": "user", "text": text, "parse_data": parse, "timestamp": timestamp}


def bot(text: str, timestamp: float) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": timestamp}


def tracker_with(events: list[dict[str, Any]], sender: str = "conv-1", **slots: Any) -> Tracker:
    latest = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker(
        sender_id=sender,
        slots=slots,
        latest_message=latest["parse_data"],
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def slots_of(events: list) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# --- starting the handoff --------------------------------------------------------------------------


async def test_request_human_after_an_answer_prepares_the_form(knowledge_client, dispatcher, domain):
    tracker = tracker_with(
        [
            user("二类医疗器械注册证变更要多久", "ask_time_limit", 100.0),
            bot("【第二类医疗器械注册证变更】…", 101.0),
            user("转人工", "request_human", 200.5),
        ],
        procedure_id="md2-registration-change",
    )
    events = await ActionRequestHuman(knowledge_client).run(dispatcher, tracker, domain)
    slots = slots_of(events)

    assert slots["description"] == "二类医疗器械注册证变更要多久"  # the user's own question
    assert slots["handoff_department"] == "sd-yjj"  # the procedure in context
    assert slots["handoff_started_at"] == 200.5
    assert slots["handoff_offered"] is False
    assert slots["department_confirmed"] is None
    text = dispatcher.messages[0]["text"]
    assert "山东省药品监督管理局" in text
    assert "企业名称" in text and "手机号码" in text and "问题描述" not in text
    assert "取消" in text


async def test_details_in_the_trigger_are_kept(knowledge_client, dispatcher, domain):
    tracker = tracker_with(
        [
            user(
                "我要吹哨，我是菏泽某某药业有限公司，联系人张三，电话13800138000，社保登记办不下来",
                "request_human",
                1.0,
            )
        ]
    )
    slots = slots_of(await ActionRequestHuman(knowledge_client).run(dispatcher, tracker, domain))
    assert slots["company_name"] == "菏泽某某药业有限公司"
    assert slots["contact_name"] == "张三"
    assert slots["mobile"] == "13800138000"
    assert slots["description"].startswith("我要吹哨")  # says more than "转人工": it is the question


async def test_a_complaint_is_its_own_description_and_unclear_goes_to_the_office(
    knowledge_client, dispatcher, domain
):
    tracker = tracker_with([user("窗口工作人员态度太差了", "complain", 1.0)])
    slots = slots_of(await ActionRequestHuman(knowledge_client).run(dispatcher, tracker, domain))
    assert slots["description"] == "窗口工作人员态度太差了"
    assert slots["handoff_department"] == "hz-chuishao"


def test_default_description_skips_handoff_words_and_buttons():
    tracker = tracker_with(
        [
            user("社保开户要什么材料", "ask_materials", 1.0),
            user("/affirm", "affirm", 2.0),
            user("转人工", "request_human", 3.0),
        ]
    )
    assert default_description(tracker) == "社保开户要什么材料"
    assert default_description(tracker_with([user("转人工", "request_human", 1.0)])) is None
    follow_up = tracker_with(
        [
            user("社保开户要什么材料", "ask_materials", 1.0),
            user("照你说的做了，窗口还是不给办", "request_human", 2.0),
        ]
    )
    assert default_description(follow_up) == "社保开户要什么材料；照你说的做了，窗口还是不给办"


async def test_knowledge_base_failure_still_starts_the_form(broken_client, dispatcher, domain):
    tracker = tracker_with([user("转人工", "request_human", 1.0)], procedure_id="md2-operating-record-change")
    slots = slots_of(await ActionRequestHuman(broken_client).run(dispatcher, tracker, domain))
    assert slots["handoff_department"] == "hz-chuishao"
    assert dispatcher.messages and "企业名称" in dispatcher.messages[0]["text"]


# --- submitting ------------------------------------------------------------------------------------

FILLED = {
    "company_name": "菏泽某某药业有限公司",
    "credit_code": "无",
    "contact_name": "张三",
    "mobile": "13800138000",
    "description": "二类医疗器械注册证变更要多久",
    "description_confirmed": True,
    "handoff_department": "sd-yjj",
    "department_confirmed": True,
    "handoff_started_at": 200.5,
    "procedure_id": "md2-registration-change",
}


def filled_tracker(sender: str = "conv-1") -> Tracker:
    return tracker_with(
        [
            user("二类医疗器械注册证变更要多久", "ask_time_limit", 100.0),
            bot("法定时限：20个工作日", 101.0),
            user("转人工", "request_human", 200.5),
            user("确认", "affirm", 260.0),
        ],
        sender=sender,
        **FILLED,
    )


@pytest.fixture
def service() -> FakeHandoffService:
    return FakeHandoffService()


async def test_submit_creates_the_ticket_and_says_how_to_follow_it(
    service, tmp_path, knowledge_client, dispatcher, domain
):
    action = ActionSubmitHandoff(service.client(), Outbox(tmp_path / "o.db"), knowledge_client)
    events = await action.run(dispatcher, filled_tracker(), domain)

    [request] = service.requests
    assert request["idempotency_key"] == idempotency_key("conv-1", 200.5)
    assert request["credit_code"] is None  # skipped
    assert request["department"] == "sd-yjj"
    assert request["question"] == "二类医疗器械注册证变更要多久"
    assert [line["role"] for line in request["transcript"]] == ["user", "bot", "user", "user"]
    assert request["transcript"][0]["at"] == "1970-01-01T00:01:40+00:00"
    [message] = dispatcher.messages
    assert message["custom"] == {
        "type": "handoff_ticket",
        "ticket": {
            "id": "HZ-20261126-0001",
            "department": "sd-yjj",
            "department_name": "山东省药品监督管理局",
            "due": "2026-12-17T09:00:00+00:00",
        },
    }
    for words in ("HZ-20261126-0001", "山东省药品监督管理局", "2026年12月17日", "我的工单怎么样了"):
        assert words in message["text"]
    assert "\n\n" not in message["text"]
    slots = slots_of(events)
    assert slots["description"] is None and slots["handoff_started_at"] is None
    assert slots["handoff_offered"] is False


async def test_a_retried_submit_gives_the_same_ticket(
    service, tmp_path, knowledge_client, dispatcher, domain
):
    action = ActionSubmitHandoff(service.client(), Outbox(tmp_path / "o.db"), knowledge_client)
    await action.run(dispatcher, filled_tracker(), domain)
    await action.run(dispatcher, filled_tracker(), domain)
    assert len(service.by_key) == 1
    assert dispatcher.messages[0]["custom"] == dispatcher.messages[1]["custom"]


async def test_service_down_queues_and_says_so_honestly(
    service, tmp_path, knowledge_client, dispatcher, domain
):
    service.down = True
    outbox = Outbox(tmp_path / "o.db")
    await ActionSubmitHandoff(service.client(), outbox, knowledge_client).run(
        dispatcher, filled_tracker(), domain
    )

    [message] = dispatcher.messages
    assert message["custom"] == {"type": "handoff_queued", "department": "sd-yjj"}
    assert "自动提交" in message["text"] and "0531-2222222" in message["text"]
    assert "HZ-" not in message["text"]
    [queued] = outbox.pending_for("conv-1")
    assert queued.payload["mobile"] == "13800138000"

    service.down = False
    assert await outbox.deliver_due(service.client(), now=10**10) == 1
    assert len(service.by_key) == 1


async def test_a_refused_ticket_is_not_queued(service, tmp_path, knowledge_client, dispatcher, domain):
    outbox = Outbox(tmp_path / "o.db")
    tracker = tracker_with([user("转人工", "request_human", 1.0)], **{**FILLED, "mobile": None})
    await ActionSubmitHandoff(service.client(), outbox, knowledge_client).run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["custom"] == {"type": "handoff_failed", "department": "sd-yjj"}
    assert outbox.pending_for("conv-1") == []


# --- cancel and decline ----------------------------------------------------------------------------


async def test_cancel_creates_nothing_and_ends_the_form(dispatcher, domain, make_tracker):
    events = await ActionCancelHandoff().run(dispatcher, make_tracker("算了", "cancel"), domain)
    assert ActiveLoop(None) in events
    assert SlotSet("requested_slot", None) in events
    assert SlotSet("description", None) in events
    assert "取消" in dispatcher.messages[0]["text"]


async def test_declining_the_offer_clears_it(dispatcher, domain, make_tracker):
    events = await ActionDeclineHandoff().run(
        dispatcher, make_tracker("不用了", "deny", handoff_offered=True), domain
    )
    assert events == [SlotSet("handoff_offered", False)]
    assert dispatcher.messages[0]["response"] == "utter_handoff_declined"


def test_idempotency_key_depends_on_conversation_and_start():
    assert idempotency_key("a", 1.0) == idempotency_key("a", 1.0)
    assert idempotency_key("a", 1.0) != idempotency_key("a", 2.0)
    assert idempotency_key("a", 1.0) != idempotency_key("b", 1.0)


def test_action_names():
    assert ActionRequestHuman(KnowledgeClient(KnowledgeSettings())).name() == "action_request_human"
