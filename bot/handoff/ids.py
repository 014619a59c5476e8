"""Readable ticket ids, HZ-YYYYMMDD-NNNN: the Asia/Shanghai date and a per-day counter.

The counter is one row per day, incremented with a single `INSERT ... ON CONFLICT DO UPDATE ...
RETURNING` statement (PostgreSQL; SQLite 3.35+), so two transactions can never get the same
number. The increment belongs to the caller's transaction: if the ticket insert fails and rolls
back, the number is given back too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.handoff.calendar import SHANGHAI

_NEXT = text(
    "INSERT INTO ticket_counters (day, last) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1 "
    "RETURNING last"
)


def next_number(session: Session, day: str) -> int:
    """The next number of `day` (YYYYMMDD), inside the session's transaction."""
    return int(session.execute(_NEXT, {"day": day}).scalar_one())


def format_ticket_id(day: str, number: int) -> str:
    # Four digits is the usual width; a day with more than 9999 tickets still gets unique ids.
    return f"HZ-{day}-{number:04d}"


def next_ticket_id(session: Session, now: dt.datetime) -> str:
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    return format_ticket_id(day, next_number(session, day))
