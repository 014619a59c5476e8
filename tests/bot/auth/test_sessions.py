"""Server-side sessions: a token maps to a user until it expires, is deleted, or the account is disabled."""

from __future__ import annotations

import datetime as dt

from bot.auth.sessions import create_session, delete_session, load_session
from bot.db.engine import session_scope
from bot.db.models import User, WebSession, utcnow


def make_user(factory, username: str = "scjg1", active: bool = True) -> User:
    user = User(
        username=username,
        password_hash="not-a-real-hash",
        display_name="王晓明",
        staff_number="SCJG-0101",
        department="hz-scjg",
        role="staff",
        active=active,
    )
    with session_scope(factory) as session:
        session.add(user)
    return user


def test_a_new_session_loads_with_its_user_and_csrf_token(session_factory):
    user = make_user(session_factory)
    login = create_session(session_factory, user, hours=8, remote_addr="127.0.0.1")

    loaded = load_session(session_factory, login.token)

    assert loaded is not None
    assert loaded.user.username == "scjg1"
    assert loaded.csrf_token == login.csrf_token and len(login.csrf_token) >= 32
    assert login.token != login.csrf_token


def test_expired_deleted_unknown_and_disabled_sessions_are_refused(session_factory):
    user = make_user(session_factory)
    now = utcnow()
    login = create_session(session_factory, user, hours=1, remote_addr=None, now=now)

    assert load_session(session_factory, login.token, now=now + dt.timedelta(minutes=59)) is not None
    assert load_session(session_factory, login.token, now=now + dt.timedelta(hours=1)) is None
    assert load_session(session_factory, "made-up-token") is None
    assert load_session(session_factory, "x" * 500) is None
    assert load_session(session_factory, "") is None

    fresh = create_session(session_factory, user, hours=1, remote_addr=None)
    delete_session(session_factory, fresh.token)
    assert load_session(session_factory, fresh.token) is None

    other = make_user(session_factory, "scjg2", active=False)
    disabled = create_session(session_factory, other, hours=1, remote_addr=None)
    assert load_session(session_factory, disabled.token) is None


def test_creating_a_session_clears_expired_ones(session_factory):
    user = make_user(session_factory)
    old = create_session(
        session_factory, user, hours=1, remote_addr=None, now=utcnow() - dt.timedelta(hours=3)
    )
    create_session(session_factory, user, hours=1, remote_addr=None)
    with session_scope(session_factory) as session:
        assert session.get(WebSession, old.token) is None
