"""Internal API for the action server: create tickets (idempotent), a conversation's tickets, feedback.

Authenticated with `Authorization: Bearer $INTERNAL_API_TOKEN`, compared in constant time. Without a
configured token (development without the runner) the internal API refuses everything.
"""

from __future__ import annotations

import secrets
from urllib.parse import unquote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps

TOKEN_REFUSED = "内部接口需要有效的令牌（Authorization: Bearer INTERNAL_API_TOKEN）。"
SOLVED_INVALID = "solved 字段必须是 true 或 false。"
RATING_INVALID = "rating 字段必须是 1 至 5 的整数。"
CONVERSATION_INVALID = "conversation_id 字段必须是 1 至 255 个字符的字符串。"


def check_token(request: Request) -> None:
    expected = request.app.ctx.settings.internal_api_token.get_secret_value()
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not token:
        raise deps.ApiError(TOKEN_REFUSED, 401)
    if not secrets.compare_digest(token.strip().encode(), expected.encode()):
        raise deps.ApiError(TOKEN_REFUSED, 401)


def blueprint() -> Blueprint:
    routes = Blueprint("api_internal", url_prefix="/api/internal")

    @routes.post("/tickets")
    async def create(request: Request) -> HTTPResponse:
        check_token(request)
        payload = deps.json_body(request)
        service = deps.service(request)
        ticket, created = await deps.call(service.create_ticket, payload)
        return response.json(
            {"ticket": service.public_ticket(ticket)}, status=201 if created else 200, ensure_ascii=False
        )

    @routes.get("/conversations/<sender_id:str>/tickets")
    async def conversation_tickets(request: Request, sender_id: str) -> HTTPResponse:
        check_token(request)
        # Sanic 21.12 does not percent-decode path parameters: "wechat%3A<openid>" is "wechat:<openid>".
        tickets = await deps.call(deps.service(request).conversation_tickets, unquote(sender_id))
        return response.json({"tickets": tickets}, ensure_ascii=False, default=str)

    @routes.post("/tickets/<ticket_id:str>/feedback")
    async def feedback(request: Request, ticket_id: str) -> HTTPResponse:
        check_token(request)
        data = deps.json_body(request)
        conversation_id = data.get("conversation_id")
        if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= 255:
            raise deps.ApiError(CONVERSATION_INVALID)
        solved = data.get("solved")
        if not isinstance(solved, bool):
            raise deps.ApiError(SOLVED_INVALID)
        rating = data.get("rating")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise deps.ApiError(RATING_INVALID)
        await deps.call(deps.service(request).record_feedback, ticket_id, conversation_id, solved, rating)
        return response.json({"ok": True, "ticket": ticket_id})

    return routes
