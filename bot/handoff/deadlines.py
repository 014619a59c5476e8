"""A ticket's deadlines from its department's service level (working days, see calendar.py)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

from bot.handoff.calendar import WorkCalendar

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from knowledge.schema import ServiceLevel


class Deadlines(NamedTuple):
    first_response_due: dt.datetime
    reply_due: dt.datetime
    resolve_due: dt.datetime
    estimated: bool  # at least one deadline falls in a year without holiday data


def service_level(knowledge: KnowledgeBase, department: str) -> ServiceLevel:
    """The department's service level; the Shandong default (1/3/15/30) for an unknown code."""
    from knowledge.schema import ServiceLevel

    found = knowledge.departments.get(department)
    return found.service_level if found is not None else ServiceLevel()


def compute_deadlines(
    calendar: WorkCalendar, knowledge: KnowledgeBase, department: str, created_at: dt.datetime
) -> Deadlines:
    level = service_level(knowledge, department)
    first = calendar.add_working_days(created_at, level.first_contact_days)
    reply = calendar.add_working_days(created_at, level.reply_days)
    resolve = calendar.add_working_days(created_at, level.resolve_days)
    return Deadlines(first.at, reply.at, resolve.at, first.estimated or reply.estimated or resolve.estimated)


def extended_due(
    calendar: WorkCalendar,
    knowledge: KnowledgeBase,
    department: str,
    created_at: dt.datetime,
    extra_days: int,
) -> tuple[dt.datetime, bool]:
    """Resolution deadline after `extra_days` approved working days (resolve_days + extra_days in all)."""
    level = service_level(knowledge, department)
    due = calendar.add_working_days(created_at, level.resolve_days + extra_days)
    return due.at, due.estimated


def max_extension_days(knowledge: KnowledgeBase, department: str) -> int:
    """How many working days an extension may add in total (extend_to_days - resolve_days)."""
    level = service_level(knowledge, department)
    return level.extend_to_days - level.resolve_days
