"""Login rate limit: 5 failed attempts per username and address within 15 minutes → HTTP 429.

Attempts are rows in `login_attempts`, so the limit holds across processes and restarts. Counting per
username *and* address keeps one attacker from locking a colleague out from elsewhere.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import sessionmaker

from bot.db.engine import session_scope
from bot.db.models import LoginAttempt, utcnow

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
KEEP = dt.timedelta(days=30)  # old rows are pruned; the audit of logins is not this table's job


def _normalise(username: str) -> str:
    return username.strip().lower()[:64]


def is_limited(
    factory: sessionmaker, username: str, remote_addr: str, *, now: dt.datetime | None = None
) -> bool:
    now = now or utcnow()
    with session_scope(factory) as db:
        failures = db.execute(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.username == _normalise(username),
                LoginAttempt.remote_addr == remote_addr[:64],
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.created_at > now - WINDOW,
            )
        ).scalar_one()
    return failures >= MAX_FAILURES


def record_attempt(
    factory: sessionmaker, username: str, remote_addr: str, *, succeeded: bool, now: dt.datetime | None = None
) -> None:
    now = now or utcnow()
    with session_scope(factory) as db:
        db.add(
            LoginAttempt(
                username=_normalise(username),
                remote_addr=remote_addr[:64],
                succeeded=succeeded,
                created_at=now,
            )
        )
        if succeeded:
            # A successful login clears this username's failures from this address.
            db.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.username == _normalise(username),
                    LoginAttempt.remote_addr == remote_addr[:64],
                    LoginAttempt.succeeded.is_(False),
                )
            )
        db.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - KEEP))
