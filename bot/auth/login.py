"""The login step shared by `POST /api/login` and the console's login form."""

from __future__ import annotations

import asyncio

from sanic.request import Request

from bot import deps
from bot.auth import ratelimit
from bot.auth.sessions import Login, create_session

RATE_LIMITED = "登录失败次数过多，请 15 分钟后再试。"
WRONG_CREDENTIALS = "用户名或密码错误。"
MISSING_CREDENTIALS = "请输入用户名和密码。"


async def log_in(request: Request, username: str, password: str) -> Login:
    """A new session for valid credentials; `ApiError` 429 when rate limited, 401 when wrong.

    The rate limit is checked before the password, so a locked-out attacker learns nothing more.
    """
    if not username or not password or len(username) > 64 or len(password) > 1024:
        raise deps.ApiError(MISSING_CREDENTIALS if not username or not password else WRONG_CREDENTIALS, 401)
    factory = deps.session_factory(request)
    address = deps.remote_addr(request)
    if await asyncio.to_thread(ratelimit.is_limited, factory, username, address):
        raise deps.ApiError(RATE_LIMITED, 429)
    user = await deps.call(deps.service(request).authenticate, username, password)
    await asyncio.to_thread(ratelimit.record_attempt, factory, username, address, succeeded=user is not None)
    if user is None or not user.active:
        raise deps.ApiError(WRONG_CREDENTIALS, 401)
    settings = request.app.ctx.settings
    return await asyncio.to_thread(
        create_session, factory, user, hours=settings.session_hours, remote_addr=address
    )


def cookie_secure(request: Request) -> bool:
    """Secure cookies everywhere but development (plain http://127.0.0.1 on a laptop)."""
    return not request.app.ctx.settings.is_development
