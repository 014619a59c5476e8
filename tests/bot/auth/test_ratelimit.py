"""Login rate limit: 5 failures per username and address within 15 minutes."""

from __future__ import annotations

import datetime as dt

from bot.auth.ratelimit import MAX_FAILURES, is_limited, record_attempt
from bot.db.models import utcnow


def fail(factory, times: int, *, username: str = "scjg1", addr: str = "10.0.0.1", now=None) -> None:
    for _ in range(times):
        record_attempt(factory, username, addr, succeeded=False, now=now)


def test_the_fifth_failure_locks_that_username_from_that_address(session_factory):
    fail(session_factory, MAX_FAILURES - 1)
    assert not is_limited(session_factory, "scjg1", "10.0.0.1")
    fail(session_factory, 1)
    assert is_limited(session_factory, "scjg1", "10.0.0.1")
    assert is_limited(session_factory, " SCJG1 ", "10.0.0.1")  # case and spaces do not dodge it
    assert not is_limited(session_factory, "scjg1", "10.0.0.2")
    assert not is_limited(session_factory, "scjg2", "10.0.0.1")


def test_failures_older_than_the_window_do_not_count(session_factory):
    now = utcnow()
    fail(session_factory, MAX_FAILURES, now=now - dt.timedelta(minutes=16))
    assert not is_limited(session_factory, "scjg1", "10.0.0.1", now=now)
    assert is_limited(session_factory, "scjg1", "10.0.0.1", now=now - dt.timedelta(minutes=10))


def test_a_success_clears_the_failures(session_factory):
    fail(session_factory, MAX_FAILURES - 1)
    record_attempt(session_factory, "scjg1", "10.0.0.1", succeeded=True)
    fail(session_factory, MAX_FAILURES - 1)
    assert not is_limited(session_factory, "scjg1", "10.0.0.1")
