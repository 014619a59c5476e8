from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet

from actions import templates
from actions.answer import ActionAnswerProcedure
from actions.clients.knowledge import KnowledgeClient, KnowledgeSettings

OVERVIEW_BUTTONS = [
    {"title": "需要哪些材料", "payload": "/ask_materials"},
    {"title": "办理流程", "payload": "/ask_steps"},
    {"title": "收费", "payload": "/ask_fee"},
    {"title": "法律依据", "payload": "/ask_legal_basis"},
]


def procedure(pid: str, name: str, department: str = "hz-xzsp") -> dict[str, str]:
    """The `procedure` object of a procedure_answer payload."""
    return {"id": pid, "name": name, "department": department}


MD2_RECORD = procedure("md2-operating-record-change", "第二类医疗器械经营备案变更")
MD3_LICENCE = procedure("md3-operating-licence-change", "第三类医疗器械经营许可变更")
SOCIAL_INSURANCE = procedure("social-insurance-registration", "社会保险单位参保登记", "hz-rsj")
COMPANY_SETUP = procedure("company-setup-registration", "企业设立登记")
UNVERIFIED_NOTE = "以上信息仅供参考，请以窗口/山东政务服务网最新办事指南为准，可致电0530-1111111咨询。"


def answered(procedure: str, aspect: str) -> list[dict[str, Any]]:
    return [
        SlotSet("procedure_id", procedure),
        SlotSet("aspect", aspect),
        SlotSet("candidates", None),
        SlotSet("handoff_offered", False),
    ]


async def run(knowledge_client, dispatcher, domain, tracker) -> list[dict[str, Any]]:
    events = await ActionAnswerProcedure(knowledge_client).run(dispatcher, tracker, domain)
    assert len(dispatcher.messages) == 1, "every reply is exactly one message"
    assert "\n\n" not in (dispatcher.messages[0]["text"] or ""), "a blank line splits the REST reply"
    return events


@pytest.mark.parametrize(
    ("text", "intent", "entities", "slots", "procedure", "aspect"),
    [
        pytest.param(
            "第二类医疗器械经营备案变更怎么办", "ask_procedure", {"action": "变更"}, {},
            MD2_RECORD, "overview", id="first-answer-overview",
        ),
        pytest.param(
            "要带什么材料？", "ask_materials", {},
            {"procedure_id": "md2-operating-record-change", "aspect": "overview"},
            MD2_RECORD, "materials", id="follow-up-materials-uses-context",
        ),
        pytest.param(
            "可以委托别人办吗", "ask_procedure", {},
            {"procedure_id": "md2-operating-record-change", "aspect": "materials"},
            MD2_RECORD, "overview", id="follow-up-without-aspect-words",
        ),
        pytest.param(
            "哪个部门管", "ask_department", {},
            {"procedure_id": "md3-operating-licence-change", "aspect": "overview"},
            MD3_LICENCE, "department", id="follow-up-department",
        ),
        pytest.param(
            "要多久", "ask_time_limit", {},
            {"procedure_id": "company-setup-registration", "aspect": "materials"},
            COMPANY_SETUP, "time_limit", id="follow-up-time-limit",
        ),
        pytest.param(
            "第三类医疗器械经营许可变更要多长时间呢", "ask_time_limit", {"action": "变更"},
            {"procedure_id": "md3-operating-licence-change", "aspect": "materials"},
            MD3_LICENCE, "time_limit", id="full-question-ending-in-ne-about-context",
        ),
        pytest.param(
            "社保登记呢", "ask_procedure", {},
            {"procedure_id": "company-setup-registration", "aspect": "fee"},
            SOCIAL_INSURANCE, "fee", id="topic-switch-by-new-words",
        ),
        pytest.param(
            "那材料呢", "ask_materials", {},
            {"procedure_id": "md3-operating-licence-change", "aspect": "overview"},
            MD3_LICENCE, "materials", id="aspect-only-contrast-stays",
        ),
        pytest.param(
            "那收费呢", "ask_procedure", {},
            {"procedure_id": "md3-operating-licence-change", "aspect": "overview"},
            MD3_LICENCE, "fee", id="aspect-words-beat-an-aspectless-intent",
        ),
        pytest.param(
            "注册公司要准备什么材料", "ask_materials", {"action": "新办"},
            {"procedure_id": "md2-operating-record-change", "aspect": "overview"},
            COMPANY_SETUP, "materials", id="new-procedure-named-overrides-context",
        ),
        pytest.param(
            "/ask_procedure", "ask_procedure", {"procedure_id": "md3-operating-licence-change"}, {},
            MD3_LICENCE, "overview", id="button-picks-procedure",
        ),
        pytest.param(
            "/ask_procedure", "ask_procedure", {"procedure_id": "md3-operating-licence-change"},
            {
                "candidates": ["md2-operating-record-change", "md3-operating-licence-change"],
                "aspect": "materials",
            },
            MD3_LICENCE, "materials", id="button-after-clarify-answers-pending-aspect",
        ),
    ],
)
async def test_answers(
    knowledge_client, dispatcher, domain, make_tracker, text, intent, entities, slots, procedure, aspect
):
    events = await run(knowledge_client, dispatcher, domain, make_tracker(text, intent, entities, **slots))

    assert events == answered(procedure["id"], aspect)
    message = dispatcher.messages[0]
    assert message["custom"] == {
        "type": "procedure_answer",
        "procedure": procedure,
        "aspect": aspect,
        "verified": procedure["id"] == "md3-operating-licence-change",
    }
    assert procedure["name"] in message["text"]
    assert message["buttons"] == (OVERVIEW_BUTTONS if aspect == "overview" else [])


