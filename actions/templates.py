"""Every Chinese sentence the action server says, in one place.

The REST channel splits a text on blank lines into separate messages, so one answer uses single
newlines only; `_join` drops empty lines to make sure of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge import Department, Procedure

UNCONFIRMED = "以窗口/山东政务服务网最新办事指南为准"
HOTLINE = "12345"

ASPECT_LABELS = {
    "overview": "事项概况",
    "materials": "所需材料",
    "steps": "办理流程",
    "time_limit": "办理时限",
    "fee": "收费标准",
    "location": "办理地点",
    "online": "网上办理",
    "legal_basis": "法律依据",
    "department": "办理部门",
}

OVERVIEW_BUTTONS = [
    {"title": "需要哪些材料", "payload": "/ask_materials"},
    {"title": "办理流程", "payload": "/ask_steps"},
    {"title": "收费", "payload": "/ask_fee"},
    {"title": "法律依据", "payload": "/ask_legal_basis"},
]

HANDOFF_BUTTONS = [
    {"title": "转人工", "payload": "/request_human"},
    {"title": "换个说法", "payload": "/deny"},
]

FOLLOW_UP_HINT = "您可以继续问：需要哪些材料、办理流程、收费、法律依据。"
CLARIFY_QUESTION = "您说的是以下哪一项？"
CLARIFY_HINT = "请点选对应事项，或直接说出证照名称。"
CONFIRM_QUESTION = "您是想咨询“{option}”吗？"
CONFIRM_HINT = "是的话请点选该事项；不是的话，请说出证照或事项名称，或说“转人工”。"
ASK_WHICH = "请问您要办理的是哪个事项？请说出证照或事项名称，例如“营业执照变更法人”“二类医疗器械经营备案”。"
NO_MATCH = (
    "抱歉，知识库里没有找到与您问题相符的事项。"
    "您可以换个说法再问（比如说出证照名称和要办的事：新办、变更、延续、注销），"
    "或者是否需要转给相关部门的工作人员？"
)
KNOWLEDGE_UNAVAILABLE = (
    "抱歉，办事指南查询暂时出现故障，请稍后再试，"
    f"或拨打{HOTLINE}政务服务便民热线咨询。"
)
DISCLAIMER = "以上信息仅供参考，请以窗口/山东政务服务网最新办事指南为准，可致电{phone}咨询。"


def _join(lines: Iterable[str | None]) -> str:
    """One message: non-empty lines joined by single newlines (a blank line would split it)."""
    cleaned = (line.strip() for line in lines if line)
    return "\n".join(line for line in cleaned if line)


def _or_unconfirmed(value: Any) -> str:
    if value is None:
        return UNCONFIRMED
    text = str(value).strip()
    return text or UNCONFIRMED


def _days(days: int) -> str:
    return "当场办结" if days == 0 else f"{days}个工作日"


def _phone(department: Department | None) -> str:
    phone = getattr(department, "phone", None) if department is not None else None
    return str(phone) if phone else HOTLINE


def _department_name(department: Department | None) -> str:
    return department.name if department is not None else UNCONFIRMED


def _title(procedure: Procedure) -> str:
    return f"【{procedure.name}】"


def _numbered(items: Sequence[str]) -> list[str]:
    return [f"{i}. {item}" for i, item in enumerate(items, start=1)]


def disclaimer(procedure: Procedure, department: Department | None) -> str | None:
    """The caution every answer about an unverified entry ends with."""
    if procedure.verified:
        return None
    return DISCLAIMER.format(phone=_phone(department))


# --- fragments shared by several aspects ---------------------------------------------------------


def time_limit_summary(procedure: Procedure) -> str:
    tl = procedure.time_limit
    parts = []
    if tl.statutory_days is not None:
        parts.append(f"法定{_days(tl.statutory_days)}")
    if tl.promised_days is not None:
        parts.append(f"承诺{_days(tl.promised_days)}")
    return "，".join(parts) if parts else UNCONFIRMED


def fee_summary(procedure: Procedure) -> str:
    fee = procedure.fee
    note = (fee.note or "").strip()
    if fee.free is True:
        head = "不收费"
    elif fee.free is False:
        head = "收费"
    else:
        return f"收费情况暂未确认；{note}" if note else f"收费情况{UNCONFIRMED}"
    if note.startswith(head):  # "不收费（未核实…）" already says it
        return note
    return f"{head}；{note}" if note else head


def online_summary(procedure: Procedure) -> str:
    online = procedure.online
    channels = "、".join(online.channels or [])
    if not channels:
        return f"网上办理渠道{UNCONFIRMED}"
    return f"{channels}（{online.url}）" if online.url else channels


# --- one function per aspect ---------------------------------------------------------------------


def overview(procedure: Procedure, department: Department | None) -> str:
    lines = [
        _title(procedure),
        f"办理部门：{_department_name(department)}",
        f"适用对象：{procedure.applies_to}" if procedure.applies_to else None,
    ]
    if procedure.conditions:
        lines.append("办理条件：" + "；".join(procedure.conditions))
    lines += [
        f"办理地点：{_or_unconfirmed(procedure.offline)}",
        f"网上办理：{online_summary(procedure)}",
        f"办理时限：{time_limit_summary(procedure)}",
        f"收费：{fee_summary(procedure)}",
    ]
    if procedure.notes:
        lines.append("请注意：")
        lines += [f"· {note}" for note in procedure.notes]
    lines += [disclaimer(procedure, department), FOLLOW_UP_HINT]
    return _join(lines)


def _material_line(material: Any) -> str:
    details = [material.form] if material.form else []
    if material.copies:
        details.append(f"{material.copies}份")
    if material.required is True:
        details.append("必须提供")
    elif isinstance(material.required, str) and material.required.strip():
        details.append(f"{material.required.strip()}需提供")
    else:
        details.append("视情况提供")
    line = f"{material.name}（{'，'.join(details)}）"
    if material.notes:
        line += f"：{material.notes}"
    return line


def materials(procedure: Procedure, department: Department | None) -> str:
    if not procedure.materials:
        body = [f"材料清单暂未确认，{UNCONFIRMED}。"]
    else:
        body = _numbered([_material_line(m) for m in procedure.materials])
    return _join([f"办理{_title(procedure)}需要准备以下材料：", *body, disclaimer(procedure, department)])


def steps(procedure: Procedure, department: Department | None) -> str:
    body = _numbered(procedure.steps) if procedure.steps else [f"办理流程暂未确认，{UNCONFIRMED}。"]
    return _join([f"{_title(procedure)}办理流程：", *body, disclaimer(procedure, department)])


def time_limit(procedure: Procedure, department: Department | None) -> str:
    tl = procedure.time_limit
    if tl.statutory_days is not None:
        statutory = _days(tl.statutory_days)
    else:
        statutory = f"法律未作规定或暂未确认，{UNCONFIRMED}"
    promised = _days(tl.promised_days) if tl.promised_days is not None else UNCONFIRMED
    return _join(
        [
            f"{_title(procedure)}办理时限：",
            f"法定时限：{statutory}",
            f"承诺时限：{promised}",
            f"说明：{tl.note}" if tl.note else None,
            "（时限按工作日计算，不含节假日。）" if tl.statutory_days or tl.promised_days else None,
            disclaimer(procedure, department),
        ]
    )


def fee(procedure: Procedure, department: Department | None) -> str:
    return _join([f"{_title(procedure)}收费：{fee_summary(procedure)}", disclaimer(procedure, department)])


def location(procedure: Procedure, department: Department | None) -> str:
    lines = [
        f"{_title(procedure)}办理地点：{_or_unconfirmed(procedure.offline)}",
        f"办理部门：{_department_name(department)}",
    ]
    if department is not None:
        lines += [
            f"地址：{_or_unconfirmed(department.address)}",
            f"窗口：{_or_unconfirmed(department.window)}",
            f"办公时间：{_or_unconfirmed(department.hours)}",
        ]
    lines += [f"咨询电话：{_phone(department)}", f"也可网上办理：{online_summary(procedure)}"]
    lines.append(disclaimer(procedure, department))
    return _join(lines)


def online(procedure: Procedure, department: Department | None) -> str:
    channels = procedure.online.channels or []
    if not channels:
        lines = [f"{_title(procedure)}的网上办理渠道暂未确认，{UNCONFIRMED}。"]
    else:
        lines = [f"{_title(procedure)}可以通过以下渠道网上办理：", *_numbered(list(channels))]
        if procedure.online.url:
            lines.append(f"网址：{procedure.online.url}")
    lines.append(disclaimer(procedure, department))
    return _join(lines)


def _legal_line(basis: Any) -> str:
    line = f"《{basis.title.strip('《》')}》"
    if basis.number:
        line += f"（{basis.number}）"
    if basis.articles:
        line += "、".join(basis.articles)
    return line


def legal_basis(procedure: Procedure, department: Department | None) -> str:
    if not procedure.legal_basis:
        body = [f"暂无已确认的法律依据条文，{UNCONFIRMED}。"]
    else:
        body = _numbered([_legal_line(b) for b in procedure.legal_basis])
    return _join([f"{_title(procedure)}的法律依据：", *body, disclaimer(procedure, department)])


def department(procedure: Procedure, department: Department | None) -> str:
    if department is None:
        return _join(
            [
                f"{_title(procedure)}的办理部门暂未确认，{UNCONFIRMED}，可拨打{HOTLINE}咨询。",
                disclaimer(procedure, department),
            ]
        )
    lines = [
        f"{_title(procedure)}由{department.name}（{department.level}）负责办理。",
        f"咨询电话：{_phone(department)}",
    ]
    if department.duties:
        lines.append("主要职责：")
        lines += [f"· {duty}" for duty in department.duties]
    lines.append(disclaimer(procedure, department))
    return _join(lines)


ASPECT_TEMPLATES = {
    "overview": overview,
    "materials": materials,
    "steps": steps,
    "time_limit": time_limit,
    "fee": fee,
    "location": location,
    "online": online,
    "legal_basis": legal_basis,
    "department": department,
}


def answer(aspect: str, procedure: Procedure, department: Department | None) -> str:
    """The answer text for one aspect of a procedure (unknown aspects get the overview)."""
    return ASPECT_TEMPLATES.get(aspect, overview)(procedure, department)


# --- clarification, no match, failure, handoff ---------------------------------------------------


def clarify(procedures: Sequence[Procedure], departments: Sequence[Department | None]) -> str:
    options = [
        f"{p.name}（{d.short_name}）" if d is not None and getattr(d, "short_name", None) else p.name
        for p, d in zip(procedures, departments, strict=True)
    ]
    if len(options) == 1:  # one weak candidate: confirm it rather than offer a list of one
        return _join([CONFIRM_QUESTION.format(option=options[0]), CONFIRM_HINT])
    return _join([CLARIFY_QUESTION, *_numbered(options), CLARIFY_HINT])


def clarify_button(procedure: Procedure) -> dict[str, str]:
    return {"title": procedure.name, "payload": f'/ask_procedure{{"procedure_id": "{procedure.id}"}}'}


def ask_which() -> str:
    return ASK_WHICH


def no_match() -> str:
    return NO_MATCH


def knowledge_unavailable() -> str:
    return KNOWLEDGE_UNAVAILABLE


# --- ticket handoff (issue 3) --------------------------------------------------------------------

STATUS_LABELS = {
    "new": "待受理",
    "claimed": "已受理，正在处理",
    "replied": "部门已答复",
    "resolved": "已办结",
    "transferred": "已转交其他部门",
    "returned": "已退回吹哨办重新分派",
}
CANCEL_WORDS_HINT = "如不想继续，随时可以说“取消”。"
CHECK_HINT = "查询进度请说“我的工单怎么样了”，或发送工单编号{ticket}。"


def chinese_date(value: Any) -> str:
    """2026-12-17 (a date, datetime or ISO text) as 2026年12月17日, in China's time zone."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo("Asia/Shanghai"))
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def handoff_start(department: Department | None, missing: Sequence[str]) -> str:
    who = department.name if department is not None else "责任部门"
    if not missing:
        return _join([f"好的，我来帮您把问题转给{who}的工作人员。", "请确认以下信息。"])
    return _join(
        [
            f"好的，我来帮您把问题转给{who}的工作人员处理（企业吹哨、部门报到）。",
            f"需要登记{len(missing)}项信息：{'、'.join(missing)}。{CANCEL_WORDS_HINT}",
        ]
    )


