"""`GET /api/conversations/{sender_id}/messages?after=<cursor>`: staff replies for REST clients.

A REST client cannot be pushed to, so it polls: every staff message (with the 三亮 identity of its
author) and system note of the conversation's tickets since the cursor. The sender id is the
conversation's own random id, known only to that client.
"""

from __future__ import annotations

from urllib.parse import unquote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps

CURSOR_INVALID = "after 参数必须是非负整数（上次返回的 cursor）。"
SENDER_INVALID = "会话标识（sender_id）必须是 1 至 255 个字符。"


def blueprint() -> Blueprint:
    routes = Blueprint("api_conversations", url_prefix="/api/conversations")

    @routes.get("/<sender_id:str>/messages")
    async def messages(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)  # Sanic 21.12 does not percent-decode path parameters
        if not 0 < len(sender_id) <= 255:
            raise deps.ApiError(SENDER_INVALID)
        after_arg = (request.args.get("after") or "0").strip()
        if not (after_arg.isascii() and after_arg.isdigit()) or len(after_arg) > 18:
            raise deps.ApiError(CURSOR_INVALID)
        answer = await deps.call(deps.service(request).messages_for_conversation, sender_id, int(after_arg))
        return response.json(answer, ensure_ascii=False, default=str, headers={"Cache-Control": "no-store"})

    return routes