FIRST_QUESTION = (
    "二类医疗器械备案证变更法人", "ask_procedure", {"action": "变更", "change_item": "法定代表人"}
)


async def test_topic_switch_keeps_aspect_and_change_item(knowledge_client, dispatcher, domain, make_tracker):
    tracker = make_tracker(
        "那三类的呢",
        "ask_procedure",
        history=[FIRST_QUESTION, ("要带什么材料？", "ask_materials", {})],
        procedure_id="md2-operating-record-change",
        aspect="materials",
    )
    events = await run(knowledge_client, dispatcher, domain, tracker)

    assert events == answered("md3-operating-licence-change", "materials")
    assert dispatcher.messages[0]["custom"]["procedure"] == MD3_LICENCE
    assert dispatcher.messages[0]["text"].startswith("办理【第三类医疗器械经营许可变更】需要准备以下材料：")


async def test_topic_switch_reads_the_change_item_from_earlier_words(
    knowledge_client, dispatcher, domain, make_tracker
):
    """DIET did not tag 法人 in the first question; the words still say which change was asked."""
    tracker = make_tracker(
        "那三类的呢",
        "ask_procedure",
        history=[("二类备案凭证换法人怎么办", "ask_procedure", {}), ("要带什么材料", "ask_materials", {})],
        procedure_id="md2-operating-record-change",
        aspect="materials",
    )
    events = await run(knowledge_client, dispatcher, domain, tracker)

    assert events == answered("md3-operating-licence-change", "materials")


async def test_topic_switch_without_change_item_asks_which(
    knowledge_client, dispatcher, domain, make_tracker
):
    tracker = make_tracker(
        "那三类的呢", "ask_procedure", procedure_id="md2-operating-record-change", aspect="materials"
    )
    events = await run(knowledge_client, dispatcher, domain, tracker)

    offered = ["md3-operating-licence-change", "md3-operating-licence-change-premises"]
    assert sorted(c["id"] for c in dispatcher.messages[0]["custom"]["candidates"]) == offered
    assert events == [
        SlotSet("procedure_id", "md2-operating-record-change"),
        SlotSet("aspect", "materials"),
        SlotSet("candidates", [c["id"] for c in dispatcher.messages[0]["custom"]["candidates"]]),
        SlotSet("handoff_offered", False),
    ]


async def test_first_answer_reads_as_an_overview(knowledge_client, dispatcher, domain, make_tracker):
    await run(knowledge_client, dispatcher, domain, make_tracker("第二类医疗器械经营备案变更怎么办"))

    text = dispatcher.messages[0]["text"]
    for expected in ("菏泽市行政审批服务局", "办理地点", "山东政务服务网", "办理时限：法定当场办结"):
        assert expected in text
    assert "收费：不收费" in text
    assert "营业执照变更在先" in text, "notes are facts the answer must mention"
    assert text.endswith(templates.FOLLOW_UP_HINT)


