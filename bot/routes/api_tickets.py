"""Staff JSON API over tickets: list, detail, every transition, and the figures (`/api/stats`).

Routes stay thin: they authenticate, validate the body, and call the coordinator (transitions that
touch Rasa or a channel) or the service (the rest) — which check scope (another department's ticket
is 404) and the status machine (409). Each transition answers with the ticket as it is afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps
from bot.db.models import STATUSES
from bot.handoff.service import NotFound

STATUS_INVALID = "status 参数无效，可选值：open、" + "、".join(STATUSES) + "。"
OVERDUE_INVALID = "overdue 参数只能是 1 或 0。"
LEADS = ("lead", "supervisor")


def query_filters(request: Request) -> Dict[str, Any]:
    """status / department / overdue from the query string, validated (400 with a Chinese reason)."""
    status = (request.args.get("status") or "").strip() or None
    if status is not None and status not in (*STATUSES, "open"):
        raise deps.ApiError(STATUS_INVALID)
    department = (request.args.get("department") or "").strip() or None
    overdue_arg = (request.args.get("overdue") or "").strip().lower()
    if overdue_arg in ("", "0", "false"):
        overdue = None if overdue_arg == "" else False
    elif overdue_arg in ("1", "true"):
        overdue = True
    else:
        raise deps.ApiError(OVERDUE_INVALID)
    return {"status": status, "department": department, "overdue": overdue}


async def ticket_answer(request: Request, actor: Any, ticket_id: str, status: int = 200) -> HTTPResponse:
    detail = await deps.call(deps.service(request).ticket_detail, actor, ticket_id)
    return response.json({"ticket": detail}, status=status, ensure_ascii=False, default=str)


def blueprint() -> Blueprint:
    routes = Blueprint("api_tickets", url_prefix="/api")

    @routes.get("/tickets")
    async def list_tickets(request: Request) -> HTTPResponse:
        login = await deps.require_login(request)
        service = deps.service(request)
        tickets = await deps.call(service.list_tickets, login.user, **query_filters(request))
        return response.json(
            {"tickets": [service.summary(ticket) for ticket in tickets]}, ensure_ascii=False, default=str
        )

    @routes.get("/tickets/<ticket_id:str>")
    async def show(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        notice = await deps.run_async(
            deps.coordinator(request).sync_incoming(
                login.user, ticket_id, remote_addr=deps.remote_addr(request)
            )
        )
        answer = await deps.call(deps.service(request).ticket_detail, login.user, ticket_id)
        return response.json({"ticket": answer, "notice": notice}, ensure_ascii=False, default=str)

    @routes.post("/tickets/<ticket_id:str>/claim")
    async def claim(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        await deps.run_async(
            deps.coordinator(request).claim(login.user, ticket_id, remote_addr=deps.remote_addr(request))
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/reply")
    async def reply(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        text = deps.text_field(deps.json_body(request), "text", "回复内容")
        await deps.run_async(
            deps.coordinator(request).reply(
                login.user, ticket_id, text, remote_addr=deps.remote_addr(request)
            )
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/transfer")
    async def transfer(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        data = deps.json_body(request)
        department = deps.text_field(data, "department", "转办部门", max_len=64)
        reason = deps.text_field(data, "reason", "转办理由", max_len=500)
        await deps.run_async(
            deps.coordinator(request).transfer(
                login.user, ticket_id, department, reason, remote_addr=deps.remote_addr(request)
            )
        )
        # The ticket may have left the actor's scope: answer with what they may still see.
        return await transition_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/resolve")
    async def resolve(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        data = deps.json_body(request) if request.body else {}
        note = deps.text_field(data, "note", "办结说明", required=False, max_len=500)
        await deps.run_async(
            deps.coordinator(request).resolve(
                login.user, ticket_id, note, remote_addr=deps.remote_addr(request)
            )
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/return")
    async def return_ticket(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        reason = deps.text_field(deps.json_body(request), "reason", "退回理由", max_len=500)
        await deps.run_async(
            deps.coordinator(request).return_(
                login.user, ticket_id, reason, remote_addr=deps.remote_addr(request)
            )
        )
        return await transition_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/extension")
    async def extension(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        data = deps.json_body(request)
        days = deps.int_field(data, "days", "延期天数", low=1, high=30)
        reason = deps.text_field(data, "reason", "延期理由", max_len=500)
        await deps.call(
            deps.service(request).request_extension,
            login.user,
            ticket_id,
            days,
            reason,
            remote_addr=deps.remote_addr(request),
        )
        return await ticket_answer(request, login.user, ticket_id, status=201)

    @routes.post("/tickets/<ticket_id:str>/extension/<ext_id:int>/approve")
    async def approve(request: Request, ticket_id: str, ext_id: int) -> HTTPResponse:
        login = await deps.require_login(request)
        await deps.call(
            deps.service(request).approve_extension,
            login.user,
            ticket_id,
            ext_id,
            remote_addr=deps.remote_addr(request),
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/extension/<ext_id:int>/reject")
    async def reject(request: Request, ticket_id: str, ext_id: int) -> HTTPResponse:
        login = await deps.require_login(request)
        data = deps.json_body(request) if request.body else {}
        reason = deps.text_field(data, "reason", "驳回理由", required=False, max_len=500)
        await deps.call(
            deps.service(request).reject_extension,
            login.user,
            ticket_id,
            ext_id,
            reason,
            remote_addr=deps.remote_addr(request),
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/assign")
    async def assign(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        user_id = deps.int_field(deps.json_body(request), "user_id", "指派对象", low=1, high=2**31 - 1)
        await deps.run_async(
            deps.coordinator(request).assign(
                login.user, ticket_id, user_id, remote_addr=deps.remote_addr(request)
            )
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.post("/tickets/<ticket_id:str>/escalate")
    async def escalate(request: Request, ticket_id: str) -> HTTPResponse:
        login = await deps.require_login(request)
        data = deps.json_body(request) if request.body else {}
        note = deps.text_field(data, "note", "督办意见", required=False, max_len=500)
        await deps.call(
            deps.service(request).escalate, login.user, ticket_id, note, remote_addr=deps.remote_addr(request)
        )
        return await ticket_answer(request, login.user, ticket_id)

    @routes.get("/stats")
    async def stats(request: Request) -> HTTPResponse:
        login = await deps.require_login(request, roles=LEADS)
        department = (request.args.get("department") or "").strip() or None
        figures = await deps.call(deps.service(request).stats, login.user, department)
        return response.json(figures, ensure_ascii=False, default=str)

    return routes


async def transition_answer(request: Request, actor: Any, ticket_id: str) -> HTTPResponse:
    """After a transfer or return: the ticket if still in the actor's scope, else a short confirmation."""
    try:
        detail = await asyncio.to_thread(deps.service(request).ticket_detail, actor, ticket_id)
    except NotFound:
        return response.json({"ticket": {"id": ticket_id, "visible": False}}, ensure_ascii=False)
    return response.json({"ticket": detail}, ensure_ascii=False, default=str)
