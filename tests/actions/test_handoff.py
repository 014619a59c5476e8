from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.clients.knowledge import KnowledgeClient, KnowledgeSettings
from actions.handoff import ActionRequestHuman

NOT_YET = "当前版本暂不支持在线转人工（提交工单）"


@pytest.mark.parametrize(
    ("slots", "department", "phone", "names"),
    [
        pytest.param(
            {"procedure_id": "md2-registration-change", "handoff_offered": True},
            "sd-yjj", "0531-2222222", ["【第二类医疗器械注册证变更】", "山东省药品监督管理局"],
            id="department-of-the-procedure-in-context",
        ),
        pytest.param(
            {}, "hz-chuishao", "0530-3333333", ["菏泽市企业吹哨办"], id="no-context-goes-to-chuishao"
        ),
        pytest.param(
            {"procedure_id": "deleted-procedure"}, "hz-chuishao", "0530-3333333", ["菏泽市企业吹哨办"],
            id="stale-context-goes-to-chuishao",
        ),
    ],
)
async def test_names_the_responsible_department(
    knowledge_client, dispatcher, domain, make_tracker, slots, department, phone, names
):
    tracker = make_tracker("转人工", "request_human", **slots)
    events = await ActionRequestHuman(knowledge_client).run(dispatcher, tracker, domain)

    assert events == [SlotSet("handoff_offered", False)]
    [message] = dispatcher.messages
    assert message["custom"] == {"type": "handoff_unavailable", "department": department}
    assert phone in message["text"]
    assert NOT_YET in message["text"]
    for name in names:
        assert name in message["text"]
    assert "\n\n" not in message["text"]


async def test_without_a_chuishao_office_points_to_the_hotline(
    tmp_path, write_kb, dispatcher, domain, make_tracker
):
    root = write_kb(tmp_path / "kb", departments_without={"hz-chuishao"})
    client = KnowledgeClient(KnowledgeSettings(knowledge_dir=root, index_dir=tmp_path / "index"))
    events = await ActionRequestHuman(client).run(dispatcher, make_tracker("投诉", "complain"), domain)

    assert events == [SlotSet("handoff_offered", False)]
    assert dispatcher.messages[0]["custom"] == {"type": "handoff_unavailable", "department": None}
    assert "12345" in dispatcher.messages[0]["text"]


async def test_knowledge_base_failure_still_answers(broken_client, dispatcher, domain, make_tracker):
    tracker = make_tracker("转人工", "request_human", procedure_id="md2-operating-record-change")
    events = await ActionRequestHuman(broken_client).run(dispatcher, tracker, domain)

    assert events == [SlotSet("handoff_offered", False)]
    assert dispatcher.messages[0]["custom"] == {"type": "handoff_unavailable", "department": None}
    assert "12345" in dispatcher.messages[0]["text"]
    assert NOT_YET in dispatcher.messages[0]["text"]


def test_action_name():
    assert ActionRequestHuman().name() == "action_request_human"
