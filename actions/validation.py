"""Checks and extractors for what the handoff form collects.

Pure functions, no Rasa: the form's validation action uses them on every answer, and
`extract_details` also reads details a user gives in one go ("我是菏泽某某药业有限公司，联系人张三，
电话13800138000").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# GB 32100-2015: 18 characters from this 31-character set (no I, O, S, V, Z); the 18th is a check
# character computed from the first 17 with these weights (3^(i-1) mod 31).
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE_IN_TEXT = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Digits possibly separated by spaces or dashes, optionally after +86 / 0086 / 86.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:(?:\+|00)?86[\s-]*)?(1[\s-]*[3-9](?:[\s-]*\d){9})(?!\d)")

_COMPANY_SUFFIX = (
    r"(?:有限责任公司|股份有限公司|有限公司|分公司|集团公司|集团|公司|合作社|个体工商户|"
    r"事务所|研究院|医院|诊所|药店|大药房|商行|商店|超市|门市部|经营部|工作室|厂|店|中心)"
)
_COMPANY_CUE = re.compile(
    r"(?:我是|我们是|我们公司是|我们企业是|公司是|企业是|企业名称是?|公司名称是?|单位是|来自)[:：\s]*"
)
_COMPANY_IN_TEXT = re.compile(
    r"([\u4e00-\u9fff（）()A-Za-z0-9·]{2,40}?" + _COMPANY_SUFFIX + r")(?![\u4e00-\u9fff])"
)
_NAME_CUE = re.compile(
    r"(?:联系人(?:是|为)?|联系人姓名(?:是|为)?|姓名(?:是|为)?|我叫|我姓名是|本人)[:：\s]*"
    r"([\u4e00-\u9fff·]{2,6}?)(?=$|[，。,.;；\s电手号联]|先生|女士)"
)
_SURNAME_TITLE = re.compile(r"([\u4e00-\u9fff]{1,2}(?:先生|女士|经理|总|主任|会计))")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,8}$")
# Words a sentence has and a name does not (a question, a request, a department instead of a company).
_NOT_A_NAME = re.compile(r"[吧吗呢啊呀嘛我你您想帮请要？?]|转人工|工作人员|部门|局$|办理|怎么|什么|多久")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z .'-]{1,39}$")

# What a user types to leave the optional credit code out.
_SKIP = re.compile(
    r"^(?:没有|无|暂无|没|跳过|不知道|不清楚|不提供|不方便|个体户没有|忘了|略|skip|none|no)[。.!！]*$"
)
_CANCEL = re.compile(
    r"^(?:取消|算了|不用了|不要了|不转了|不办了|退出|不需要了|先不用了|那算了|取消吧|算了吧)[。.!！吧了]*$"
)
_FILLER = re.compile(r"[\s，。,.!！?？:：;；、\"“”'‘’]+")


@dataclass(frozen=True)
class Check:
    """A cleaned value, or the reason (Chinese) it was refused."""

    value: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


# --- 统一社会信用代码 ----------------------------------------------------------------------------


def credit_code_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a credit code (GB 32100-2015)."""
    if len(first17) != 17:
        raise ValueError("need the first 17 characters")
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def check_credit_code(text: str) -> Check:
    code = re.sub(r"[\s-]", "", _fold(text)).upper()
    if len(code) != 18:
        return Check(None, f"统一社会信用代码应为18位，您输入的是{len(code)}位。")
    wrong = sorted({c for c in code if c not in CREDIT_CODE_CHARSET})
    if wrong:
        return Check(
            None, f"统一社会信用代码中不会出现“{'、'.join(wrong)}”（不使用字母I、O、S、V、Z），请核对。"
        )
    if credit_code_check_char(code[:17]) != code[17]:
        return Check(None, "统一社会信用代码的校验位不正确，可能有一位输错了，请对照营业执照核对。")
    return Check(code)


def is_skip(text: str) -> bool:
    """The user leaves an optional detail out (没有 / 跳过 / 不知道)."""
    return bool(_SKIP.match(_FILLER.sub("", _fold(text)).lower()))


