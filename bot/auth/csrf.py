"""CSRF protection: every unsafe request of a logged-in user carries the session's token.

The token is stored server-side with the session (`web_sessions.csrf_token`) and must come back in the
`X-CSRF-Token` header (JSON API) or a `csrf_token` form field (console forms). Before a session exists
(the console's login form) a double-submit cookie protects against login CSRF.
"""

from __future__ import annotations

import secrets

from sanic.request import Request

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
LOGIN_COOKIE = "chuishao_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def submitted_token(request: Request) -> str:
    """The token the client sent: header first, else the form field; empty when neither."""
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = request.form.get(FORM_FIELD)
        if isinstance(value, str):
            return value
    return ""


def token_matches(expected: str | None, submitted: str) -> bool:
    """Constant-time comparison; an empty token never matches."""
    if not expected or not submitted:
        return False
    return secrets.compare_digest(expected.encode(), submitted.encode())
