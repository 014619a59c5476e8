"""Ticket ids: HZ-YYYYMMDD-NNNN by Beijing date, never twice the same under concurrency."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from bot.db.engine import session_scope
from bot.handoff.ids import next_ticket_id


def test_ids_follow_the_beijing_date(session_factory) -> None:
    # 23:30 UTC on 30 Sep is already 1 Oct in Beijing.
    late = dt.datetime(2026, 9, 30, 23, 30, tzinfo=dt.timezone.utc)
    with session_scope(session_factory) as session:
        first = next_ticket_id(session, late)
        second = next_ticket_id(session, late)
        other_day = next_ticket_id(session, late - dt.timedelta(hours=12))
    assert (first, second, other_day) == ("HZ-20261001-0001", "HZ-20261001-0002", "HZ-20260930-0001")


def test_rolled_back_number_is_given_back(session_factory) -> None:
    now = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)
    session = session_factory()
    try:
        assert next_ticket_id(session, now) == "HZ-20261126-0001"
        session.rollback()
    finally:
        session.close()
    with session_scope(session_factory) as session:
        assert next_ticket_id(session, now) == "HZ-20261126-0001"


def test_concurrent_ids_are_unique(session_factory) -> None:
    now = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)

    def take(_: int) -> str:
        with session_scope(session_factory) as session:
            return next_ticket_id(session, now)

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(take, range(40)))
    assert len(set(ids)) == 40
    assert sorted(ids) == [f"HZ-20261126-{n:04d}" for n in range(1, 41)]
