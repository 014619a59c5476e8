"""Server-side console sessions (`web_sessions`): the cookie holds only a random token.

Deleting the row logs the session out everywhere at once; an expired or deactivated account's session
is refused. The cookie is HttpOnly, SameSite=Strict, and Secure outside development.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sanic.response import HTTPResponse
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.auth.csrf import new_token
from bot.db.engine import session_scope
from bot.db.models import User, WebSession, utcnow

COOKIE = "chuishao_session"


@dataclass(frozen=True)
class Login:
    """A valid session and its user (detached rows, safe to use after the database session closed)."""

    token: str
    csrf_token: str
    user: User
    expires_at: dt.datetime


def create_session(
    factory: sessionmaker,
    user: User,
    *,
    hours: float,
    remote_addr: str | None,
    now: dt.datetime | None = None,
) -> Login:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=token,
        user_id=user.id,
        csrf_token=new_token(),
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
        remote_addr=remote_addr,
    )
    with session_scope(factory) as db:
        db.add(row)
        # Expired sessions are of no use to anyone: clear them while we are writing anyway.
        db.execute(delete(WebSession).where(WebSession.expires_at < now))
    return Login(token=token, csrf_token=row.csrf_token, user=user, expires_at=row.expires_at)


def load_session(factory: sessionmaker, token: str | None, *, now: dt.datetime | None = None) -> Login | None:
    """The live session for `token`, or None (unknown, expired, or the account is deactivated)."""
    if not token or len(token) > 64:
        return None
    now = now or utcnow()
    db: Session = factory()
    try:
        row = db.get(WebSession, token)
        if row is None or row.expires_at <= now or row.user is None or not row.user.active:
            return None
        return Login(token=row.id, csrf_token=row.csrf_token, user=row.user, expires_at=row.expires_at)
    finally:
        db.close()


def delete_session(factory: sessionmaker, token: str) -> None:
    with session_scope(factory) as db:
        db.execute(delete(WebSession).where(WebSession.id == token))


def set_cookie(response: HTTPResponse, login: Login, *, secure: bool, hours: float) -> None:
    response.cookies[COOKIE] = login.token
    cookie = response.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = int(hours * 3600)
    if secure:
        cookie["secure"] = True


def clear_cookie(response: HTTPResponse, *, secure: bool) -> None:
    response.cookies[COOKIE] = ""
    cookie = response.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = 0
    if secure:
        cookie["secure"] = True
