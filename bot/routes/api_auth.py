"""`POST /api/login`, `POST /api/logout`, `GET /api/me`: staff sessions for the JSON API."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps
from bot.auth.login import cookie_secure, log_in
from bot.auth.sessions import clear_cookie, delete_session, set_cookie

LOGIN_NEEDS_JSON = '登录请求必须是 JSON：{"username": "用户名", "password": "密码"}。'


def department_name(request: Request, code: str) -> str:
    department = deps.knowledge(request).departments.get(code)
    return department.name if department is not None else code


def user_json(request: Request, user: Any) -> Dict[str, Any]:
    """The 三亮 identity of a staff member: name, department, staff number; and the role."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.display_name,
        "department": user.department,
        "department_name": department_name(request, user.department),
        "number": user.staff_number,
        "role": user.role,
    }


def blueprint() -> Blueprint:
    routes = Blueprint("api_auth", url_prefix="/api")

    @routes.post("/login")
    async def login(request: Request) -> HTTPResponse:
        # Only JSON: a cross-site HTML form cannot send it without a CORS preflight (no login CSRF).
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise deps.ApiError(LOGIN_NEEDS_JSON, 415)
        data = deps.json_body(request)
        username = data.get("username")
        password = data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise deps.ApiError(LOGIN_NEEDS_JSON)
        session = await log_in(request, username.strip(), password)
        answer = response.json(
            {"user": user_json(request, session.user), "csrf_token": session.csrf_token}, ensure_ascii=False
        )
        set_cookie(
            answer, session, secure=cookie_secure(request), hours=request.app.ctx.settings.session_hours
        )
        return answer

    @routes.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        session = await deps.require_login(request)
        await asyncio.to_thread(delete_session, deps.session_factory(request), session.token)
        answer = response.json({"ok": True})
        clear_cookie(answer, secure=cookie_secure(request))
        return answer

    @routes.get("/me")
    async def me(request: Request) -> HTTPResponse:
        session = await deps.require_login(request)
        return response.json(
            {"user": user_json(request, session.user), "csrf_token": session.csrf_token}, ensure_ascii=False
        )

    return routes