async def test_follow_up_materials_lists_the_context_procedure(
    knowledge_client, dispatcher, domain, make_tracker
):
    tracker = make_tracker("要带什么材料？", "ask_materials", procedure_id="md2-operating-record-change")
    await run(knowledge_client, dispatcher, domain, tracker)

    text = dispatcher.messages[0]["text"]
    assert "1. 变更备案信息（在线填报，必须提供）" in text
    assert "2. 变更后的营业执照（复印件，1份，变更法定代表人时需提供）" in text


async def test_clarify_offers_candidates(knowledge_client, dispatcher, domain, make_tracker):
    tracker = make_tracker("我想变更法人", "ask_procedure", {"action": "变更", "change_item": "法定代表人"})
    events = await run(knowledge_client, dispatcher, domain, tracker)

    message = dispatcher.messages[0]
    assert message["custom"]["type"] == "clarify"
    offered = [c["id"] for c in message["custom"]["candidates"]]
    assert 2 <= len(offered) <= 5
    expected = {"md2-operating-record-change", "md3-operating-licence-change", "company-change-registration"}
    assert expected <= set(offered)
    assert message["custom"]["candidates"][0].keys() == {"id", "name"}
    assert message["buttons"] == [
        {"title": c["name"], "payload": f'/ask_procedure{{"procedure_id": "{c["id"]}"}}'}
        for c in message["custom"]["candidates"]
    ]
    assert message["text"].startswith("您说的是以下哪一项？")
    assert events == [
        SlotSet("procedure_id", None),
        SlotSet("aspect", "overview"),
        SlotSet("candidates", offered),
        SlotSet("handoff_offered", False),
    ]


async def test_clarify_is_resolved_by_the_procedure_in_context(
    knowledge_client, dispatcher, domain, make_tracker
):
    tracker = make_tracker(
        "我想变更法人", "ask_materials", {"action": "变更", "change_item": "法定代表人"},
        procedure_id="md3-operating-licence-change",
    )
    events = await run(knowledge_client, dispatcher, domain, tracker)

    assert events == answered("md3-operating-licence-change", "materials")


@pytest.mark.parametrize(
    ("text", "entities", "slots"),
    [
        pytest.param("我想办理游艇驾驶证考试报名", {}, {}, id="no-context"),
        pytest.param(
            "游艇驾驶证怎么考", {"licence": "游艇驾驶证"},
            {"procedure_id": "md2-operating-record-change", "aspect": "fee"},
            id="other-licence-entity-with-context",
        ),
        pytest.param(
            "我要办游艇驾驶证", {}, {"procedure_id": "md2-operating-record-change", "aspect": "fee"},
            id="other-topic-without-entity-with-context",
        ),
    ],
)
async def test_no_match_offers_a_human(
    knowledge_client, dispatcher, domain, make_tracker, text, entities, slots
):
    tracker = make_tracker(text, "nlu_fallback", entities, **slots)
    events = await run(knowledge_client, dispatcher, domain, tracker)

    message = dispatcher.messages[0]
    assert message["text"] == templates.NO_MATCH
    assert message["custom"] == {"type": "handoff_offer", "department": None}
    assert message["buttons"] == [
        {"title": "转人工", "payload": "/request_human"},
        {"title": "换个说法", "payload": "/deny"},
    ]
    assert events == [
        SlotSet("procedure_id", None),
        SlotSet("aspect", slots.get("aspect")),
        SlotSet("candidates", None),
        SlotSet("handoff_offered", True),
    ]


@pytest.mark.parametrize(
    ("procedure_id", "disclaimer"),
    [
        ("md2-operating-record-change", UNVERIFIED_NOTE),
        ("md3-operating-licence-change", None),
    ],
)
@pytest.mark.parametrize("intent", ["ask_procedure", "ask_materials", "ask_fee", "ask_location"])
async def test_unverified_entries_carry_the_disclaimer(
    knowledge_client, dispatcher, domain, make_tracker, procedure_id, disclaimer, intent
):
    tracker = make_tracker("/ask", intent, {"procedure_id": procedure_id})
    await run(knowledge_client, dispatcher, domain, tracker)

    text = dispatcher.messages[0]["text"]
    if disclaimer:
        assert disclaimer in text
    else:
        assert "仅供参考" not in text


