from __future__ import annotations

import pytest

from actions import templates

UNCONFIRMED = "以窗口/山东政务服务网最新办事指南为准"
PROCEDURE_IDS = [
    "md2-operating-record-change",
    "md3-operating-licence-change",
    "md2-registration-change",
    "company-change-registration",
    "company-setup-registration",
    "social-insurance-registration",
]


def render(procedures, departments, aspect, procedure_id):
    procedure = procedures[procedure_id]
    return templates.answer(aspect, procedure, departments.get(procedure.department))


@pytest.mark.parametrize("aspect", sorted(templates.ASPECT_TEMPLATES))
@pytest.mark.parametrize("procedure_id", PROCEDURE_IDS)
def test_every_answer_is_one_message_naming_the_procedure(procedures, departments, aspect, procedure_id):
    text = render(procedures, departments, aspect, procedure_id)

    assert "\n\n" not in text
    assert text == text.strip()
    assert f"【{procedures[procedure_id].name}】" in text
    assert ("仅供参考" in text) is (not procedures[procedure_id].verified)


@pytest.mark.parametrize("aspect", sorted(templates.ASPECT_TEMPLATES))
def test_without_a_department_nothing_breaks(procedures, aspect):
    text = templates.answer(aspect, procedures["md2-operating-record-change"], None)

    assert "\n\n" not in text
    assert "12345" in text, "the disclaimer falls back to the hotline"


def test_fixed_texts_have_no_blank_lines():
    fixed = [
        templates.NO_MATCH,
        templates.ASK_WHICH,
        templates.KNOWLEDGE_UNAVAILABLE,
        templates.CLARIFY_QUESTION,
        templates.FOLLOW_UP_HINT,
        templates.handoff_queued(None),
        templates.handoff_failed(None),
        templates.no_ticket(0),
        templates.no_ticket(2),
    ]
    assert all("\n\n" not in text for text in fixed)


def test_overview(procedures, departments):
    text = render(procedures, departments, "overview", "md3-operating-licence-change")

    assert text.splitlines() == [
        "【第三类医疗器械经营许可变更】",
        "办理部门：菏泽市行政审批服务局",
        "适用对象：菏泽的企业",
        "办理地点：市行政审批服务局政务服务窗口",
        "网上办理：山东政务服务网、爱山东（https://zwfw.sd.gov.cn）",
        "办理时限：法定20个工作日，承诺10个工作日",
        "收费：不收费",
        "您可以继续问：需要哪些材料、办理流程、收费、法律依据。",
    ]


def test_overview_of_an_unverified_entry(procedures, departments):
    lines = render(procedures, departments, "overview", "md2-operating-record-change").splitlines()

    assert "办理条件：营业执照上的法定代表人已先行变更" in lines
    assert "办理时限：法定当场办结" in lines
    assert lines[-2:] == [
        "以上信息仅供参考，请以窗口/山东政务服务网最新办事指南为准，可致电0530-1111111咨询。",
        templates.FOLLOW_UP_HINT,
    ]


def test_materials_are_numbered_with_form_copies_and_condition(procedures, departments):
    lines = render(procedures, departments, "materials", "md2-operating-record-change").splitlines()

    assert lines[:4] == [
        "办理【第二类医疗器械经营备案变更】需要准备以下材料：",
        "1. 变更备案信息（在线填报，必须提供）",
        "2. 变更后的营业执照（复印件，1份，变更法定代表人时需提供）",
        "3. 经办人授权文件（原件，必须提供）：本人办理的不需要",
    ]


def test_steps_are_numbered(procedures, departments):
    lines = render(procedures, departments, "steps", "md3-operating-licence-change").splitlines()

    assert lines == ["【第三类医疗器械经营许可变更】办理流程：", "1. 网上提交申请", "2. 部门审核"]


@pytest.mark.parametrize(
    ("procedure_id", "expected"),
    [
        (
            "md3-operating-licence-change",
            ["法定时限：20个工作日", "承诺时限：10个工作日", "说明：法定代表人等其他事项当场变更"],
        ),
        ("md2-operating-record-change", ["法定时限：当场办结", f"承诺时限：{UNCONFIRMED}"]),
    ],
)
def test_time_limit_separates_statutory_and_promised(procedures, departments, procedure_id, expected):
    lines = render(procedures, departments, "time_limit", procedure_id).splitlines()

    for line in expected:
        assert line in lines