def handoff_department_question(department: Department | None, unclear: bool) -> str:
    name = department.name if department is not None else "菏泽市企业吹哨办"
    lines = [f"您的问题将转交：{name}。"]
    if unclear:
        lines.append("您的问题涉及的部门不太明确，将先由企业吹哨办接收并协调相关部门办理。")
    lines.append("确认请点“确认”；如需交给其他部门，请点选下方部门或直接说出部门名称。")
    return _join(lines)


def handoff_description_question(description: str) -> str:
    return _join([f"您要反映的问题是：“{description}”", "按这个描述提交吗？也可以直接发送新的描述。"])


def handoff_department_unknown() -> str:
    return "没有找到您说的部门。请点选下方的部门，或说出部门全称，例如“菏泽市人力资源和社会保障局”。"


def handoff_description_too_short() -> str:
    return "描述太短了，请用一句话说明遇到的问题，例如“食品经营许可证延续提交后一个月没有结果”。"


def handoff_confirm_unclear() -> str:
    return "请回复“是”按这个描述提交，或直接发送新的问题描述。"


def handoff_cancelled() -> str:
    return "好的，已取消转人工，没有提交任何信息。还有其他办事问题，请直接告诉我。"


def handoff_ticket(ticket_id: str, department_name: str, due: str) -> str:
    return _join(
        [
            f"已为您提交工单，编号 {ticket_id}。",
            f"承办部门：{department_name}",
            f"办理期限：{due}前答复办结（按工作日计算），工作人员会通过您留的电话联系您。",
            CHECK_HINT.format(ticket=ticket_id),
        ]
    )