async def test_aspect_without_any_procedure_asks_which(knowledge_client, dispatcher, domain, make_tracker):
    events = await run(knowledge_client, dispatcher, domain, make_tracker("要带什么材料？", "ask_materials"))

    message = dispatcher.messages[0]
    assert message["text"] == templates.ASK_WHICH
    assert message["custom"] == {"type": "clarify", "candidates": []}
    assert message["buttons"] == []
    assert events == [
        SlotSet("procedure_id", None),
        SlotSet("aspect", "materials"),
        SlotSet("candidates", []),
        SlotSet("handoff_offered", False),
    ]


async def test_knowledge_base_failure_apologises(broken_client, dispatcher, domain, make_tracker, caplog):
    events = await ActionAnswerProcedure(broken_client).run(
        dispatcher, make_tracker("二类备案换法人要什么材料", "ask_materials"), domain
    )

    assert events == []
    assert dispatcher.messages[0]["text"] == templates.KNOWLEDGE_UNAVAILABLE
    assert "12345" in dispatcher.messages[0]["text"]
    assert "action_answer_procedure failed" in caplog.text


async def test_unknown_procedure_id_slot_is_ignored(knowledge_client, dispatcher, domain, make_tracker):
    tracker = make_tracker("注册公司", "ask_procedure", {"action": "新办"}, procedure_id="deleted-procedure")
    events = await run(knowledge_client, dispatcher, domain, tracker)

    assert events == answered("company-setup-registration", "overview")


def test_action_name():
    assert ActionAnswerProcedure().name() == "action_answer_procedure"


@pytest.fixture(scope="module")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeClient:
    """The real knowledge base (knowledge/data), for follow-ups that depend on its neighbours."""
    settings = KnowledgeSettings(index_dir=tmp_path_factory.mktemp("no-index"))
    client = KnowledgeClient(settings)
    client.load()
    return client


async def test_a_word_of_the_context_name_is_a_follow_up(real_client, dispatcher, domain, make_tracker):
    """"登记" is a procedure word, but here it is the 特种设备使用登记 being talked about."""
    tracker = make_tracker(
        "登记在哪办", "ask_location", procedure_id="special-equipment-registration", aspect="overview"
    )
    events = await run(real_client, dispatcher, domain, tracker)

    assert events == answered("special-equipment-registration", "location")


async def test_a_topic_switch_on_a_shared_certificate_keeps_the_subject(
    real_client, dispatcher, domain, make_tracker
):
    """营业执照 is both companies' and 个体户's: after the 个体户's setup, its deregistration is meant."""
    tracker = make_tracker(
        "那要是注销呢", "ask_procedure", procedure_id="individual-business-setup", aspect="materials"
    )
    events = await run(real_client, dispatcher, domain, tracker)

    assert events == answered("individual-business-deregistration", "materials")


async def test_a_topic_switch_to_another_certificate_keeps_the_change(
    real_client, dispatcher, domain, make_tracker
):
    """"变更法人" on the business licence, then "那二类备案呢": the 二类 record's 法定代表人 change."""
    tracker = make_tracker(
        "那二类备案呢",
        "ask_procedure",
        history=[
            ("营业执照变更法人", "ask_procedure", {"change_item": "法定代表人"}),
            ("多久", "ask_time_limit", {}),
        ],
        procedure_id="company-change-legal-rep",
        aspect="time_limit",
    )
    events = await run(real_client, dispatcher, domain, tracker)

    assert events == answered("md2-operating-record-change", "time_limit")


async def test_a_topic_switch_to_a_certificate_without_that_change_is_searched_alone(
    real_client, dispatcher, domain, make_tracker
):
    tracker = make_tracker(
        "那社保开户呢",
        "ask_procedure",
        history=[("营业执照变更法人", "ask_procedure", {"change_item": "法定代表人"})],
        procedure_id="company-change-legal-rep",
        aspect="overview",
    )
    events = await run(real_client, dispatcher, domain, tracker)

    assert events == answered("social-insurance-registration", "overview")
