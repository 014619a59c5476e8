"""Pydantic (v1) models of the knowledge base, enforcing docs/knowledge-format.md.

Everything that can be checked inside one entry is checked here; rules that need the whole base
(unknown department, duplicate ids and aliases, id versus file stem, dates) live in `loader.py`.
Strings, booleans and integers are strict: YAML's silent conversions (`phone: 0530...` becoming an
int, `required: yes` becoming a bool) are reported instead of accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Literal

from pydantic import BaseModel, ConstrainedStr, Field, StrictBool, conint, root_validator, validator

KEBAB_CASE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

DepartmentLevel = Literal["省级", "市级", "县级", "乡镇级", "其他"]
Kind = Literal["行政许可", "备案", "登记", "行政确认", "公共服务", "投诉处理"]
Action = Literal["新办", "变更", "延续", "注销", "补办", "其他"]
Form = Literal["原件", "复印件", "原件及复印件", "电子件", "在线填报"]
Confidence = Literal["V", "S", "R"]

ACTIONS: tuple[str, ...] = ("新办", "变更", "延续", "注销", "补办", "其他")

Days = conint(strict=True, ge=0)
PositiveInt = conint(strict=True, ge=1)


class Text(ConstrainedStr):
    """A non-empty string; surrounding whitespace is stripped."""

    strict = True
    strip_whitespace = True
    min_length = 1


class Code(ConstrainedStr):
    """A kebab-case identifier (procedure id, department code)."""

    strict = True
    regex = KEBAB_CASE  # type: ignore[assignment]


class Phone(ConstrainedStr):
    strict = True
    regex = r"^[0-9][0-9\-]{2,19}$"  # type: ignore[assignment]


class Url(ConstrainedStr):
    strict = True
    regex = r"^https?://\S+$"  # type: ignore[assignment]


class Model(BaseModel):
    class Config:
        extra = "forbid"
        allow_mutation = False


def _unique(values: List[str]) -> List[str]:
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate entry {value!r}")
        seen.add(value)
    return values


class ServiceLevel(Model):
    """How quickly a department must react to a handed-off case, in working days."""

    first_contact_days: PositiveInt = 1  # type: ignore[valid-type]
    reply_days: PositiveInt = 3  # type: ignore[valid-type]
    resolve_days: PositiveInt = 15  # type: ignore[valid-type]
    extend_to_days: PositiveInt = 30  # type: ignore[valid-type]

    @root_validator(skip_on_failure=True)
    def _ordered(cls, values: dict) -> dict:
        days = [values[k] for k in ("first_contact_days", "reply_days", "resolve_days", "extend_to_days")]
        if days != sorted(days):
            raise ValueError("needs first_contact_days <= reply_days <= resolve_days <= extend_to_days")
        return values


class Department(Model):
    code: Code
    name: Text
    short_name: Text
    aliases: List[Text] = []
    level: DepartmentLevel
    address: Text | None = None
    window: Text | None = None
    phone: Phone
    hours: Text | None = None
    duties: List[Text] = Field(..., min_items=1)
    service_level: ServiceLevel = ServiceLevel()
    verified: StrictBool
    source: List[Text]  # may be empty: several receivers are conventional names without a source

    _unique_aliases = validator("aliases", allow_reuse=True)(_unique)


class Material(Model):
    name: Text
    form: Form
    copies: PositiveInt | None = None  # type: ignore[valid-type]
    # true, or the condition under which the material is needed
    required: Literal[True] | Text
    notes: Text | None = None


class TimeLimit(Model):
    statutory_days: Days | None = Field(...)  # type: ignore[valid-type]
    promised_days: Days | None = Field(...)  # type: ignore[valid-type]
    note: Text | None = None


class Fee(Model):
    free: StrictBool | None = Field(...)
    note: Text | None = None


class Online(Model):
    channels: List[Text] = []
    url: Url | None = None


class LegalBasis(Model):
    title: Text
    number: Text | None = None
    articles: List[Text] = []


class Procedure(Model):
    id: Code
    name: Text
    aliases: List[Text] = []
    kind: Kind
    action: Action
    licence: Text | None = None
    change_items: List[Text] = []
    applies_to: Text
    department: Code
    conditions: List[Text] = []
    materials: List[Material]
    steps: List[Text] = Field(..., min_items=1)
    time_limit: TimeLimit
    fee: Fee
    online: Online
    offline: Text | None = None
    legal_basis: List[LegalBasis]
    notes: List[Text] = []
    related: List[Code] = []
    source: List[Text] = Field(..., min_items=1)
    confidence: Dict[Text, Confidence] = {}  # fact (usually a field name) -> V/S/R
    last_verified: dt.date
    verified: StrictBool

    _unique_lists = validator("aliases", "change_items", "related", allow_reuse=True)(_unique)

    @validator("last_verified", pre=True)
    def _real_date(cls, value: object) -> object:
        # pydantic would read an int as a Unix timestamp; YAML gives a date for 2026-11-26.
        if isinstance(value, dt.datetime) or not isinstance(value, (dt.date, str)):
            raise ValueError("must be a date written as YYYY-MM-DD")
        return value

    @validator("verified")
    def _verified_means_no_r(cls, value: bool, values: dict) -> bool:
        unverified = sorted(k for k, v in values.get("confidence", {}).items() if v == "R")
        if value and unverified:
            raise ValueError(f"is true but confidence is R for: {', '.join(unverified)}")
        return value

    @property
    def licence_class(self) -> str | None:
        """第一类/第二类/第三类 when the name or licence names a class (medical devices)."""
        for text in (self.name, self.licence or ""):
            for word in ("第一类", "第二类", "第三类"):
                if word in text:
                    return word
        return None
