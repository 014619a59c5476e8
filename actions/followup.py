"""How a message relates to the procedure in context: pure text rules, no knowledge base access.

An enterprise's follow-ups are short and elliptical: "要带什么材料？" (an aspect only), "那三类的呢"
(the same question about a neighbouring procedure), "社保登记呢" (another procedure). These rules tell
them apart before and after the retriever is asked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasa_sdk import Tracker

    from knowledge import Procedure

# Entities that name a procedure; the retriever gets them, and they rule out a context follow-up.
TOPIC_ENTITIES = ("procedure", "licence")
# A follow-up with more topic words than this is a question of its own.
MAX_FOLLOW_UP_TOPIC = 8

_CONTRAST = re.compile(
    r"^(?:那么|那个|那|还有|另外)?\s*(?P<topic>.{1,20}?)\s*(?:的)?\s*(?:呢|咧|嘞)\s*[？?。.!！~～]*$"
)
# Words that ask about an aspect or carry no topic: "要带什么材料？" or "那材料呢" names no procedure.
_NON_TOPIC = re.compile(
    r"多长时间|多少钱|多少天|怎么办理|如何办理|哪个部门|什么时候|几个工作日|是怎样的|怎么样|有哪些|要求|"
    r"材料|资料|手续|证件|流程|步骤|程序|时限|时间|多久|几天|费用|收费|收钱|要钱|花钱|交钱|免费|"
    r"地点|地址|在哪|哪里|哪儿|窗口|电话|网上|线上|网办|依据|法律|法规|条文|部门|谁管|"
    r"请问|一下|需要|什么|哪些|怎么|如何|准备|办理|可以|能否|能不能|有没有|这个|那个|"
    r"[要带啥的吗呀啊吧了嘛我想问办去还是呢那些这么样能在哦嗯呃]|[\W_]"
)
# Aspect words, for a message that only asks about an aspect but got an aspectless intent.
_ASPECT_WORDS = {
    "materials": re.compile(r"材料|资料|证件|带什么|带啥"),
    "steps": re.compile(r"流程|步骤|程序|怎么办理|如何办理"),
    "time_limit": re.compile(r"多久|多长时间|时限|几天|几个工作日|什么时候"),
    "fee": re.compile(r"收费|费用|多少钱|要钱|收钱|花钱|交钱|免费"),
    "location": re.compile(r"在哪|哪里|哪儿|地点|地址|窗口"),
    "online": re.compile(r"网上|线上|网办|手机"),
    "legal_basis": re.compile(r"依据|法律|法规|条文"),
    "department": re.compile(r"部门|谁管|电话"),
}
_PROCEDURE_WORD = re.compile(r"证|照|许可|备案|登记|资质|凭证|审批|牌")
_ACTION_WORDS = {
    "新办": re.compile(r"新办|新设|首次|设立|开办"),
    "变更": re.compile(r"变更|更改|更换|换|改"),
    "延续": re.compile(r"延续|续期|续证|到期"),
    "注销": re.compile(r"注销"),
    "补办": re.compile(r"补办|补证|补发|遗失|丢了"),
}
_MODIFIER_WORDS = re.compile(
    "|".join(p.pattern for p in _ACTION_WORDS.values()) + r"|地址|法人|名称|范围|负责人|仓库|库房|场所"
)
CLASS_MARKER = re.compile(r"第?[一二三123]类")


def entity_value(entities: list[dict[str, Any]], name: str) -> str | None:
    for entity in entities:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def topic_words(text: str) -> str:
    """What is left of a message without aspect words, filler and punctuation (may be "")."""
    return _NON_TOPIC.sub("", text)


def contrast_topic(text: str) -> str | None:
    """The new words of a "那…呢" follow-up ("那三类的呢" -> "三类"), or None if it is not one."""
    match = _CONTRAST.match(text.strip())
    return match.group("topic") if match else None


def aspect_in_words(text: str) -> str | None:
    for aspect, pattern in _ASPECT_WORDS.items():
        if pattern.search(text):
            return aspect
    return None


def names_nothing(text: str) -> bool:
    """True for "要带什么材料？", "收费吗", "哪个部门管": at most one character of topic."""
    return len(topic_words(text)) <= 1


def action_word(text: str) -> str | None:
    for action, pattern in _ACTION_WORDS.items():
        if pattern.search(text):
            return action
    return None


def is_modifier(topic: str, context: Procedure) -> bool:
    """True when the words only change the class, action or item of `context` ("三类", "延续", "换地址")."""
    rest = CLASS_MARKER.sub("", topic_words(topic))
    rest = _MODIFIER_WORDS.sub("", rest)
    for item in sorted(context.change_items, key=len, reverse=True):
        rest = rest.replace(item, "")
    return len(rest) <= 1


def earlier_change_item(tracker: Tracker, context: Procedure) -> str | None:
    """The change item of the user's latest earlier message that named one, if `context` has it.

    "二类备案证变更法人" … "那三类的呢" means the 法定代表人 change of the 第三类 licence.
    """
    user_events = [e for e in tracker.events if e.get("event") == "user"]
    for event in reversed(user_events[:-1]):  # the last one is the message being answered
        value = entity_value((event.get("parse_data") or {}).get("entities") or [], "change_item")
        if value:
            return value if _has_change_item(context, value) else None
        # DIET does not tag every change item it reads ("换法人"); the words still say it.
        written = _change_item_in_words(context, event.get("text") or "")
        if written:
            return written
    return None


def _change_item_in_words(procedure: Procedure, text: str) -> str | None:
    """The longest change item of `procedure` written in `text` (compared normalised: 法人 = 法定代表人)."""
    from knowledge.text import normalise

    normalised = normalise(text)
    found = [item for item in procedure.change_items if item and normalise(item) in normalised]
    return max(found, key=len) if found else None


def names_other_topic(text: str, context: Procedure | None = None) -> bool:
    """A certificate or procedure word ("游艇驾驶证", "…许可") or a long message is not a follow-up,
    unless the words are part of the name of `context` ("登记收钱吗" after 特种设备使用登记)."""
    topic = topic_words(text)
    if context is not None and topic and any(topic in name for name in _names(context)):
        return False
    return len(topic) > MAX_FOLLOW_UP_TOPIC or bool(_PROCEDURE_WORD.search(topic))


def name_core(procedure: Procedure) -> str:
    """The procedure's name without its action and device class ("个体工商户设立登记" -> "个体工商户登记"):
    what it is about, to search together with a follow-up's new words."""
    core = CLASS_MARKER.sub("", procedure.name)
    for pattern in _ACTION_WORDS.values():
        core = pattern.sub("", core)
    return re.sub(r"[（）()、，,\s]", "", core)


def _names(procedure: Procedure) -> list[str]:
    return [n for n in (procedure.name, procedure.licence, *procedure.aliases) if n]


def fits_context(procedure: Procedure, entities: list[dict[str, Any]]) -> bool:
    """The message names no other procedure: no procedure/licence entity and no conflicting action."""
    if any(entity.get("entity") in TOPIC_ENTITIES for entity in entities):
        return False
    action = entity_value(entities, "action")
    if action and action != procedure.action:
        return False
    change_item = entity_value(entities, "change_item")
    return not (change_item and procedure.change_items and not _has_change_item(procedure, change_item))


def _has_change_item(procedure: Procedure, value: str) -> bool:
    """Compared normalised, so the NLU's "法人" is the data's "法定代表人"."""
    from knowledge.text import normalise  # loaded with the knowledge base by now

    return normalise(value) in {normalise(item) for item in procedure.change_items}
