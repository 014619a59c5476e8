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


def handoff_unavailable(department: Department | None, procedure: Procedure | None = None) -> str:
    """What action_request_human says until tickets exist: who is responsible, and how to call them."""
    if department is None:
        who = f"您可以拨打{HOTLINE}政务服务便民热线，说明企业名称和诉求，由热线转交责任部门办理。"
    elif procedure is not None:
        who = f"{_title(procedure)}由{department.name}负责，您可以致电{_phone(department)}咨询。"
    else:
        who = f"您的问题可以联系{department.name}，咨询电话{_phone(department)}。"
    fallback = None
    if department is not None and _phone(department) != HOTLINE:
        fallback = f"如电话无人接听，也可拨打{HOTLINE}政务服务便民热线反映。"
    return _join([who, "抱歉，当前版本暂不支持在线转人工（提交工单），这项功能正在开发中。", fallback])