def handoff_queued(department: Department | None) -> str:
    who = department.name if department is not None else "责任部门"
    return _join(
        [
            "抱歉，工单系统暂时连不上，您的诉求还没能拿到工单编号。",
            f"您填写的信息已经保存，系统恢复后会自动提交给{who}，不需要您再填一遍。",
            f"着急的话可以直接致电{_phone(department)}。稍后说“我的工单怎么样了”可以查看编号和进度。",
        ]
    )


def handoff_failed(department: Department | None) -> str:
    who = department.name if department is not None else "责任部门"
    return _join(
        [
            "抱歉，工单没有提交成功，这是系统的问题，不是您填写的信息有误。",
            f"请致电{who}：{_phone(department)}，或拨打{HOTLINE}政务服务便民热线反映。",
        ]
    )


def _staff_line(reply: dict[str, Any]) -> str | None:
    text = str(reply.get("text") or "").strip()
    if not text:
        return None
    staff = reply.get("staff") or {}
    who = [staff.get("department_name") or staff.get("department"), staff.get("name")]
    label = " ".join(str(part) for part in who if part)
    if staff.get("number"):
        label += f"（工号 {staff['number']}）"
    when = f"，{chinese_date(reply['created_at'])}" if reply.get("created_at") else ""
    return f"最新答复（{label or '工作人员'}{when}）：{text}"


