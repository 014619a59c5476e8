"""Deadlines from a department's service level; unknown departments get the Shandong default."""

from __future__ import annotations

import datetime as dt

from bot.handoff.calendar import SHANGHAI
from bot.handoff.deadlines import compute_deadlines, extended_due, max_extension_days


def test_default_service_level_across_national_day(knowledge, work_calendar) -> None:
    # Unknown code → default 1/3/15 working days; created Wed 30 Sep 2026, before National Day.
    created = dt.datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    due = compute_deadlines(work_calendar, knowledge, "not-a-department", created)
    assert due.first_response_due.astimezone(SHANGHAI) == dt.datetime(2026, 10, 8, 17, 30, tzinfo=SHANGHAI)
    assert due.reply_due.astimezone(SHANGHAI) == dt.datetime(
        2026, 10, 10, 17, 30, tzinfo=SHANGHAI
    )  # 调休 Sat
    assert due.resolve_due.astimezone(SHANGHAI) == dt.datetime(2026, 10, 27, 17, 30, tzinfo=SHANGHAI)
    assert due.estimated is False
    assert max_extension_days(knowledge, "not-a-department") == 15


def test_extension_counts_from_creation(knowledge, work_calendar) -> None:
    created = dt.datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    at, estimated = extended_due(work_calendar, knowledge, "hz-xzsp", created, 15)  # 30 working days
    assert at.astimezone(SHANGHAI) == dt.datetime(2026, 11, 17, 17, 30, tzinfo=SHANGHAI)
    assert estimated is False