@pytest.mark.parametrize(
    ("procedure_id", "expected"),
    [
        ("md3-operating-licence-change", "收费：不收费"),
        ("md2-registration-change", f"收费：收费情况{UNCONFIRMED}"),
        ("company-change-registration", "收费：收费；示例：收费说明"),
        ("company-setup-registration", "收费：收费情况暂未确认；参考资料未载明"),
        ("social-insurance-registration", "收费：不收费；社会保险费按规定另行缴纳"),
    ],
)
def test_fee(procedures, departments, procedure_id, expected):
    assert render(procedures, departments, "fee", procedure_id).splitlines()[0].endswith(expected)


def test_location_replaces_unconfirmed_fields(procedures, departments):
    lines = render(procedures, departments, "location", "md2-operating-record-change").splitlines()

    assert f"地址：{UNCONFIRMED}" in lines
    assert f"窗口：{UNCONFIRMED}" in lines
    assert f"办公时间：{UNCONFIRMED}" in lines
    assert "咨询电话：0530-1111111" in lines


def test_location_with_confirmed_department(procedures, departments):
    lines = render(procedures, departments, "location", "md2-registration-change").splitlines()

    assert lines[0] == f"【第二类医疗器械注册证变更】办理地点：{UNCONFIRMED}"
    assert "地址：济南市历下区某路1号" in lines
    assert "窗口：政务服务大厅3号窗口" in lines
    assert "办公时间：工作日 9:00-17:00" in lines


def test_online(procedures, departments):
    lines = render(procedures, departments, "online", "md3-operating-licence-change").splitlines()
    assert lines == [
        "【第三类医疗器械经营许可变更】可以通过以下渠道网上办理：",
        "1. 山东政务服务网",
        "2. 爱山东",
        "网址：https://zwfw.sd.gov.cn",
    ]
    assert UNCONFIRMED in render(procedures, departments, "online", "md2-registration-change")


def test_legal_basis(procedures, departments):
    lines = render(procedures, departments, "legal_basis", "md2-operating-record-change").splitlines()

    assert lines[1] == "1. 《医疗器械经营监督管理办法》（国家市场监督管理总局令第54号）第十条、第二十四条"
    empty = render(procedures, departments, "legal_basis", "company-setup-registration")
    assert "暂无已确认的法律依据条文" in empty


def test_department(procedures, departments):
    lines = render(procedures, departments, "department", "md2-registration-change").splitlines()

    assert lines == [
        "【第二类医疗器械注册证变更】由山东省药品监督管理局（省级）负责办理。",
        "咨询电话：0531-2222222",
        "主要职责：",
        "· 第二类医疗器械注册",
        "以上信息仅供参考，请以窗口/山东政务服务网最新办事指南为准，可致电0531-2222222咨询。",
    ]


def test_clarify(procedures, departments):
    options = [procedures["md2-operating-record-change"], procedures["md2-registration-change"]]
    text = templates.clarify(options, [departments["hz-xzsp"], departments["sd-yjj"]])

    assert text.splitlines() == [
        "您说的是以下哪一项？",
        "1. 第二类医疗器械经营备案变更（市行政审批服务局）",
        "2. 第二类医疗器械注册证变更（省药监局）",
        templates.CLARIFY_HINT,
    ]
    assert templates.clarify_button(options[1]) == {
        "title": "第二类医疗器械注册证变更",
        "payload": '/ask_procedure{"procedure_id": "md2-registration-change"}',
    }


def test_a_single_weak_candidate_is_confirmed_not_listed(procedures, departments):
    text = templates.clarify([procedures["md2-registration-change"]], [departments["sd-yjj"]])

    assert text.splitlines() == [
        "您是想咨询“第二类医疗器械注册证变更（省药监局）”吗？",
        templates.CONFIRM_HINT,
    ]


def test_handoff_ticket_and_queued(departments):
    text = templates.handoff_ticket("HZ-20261126-0007", "菏泽市行政审批服务局", "2026年12月17日")
    assert text.splitlines()[0] == "已为您提交工单，编号 HZ-20261126-0007。"
    assert "我的工单怎么样了" in text
    queued = templates.handoff_queued(departments["sd-yjj"])
    assert "0531-2222222" in queued and "自动提交" in queued
    assert "12345" in templates.handoff_queued(None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2026-12-17T09:00:00+00:00", "2026年12月17日"), ("2026-12-16T20:00:00+00:00", "2026年12月17日"),
     ("2026-12-17", "2026年12月17日")],
)
def test_chinese_date_is_in_china_time(value, expected):
    assert templates.chinese_date(value) == expected