def ticket_status(ticket: dict[str, Any]) -> str:
    status = STATUS_LABELS.get(str(ticket.get("status")), str(ticket.get("status") or "处理中"))
    if ticket.get("overdue") and ticket.get("status") != "resolved":
        status += "（已超期，已提醒督办）"
    lines = [
        f"工单 {ticket.get('id')}：{status}",
        f"承办部门：{ticket.get('department_name') or ticket.get('department') or UNCONFIRMED}",
        f"办理期限：{chinese_date(ticket['due'])}" if ticket.get("due") else None,
    ]
    reply = ticket.get("latest_reply") or ticket.get("last_reply")
    lines.append(_staff_line(reply) if isinstance(reply, dict) else "暂无工作人员答复。")
    return _join(lines)


def tickets_overview(tickets: Sequence[dict[str, Any]], queued: int) -> str:
    lines = [ticket_status(t) for t in tickets]
    if queued:
        lines.append(f"另有{queued}个诉求已保存，正在等待工单系统恢复后自动提交。")
    return _join(lines)


def ticket_not_found(ticket_id: str) -> str:
    return f"在本次会话中没有找到工单 {ticket_id}。出于隐私保护，只能查询本次会话中提交的工单，请核对编号。"


def no_ticket(queued: int) -> str:
    if queued:
        return _join(
            [
                f"您有{queued}个诉求已保存，工单系统恢复后会自动提交并生成编号。",
                "稍后再来查询，或说“转人工”补充新的问题。",
            ]
        )
    return (
        "本次会话还没有提交过工单。"
        "如需人工协助，请说“转人工”，我会帮您把问题转给责任部门，并告诉您工单编号。"
    )


def tickets_unavailable() -> str:
    return f"抱歉，工单系统暂时无法查询，请稍后再试，或拨打{HOTLINE}政务服务便民热线询问进度。"


FEEDBACK_SOLVED_BUTTONS = [{"title": "已解决", "payload": "/affirm"}, {"title": "未解决", "payload": "/deny"}]


def feedback_solved_question(ticket_id: str) -> str:
    return f"您的工单 {ticket_id} 已由部门办结。请问您的问题解决了吗？"


def feedback_rating_question() -> str:
    return "请为这次办理打分：1分（很不满意）至5分（非常满意）。"


def feedback_rating_invalid() -> str:
    return "请回复1到5之间的数字打分，5分表示非常满意。"


def feedback_solved_unclear() -> str:
    return "请点“已解决”或“未解决”告诉我问题是否解决了。"


def feedback_thanks(solved: bool, ticket_id: str) -> str:
    if solved:
        return "感谢您的评价！您的反馈已记录，会计入部门的服务评价。"
    return _join(
        [
            "感谢您的评价，您的反馈已记录，企业吹哨办会跟进督办。",
            f"问题仍未解决的话，可以说“转人工”重新提交，注明原工单编号 {ticket_id}。",
        ]
    )


def feedback_not_saved() -> str:
    return f"抱歉，评价暂时没有保存成功。您可以稍后再试，或拨打{HOTLINE}反映办理情况。"