def is_cancel(text: str) -> bool:
    """The user abandons the form (取消 / 算了 / 不用了)."""
    return bool(_CANCEL.match(_FILLER.sub("", _fold(text))))


# --- mobile ----------------------------------------------------------------------------------------


def check_mobile(text: str) -> Check:
    folded = _fold(text)
    match = _MOBILE_IN_TEXT.search(folded)
    if match:
        digits = re.sub(r"\D", "", match.group(1))
        if _MOBILE.match(digits):
            return Check(digits)
    digits = re.sub(r"\D", "", folded)
    if not digits:
        return Check(None, "没有看到手机号码，请输入11位手机号，例如13800138000。")
    if len(digits) != 11:
        return Check(None, f"手机号码应为11位，您输入的是{len(digits)}位数字，请核对后重新输入。")
    return Check(None, "这不是有效的手机号码（应以13至19开头），请核对后重新输入。")


# --- names -----------------------------------------------------------------------------------------


def check_company_name(text: str) -> Check:
    found = find_company_name(text)
    if found:
        return Check(found)
    name = _FILLER.sub("", _COMPANY_CUE.sub("", _fold(text)))
    if len(name) < 2:
        return Check(None, "企业名称太短了，请输入营业执照上的企业全称。")
    if len(name) > 60:
        return Check(None, "企业名称太长了，请只输入营业执照上的企业全称。")
    if re.fullmatch(r"[\d\s+-]+", name):
        return Check(None, "这看起来是号码，不是企业名称。请输入营业执照上的企业全称。")
    if _NOT_A_NAME.search(name):
        return Check(None, "这看起来不是企业名称。请输入营业执照上的企业全称，例如“菏泽某某药业有限公司”。")
    return Check(name)


def check_contact_name(text: str) -> Check:
    found = find_contact_name(text)
    if found:
        return Check(found)
    name = _FILLER.sub("", re.sub(r"^(?:我叫|我是|联系人|姓名|本人)", "", _fold(text)))
    if (_CJK_NAME.match(name) or _LATIN_NAME.match(name)) and not _NOT_A_NAME.search(name):
        return Check(name)
    if re.search(r"\d", name):
        return Check(None, "联系人姓名里不应有数字，请输入联系人的姓名，例如“张三”或“王女士”。")
    return Check(None, "请输入联系人的姓名（2至8个汉字），例如“张三”或“王女士”。")


def find_company_name(text: str) -> str | None:
    folded = _fold(text)
    cue = _COMPANY_CUE.search(folded)
    scope = folded[cue.end() :] if cue else folded
    match = _COMPANY_IN_TEXT.search(scope)
    if not match:
        return None
    name = match.group(1)
    # "我是菏泽…" without a cue word is still cut at the last separator before the name.
    name = re.split(r"[，。,;；\s]", name)[-1]
    name = re.sub(r"^(?:我是|我们是|我们|是)", "", name)
    return name if len(name) >= 4 else None


def find_contact_name(text: str) -> str | None:
    folded = _fold(text)
    match = _NAME_CUE.search(folded)
    if match:
        tail = folded[match.end() : match.end() + 2]
        title = next((t for t in ("先生", "女士") if tail.startswith(t)), "")
        return match.group(1) + title
    match = _SURNAME_TITLE.search(folded)
    if match and not find_company_name(match.group(1)):
        return match.group(1)
    return None


def find_credit_code(text: str) -> str | None:
    for candidate in _CREDIT_CODE_IN_TEXT.findall(_fold(text).upper()):
        if check_credit_code(candidate).ok:
            return candidate
    return None


def find_mobile(text: str) -> str | None:
    check = check_mobile(text)
    return check.value if check.ok and _MOBILE_IN_TEXT.search(_fold(text)) else None


def extract_details(text: str) -> dict[str, str]:
    """Every detail a message states outright: company_name, credit_code, contact_name, mobile."""
    found = {
        "company_name": find_company_name(text),
        "credit_code": find_credit_code(text),
        "contact_name": find_contact_name(text),
        "mobile": find_mobile(text),
    }
    return {slot: value for slot, value in found.items() if value}
