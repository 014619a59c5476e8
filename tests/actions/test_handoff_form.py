"""validate_handoff_form and the two prompts built in code."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.handoff_form import (
    ActionAskDepartmentConfirmed,
    ActionAskDescriptionConfirmed,
    ValidateHandoffForm,
)


async def validate(
    knowledge_client,
    dispatcher,
    domain,
    make_tracker,
    text,
    requested,
    intent="inform",
    entities=None,
    **slots,
):
    tracker = make_tracker(text, intent, entities, requested_slot=requested, **slots)
    return await ValidateHandoffForm(knowledge_client).run(dispatcher, tracker, domain)


@pytest.mark.parametrize(
    ("requested", "text", "intent", "expected"),
    [
        ("company_name", "菏泽某某药业有限公司", "inform", {"company_name": "菏泽某某药业有限公司"}),
        ("credit_code", "91350100M000100Y43", "inform", {"credit_code": "91350100M000100Y43"}),
        ("credit_code", "跳过", "inform", {"credit_code": "无"}),
        ("credit_code", "/deny", "deny", {"credit_code": "无"}),
        ("contact_name", "王女士", "inform", {"contact_name": "王女士"}),
        ("mobile", "138 0013 8000", "inform", {"mobile": "13800138000"}),
        (
            "description",
            "药品经营许可证换证提交一个月了没有结果",
            "inform",
            {"description": "药品经营许可证换证提交一个月了没有结果", "description_confirmed": True},
        ),
        ("description_confirmed", "是的", "affirm", {"description_confirmed": True}),
        ("description_confirmed", "修改", "deny", {"description": None, "description_confirmed": None}),
        ("department_confirmed", "确认", "affirm", {"department_confirmed": True}),
        (
            "department_confirmed",
            "还是交给人社局吧",
            "inform",
            {"handoff_department": "hz-rsj", "department_confirmed": True},
        ),
    ],
)
async def test_answers_fill_the_requested_slot(
    knowledge_client, dispatcher, domain, make_tracker, requested, text, intent, expected
):
    events = await validate(knowledge_client, dispatcher, domain, make_tracker, text, requested, intent)
    got = {e["name"]: e["value"] for e in events}
    assert {name: got.get(name) for name in expected} == expected
    assert set(got) - set(expected) <= {"handoff_department", "handoff_candidates"}  # a new description
    assert dispatcher.messages == []


async def test_a_department_button_sends_its_code(knowledge_client, dispatcher, domain, make_tracker):
    events = await validate(
        knowledge_client,
        dispatcher,
        domain,
        make_tracker,
        '/inform{"department": "sd-yjj"}',
        "department_confirmed",
        entities={"department": "sd-yjj"},
    )
    assert SlotSet("handoff_department", "sd-yjj") in events


@pytest.mark.parametrize(
    ("requested", "text", "reason"),
    [
        ("mobile", "12345", "11位"),
        ("credit_code", "91350100M000100Y44", "校验位"),
        ("contact_name", "张3", "姓名"),
        ("description", "急", "描述太短"),
        ("department_confirmed", "交给外星人", "没有找到您说的部门"),
    ],
)
async def test_invalid_answers_are_explained_and_asked_again(
    knowledge_client, dispatcher, domain, make_tracker, requested, text, reason
):
    events = await validate(knowledge_client, dispatcher, domain, make_tracker, text, requested)
    assert SlotSet(requested, None) in events  # None: the form asks for it again
    [message] = dispatcher.messages
    assert reason in message["text"]
    assert message["custom"] == {"type": "handoff_invalid", "slot": requested}


async def test_everything_in_one_go_fills_several_slots(knowledge_client, dispatcher, domain, make_tracker):
    events = await validate(
        knowledge_client,
        dispatcher,
        domain,
        make_tracker,
        "我是菏泽某某药业有限公司，联系人张三，电话13800138000",
        "company_name",
    )
    assert {e["name"]: e["value"] for e in events} == {
        "company_name": "菏泽某某药业有限公司",
        "contact_name": "张三",
        "mobile": "13800138000",
    }


async def test_a_new_description_is_routed_again(knowledge_client, dispatcher, domain, make_tracker):
    events = await validate(
        knowledge_client,
        dispatcher,
        domain,
        make_tracker,
        "单位社保登记办了一个月还没好",
        "description",
        handoff_department="hz-chuishao",
    )
    slots = {e["name"]: e["value"] for e in events}
    assert slots["description"] == "单位社保登记办了一个月还没好"
    assert slots["handoff_department"] == "hz-rsj"
    assert slots["handoff_candidates"][0] == "hz-rsj"


async def test_other_details_do_not_become_the_requested_value(
    knowledge_client, dispatcher, domain, make_tracker
):
    events = await validate(
        knowledge_client, dispatcher, domain, make_tracker, "电话13800138000", "company_name"
    )
    assert {e["name"]: e["value"] for e in events} == {"mobile": "13800138000"}


@pytest.mark.parametrize(("text", "intent"), [("算了", "deny"), ("取消", "cancel"), ("不用了", "inform")])
async def test_a_cancel_is_left_to_the_cancel_rule(
    knowledge_client, dispatcher, domain, make_tracker, text, intent
):
    events = await validate(knowledge_client, dispatcher, domain, make_tracker, text, "credit_code", intent)
    assert events == []  # nothing extracted: the form rejects and the cancel rule runs


async def test_description_prompt_quotes_the_question(dispatcher, domain, make_tracker):
    tracker = make_tracker("转人工", "request_human", description="社保开户一个月没办好")
    await ActionAskDescriptionConfirmed().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert "社保开户一个月没办好" in message["text"]
    assert message["custom"] == {"type": "handoff_form", "slot": "description_confirmed"}


async def test_department_prompt_offers_the_top_choices(knowledge_client, dispatcher, domain, make_tracker):
    tracker = make_tracker(
        "转人工",
        "request_human",
        handoff_department="hz-rsj",
        handoff_candidates=["hz-rsj", "hz-xzsp", "hz-chuishao"],
    )
    await ActionAskDepartmentConfirmed(knowledge_client).run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert "菏泽市人力资源和社会保障局" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        "/affirm",
        '/inform{"department": "hz-xzsp"}',
        '/inform{"department": "hz-chuishao"}',
    ]
    assert message["custom"]["type"] == "handoff_form"
    assert message["custom"]["slot"] == "department_confirmed"
