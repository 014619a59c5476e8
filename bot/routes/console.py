"""The staff console (`/console/...`): server-rendered pages in Simplified Chinese over the same
service as the JSON API. Forms post back here with the session's CSRF token; every action redirects
to the case page (post/redirect/get), with a fixed notice chosen by the action, never user text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps
from bot.auth import csrf
from bot.auth.login import cookie_secure, log_in
from bot.auth.sessions import Login, clear_cookie, delete_session, set_cookie
from bot.db.models import STATUSES
from bot.handoff.service import STATUS_LABELS
from bot.routes.api_auth import department_name, user_json

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
CHINA = dt.timezone(dt.timedelta(hours=8))

STATUS_NAMES = STATUS_LABELS
ROLE_NAMES = {"staff": "工作人员", "lead": "科室负责人", "supervisor": "督办"}
EXTENSION_STATUS = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
EVENT_NAMES = {
    "created": "创建工单",
    "claimed": "认领",
    "replied": "答复企业",
    "transferred": "转办",
    "returned": "退回吹哨办",
    "resolved": "办结",
    "extension_requested": "申请延期",
    "extension_approved": "批准延期",
    "extension_rejected": "驳回延期",
    "assigned": "指派",
    "escalated": "督办",
    "overdue": "超期",
    "feedback": "企业评价",
    "delivery_failed": "消息送达失败",
    "incoming": "企业留言",
}
DONE = {
    "claim": "已认领，机器人已暂停与该企业的对话。",
    "reply": "回复已发送。",
    "resolve": "工单已办结，机器人将请企业评价。",
    "transfer": "工单已转办。",
    "return": "工单已退回吹哨办。",
    "extension": "延期申请已提交，等待负责人审批。",
    "approve": "已批准延期。",
    "reject": "已驳回延期申请。",
    "assign": "已指派。",
    "escalate": "已督办，承办部门将在工单上看到督办标记。",
}
LEADS = ("lead", "supervisor")


# -- rendering ---------------------------------------------------------------------------------------


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def format_datetime(value: Any) -> str:
    """Beijing time, to the minute: what staff in Heze read on their wall clock."""
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def format_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def format_percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"


def format_hours(value: Any) -> str:
    if value is None:
        return "—"
    hours = float(value)
    return f"{hours * 60:.0f} 分钟" if hours < 1 else f"{hours:.1f} 小时"


def format_rating(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f} 分"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment, built on first use (autoescape on for every template)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        datetime=format_datetime,
        number=format_number,
        percent=format_percent,
        hours=format_hours,
        rating=format_rating,
    )
    env.globals.update(role_names=ROLE_NAMES, extension_status=EXTENSION_STATUS, event_names=EVENT_NAMES)
    return env


def render(
    request: Request, template: str, *, login: Login | None = None, status: int = 200, **context: Any
) -> HTTPResponse:
    page = (
        environment()
        .get_template(template)
        .render(
            user=user_json(request, login.user) if login else None,
            csrf_token=login.csrf_token if login else "",
            **context,
        )
    )
    return response.html(
        page,
        status=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )


def error_page(request: Request, login: Login | None, status: int, message: str) -> HTTPResponse:
    titles = {404: "未找到", 403: "无权访问", 409: "操作无法执行", 400: "输入有误", 429: "请求过于频繁"}
    return render(
        request,
        "console/error.html",
        login=login,
        status=status,
        title=titles.get(status, "出错了"),
        message=message,
        back_url="/console" if login else "/departments",
    )


def department_choices(request: Request) -> List[Tuple[str, str]]:
    return [(code, dep.name) for code, dep in deps.knowledge(request).departments.items()]


def ticket_view(request: Request, ticket: Dict[str, Any], user: Any = None) -> Dict[str, Any]:
    """What the templates need beyond the service's dict: names, the procedure, allowed actions.

    Actions are offered only where the service would allow them (own department, status, handler),
    so staff do not meet avoidable errors; the service still checks everything.
    """
    view = dict(ticket)
    status = ticket.get("status", "")
    view["status_name"] = ticket.get("status_label") or STATUS_NAMES.get(status, status)
    view.setdefault("department_name", department_name(request, ticket.get("department", "")))
    assignee = ticket.get("assignee")
    view["assignee_name"] = assignee.get("name") if isinstance(assignee, dict) else None
    own = user is not None and user.department == ticket.get("department")
    handler = isinstance(assignee, dict) and user is not None and assignee.get("id") == user.id
    view["can_claim"] = own and status in ("new", "transferred", "returned")
    view["can_reply"] = own and status in ("claimed", "replied") and (handler or user.role == "lead")
    view["can_work"] = own and status != "resolved"
    view["can_transfer"] = status != "resolved" and (own or (user is not None and user.role == "supervisor"))
    procedure_id = ticket.get("procedure_id") or (ticket.get("procedure") or {}).get("id")
    procedures = deps.knowledge(request).procedures
    if procedure_id and procedure_id in procedures:
        procedure = procedures[procedure_id]
        view["procedure"] = {
            "id": procedure.id,
            "name": procedure.name,
            "department_name": department_name(request, procedure.department),
        }
    else:
        view["procedure"] = None
    return view


# -- session helpers ---------------------------------------------------------------------------------


def login_redirect(request: Request) -> HTTPResponse:
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    return response.redirect(f"/console/login?next={quote(target)}")


def safe_next(value: Any) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if isinstance(value, str) and value.startswith("/console") and not value.startswith("//"):
        return value
    return "/console"


async def form_login(request: Request, roles: Tuple[str, ...] = ()) -> Login | HTTPResponse:
    """The session for a console page, or the response to send instead (login page, 403 page)."""
    login = await deps.current_login(request)
    if login is None:
        if request.method in csrf.SAFE_METHODS:
            return login_redirect(request)
        return error_page(request, None, 401, "登录已过期，请重新登录。")
    try:
        deps.check_csrf(request, login)
    except deps.ApiError as error:
        return error_page(request, login, 403, error.public_reason)
    if roles and login.user.role not in roles:
        return error_page(request, login, 403, deps.FORBIDDEN_ROLE)
    return login


def form_value(request: Request, name: str) -> str:
    value = request.form.get(name) if request.form else None
    return value.strip() if isinstance(value, str) else ""


# -- routes ------------------------------------------------------------------------------------------


def blueprint() -> Blueprint:
    routes = Blueprint("console")
    routes.static("/static", str(STATIC), name="static")

    @routes.get("/console/login")
    async def login_page(request: Request) -> HTTPResponse:
        if await deps.current_login(request) is not None:
            return response.redirect(safe_next(request.args.get("next")))
        return login_form(request, next_url=safe_next(request.args.get("next")))

    @routes.post("/console/login")
    async def login_submit(request: Request) -> HTTPResponse:
        next_url = safe_next(form_value(request, "next"))
        username = form_value(request, "username")
        if not csrf.token_matches(request.cookies.get(csrf.LOGIN_COOKIE), form_value(request, "csrf_token")):
            return login_form(
                request,
                next_url=next_url,
                username=username,
                status=403,
                error="页面已过期，请重新输入用户名和密码。",
            )
        password = request.form.get("password") if request.form else None
        try:
            session = await log_in(request, username, password if isinstance(password, str) else "")
        except deps.ApiError as error:
            return login_form(
                request,
                next_url=next_url,
                username=username,
                status=error.status_code,
                error=error.public_reason,
            )
        answer = response.redirect(next_url)
        set_cookie(
            answer, session, secure=cookie_secure(request), hours=request.app.ctx.settings.session_hours
        )
        del answer.cookies[csrf.LOGIN_COOKIE]
        return answer

    @routes.post("/console/logout")
    async def logout(request: Request) -> HTTPResponse:
        login = await form_login(request)
        if isinstance(login, HTTPResponse):
            return login
        await asyncio.to_thread(delete_session, deps.session_factory(request), login.token)
        answer = response.redirect("/console/login")
        clear_cookie(answer, secure=cookie_secure(request))
        return answer

    @routes.get("/console")
    async def queue(request: Request) -> HTTPResponse:
        login = await form_login(request)
        if isinstance(login, HTTPResponse):
            return login
        # Default: the open cases; "all" includes the resolved ones.
        status = request.args.get("status") or "open"
        if status not in STATUSES and status != "open":
            status = None
        department = (request.args.get("department") or None) if login.user.role == "supervisor" else None
        overdue = request.args.get("overdue") == "1"
        service = deps.service(request)
        tickets = await deps.call(
            service.list_tickets, login.user, status=status, department=department, overdue=overdue or None
        )
        return render(
            request,
            "console/queue.html",
            login=login,
            active="queue",
            tickets=[ticket_view(request, service.summary(t), login.user) for t in tickets],
            statuses=list(STATUS_NAMES.items()),
            departments=department_choices(request),
            filters={"status": status, "department": department, "overdue": overdue},
            flash=DONE.get(request.args.get("done", "")),
        )

    @routes.get("/console/tickets/<ticket_id:str>")
    async def ticket_page(request: Request, ticket_id: str) -> HTTPResponse:
        login = await form_login(request)
        if isinstance(login, HTTPResponse):
            return login
        return await show_ticket(request, login, ticket_id, flash=DONE.get(request.args.get("done", "")))

    @routes.post("/console/tickets/<ticket_id:str>/<action:str>")
    async def ticket_action(request: Request, ticket_id: str, action: str) -> HTTPResponse:
        return await act(request, ticket_id, action, None)

    @routes.post("/console/tickets/<ticket_id:str>/extension/<ext_id:int>/<decision:str>")
    async def extension_decision(
        request: Request, ticket_id: str, ext_id: int, decision: str
    ) -> HTTPResponse:
        if decision not in ("approve", "reject"):
            return error_page(request, await deps.current_login(request), 404, "未找到该操作。")
        return await act(request, ticket_id, decision, ext_id)

    @routes.get("/console/dashboard")
    async def dashboard(request: Request) -> HTTPResponse:
        login = await form_login(request, roles=LEADS)
        if isinstance(login, HTTPResponse):
            return login
        department = (request.args.get("department") or None) if login.user.role == "supervisor" else None
        service = deps.service(request)
        try:
            stats = await deps.call(service.stats, login.user, department)
            # Per-department response times and ratings, for the departments that have tickets.
            per_department = {}
            if len(stats.get("by_department") or []) > 1:
                for entry in stats["by_department"]:
                    code = entry["department"]
                    per_department[code] = await deps.call(service.stats, login.user, code, public=True)
        except deps.ApiError as error:
            return error_page(request, login, error.status_code, error.public_reason)
        return render(
            request,
            "console/dashboard.html",
            login=login,
            active="dashboard",
            departments=department_choices(request),
            filters={"department": department},
            scope_name=department_name(request, department or login.user.department)
            if department or login.user.role != "supervisor"
            else "全部部门",
            **dashboard_context(request, stats, per_department, login.user),
        )

    return routes


def login_form(
    request: Request, *, next_url: str, username: str = "", error: str | None = None, status: int = 200
) -> HTTPResponse:
    token = csrf.new_token()
    answer = render(
        request,
        "console/login.html",
        status=status,
        login_csrf=token,
        next_url=next_url,
        username=username,
        error=error,
    )
    answer.cookies[csrf.LOGIN_COOKIE] = token
    cookie = answer.cookies[csrf.LOGIN_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/console/login"
    if cookie_secure(request):
        cookie["secure"] = True
    return answer


async def show_ticket(
    request: Request,
    login: Login,
    ticket_id: str,
    *,
    flash: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    notice = None
    try:
        notice = await deps.run_async(
            deps.coordinator(request).sync_incoming(
                login.user, ticket_id, remote_addr=deps.remote_addr(request)
            )
        )
        detail = await deps.call(deps.service(request).ticket_detail, login.user, ticket_id)
    except deps.ApiError as problem:
        return error_page(request, login, problem.status_code, problem.public_reason)
    staff: List[Dict[str, Any]] = []
    if login.user.role == "lead" and login.user.department == detail.get("department"):
        members = await deps.call(deps.service(request).list_users, detail.get("department"))
        staff = [
            {"id": m.id, "name": m.display_name, "number": m.staff_number}
            for m in members
            if m.active and m.role != "supervisor"
        ]
    return render(
        request,
        "console/ticket.html",
        login=login,
        status=status,
        active="queue",
        t=ticket_view(request, detail, login.user),
        departments=department_choices(request),
        staff=staff,
        names={e["actor_id"]: e["actor_name"] for e in detail.get("events", []) if e.get("actor_id")},
        rasa_notice=notice,
        flash=flash,
        error=error,
    )


async def act(request: Request, ticket_id: str, action: str, ext_id: int | None) -> HTTPResponse:
    """One console form: validate, call the coordinator or service, redirect back (or show the error)."""
    login = await form_login(request)
    if isinstance(login, HTTPResponse):
        return login
    user, addr = login.user, deps.remote_addr(request)
    coordinator, service = deps.coordinator(request), deps.service(request)
    try:
        if action == "claim":
            await deps.run_async(coordinator.claim(user, ticket_id, remote_addr=addr))
        elif action == "reply":
            text = deps.text_field({"text": form_value(request, "text")}, "text", "回复内容")
            await deps.run_async(coordinator.reply(user, ticket_id, text, remote_addr=addr))
        elif action == "resolve":
            note = form_value(request, "note")[:500] or None
            await deps.run_async(coordinator.resolve(user, ticket_id, note, remote_addr=addr))
        elif action == "transfer":
            fields = {
                "department": form_value(request, "department"),
                "reason": form_value(request, "reason"),
            }
            department = deps.text_field(fields, "department", "转办部门", max_len=64)
            reason = deps.text_field(fields, "reason", "转办理由", max_len=500)
            await deps.run_async(coordinator.transfer(user, ticket_id, department, reason, remote_addr=addr))
        elif action == "return":
            reason = deps.text_field(
                {"reason": form_value(request, "reason")}, "reason", "退回理由", max_len=500
            )
            await deps.run_async(coordinator.return_(user, ticket_id, reason, remote_addr=addr))
        elif action == "extension":
            fields = {"days": form_value(request, "days"), "reason": form_value(request, "reason")}
            days = deps.int_field(fields, "days", "延期天数", low=1, high=30, allow_str=True)
            reason = deps.text_field(fields, "reason", "延期理由", max_len=500)
            await deps.call(service.request_extension, user, ticket_id, days, reason, remote_addr=addr)
        elif action == "approve" and ext_id is not None:
            await deps.call(service.approve_extension, user, ticket_id, ext_id, remote_addr=addr)
        elif action == "reject" and ext_id is not None:
            await deps.call(service.reject_extension, user, ticket_id, ext_id, None, remote_addr=addr)
        elif action == "assign":
            user_id = deps.int_field(
                {"user_id": form_value(request, "user_id")},
                "user_id",
                "指派对象",
                low=1,
                high=2**31 - 1,
                allow_str=True,
            )
            await deps.run_async(coordinator.assign(user, ticket_id, user_id, remote_addr=addr))
        elif action == "escalate":
            note = form_value(request, "note")[:500] or None
            await deps.call(service.escalate, user, ticket_id, note, remote_addr=addr)
        else:
            return error_page(request, login, 404, "未找到该操作。")
    except deps.ApiError as problem:
        if problem.status_code == 404:
            return error_page(request, login, 404, problem.public_reason)
        return await show_ticket(
            request, login, ticket_id, error=problem.public_reason, status=problem.status_code
        )
    if action in ("transfer", "return"):
        # The case has usually left this department: back to the queue.
        return response.redirect(f"/console?done={action}")
    return response.redirect(f"/console/tickets/{quote(ticket_id)}?done={action}")


def dashboard_context(
    request: Request, stats: Dict[str, Any], per_department: Dict[str, Dict[str, Any]], user: Any
) -> Dict[str, Any]:
    """Figures and rows for the inline SVG bar charts, from `TicketService.stats`."""
    by_status = stats.get("by_status") or {}
    response_rows, rating_rows = [], []
    for code, figures in per_department.items():
        name = department_name(request, code)
        seconds = figures.get("avg_first_response_seconds")
        if seconds is not None:
            response_rows.append((name, round(seconds / 3600, 1)))
        if figures.get("avg_rating") is not None:
            rating_rows.append((name, round(float(figures["avg_rating"]), 1)))
    total = stats.get("total", 0)
    seconds = stats.get("avg_first_response_seconds")
    return {
        "stats": {
            **stats,
            "total": total,
            "open": total - by_status.get("resolved", 0),
            "avg_first_response_hours": seconds / 3600 if seconds is not None else None,
            "overdue": [ticket_view(request, t, user) for t in stats.get("overdue") or []],
        },
        "status_rows": [(STATUS_NAMES.get(code, code), count) for code, count in by_status.items()],
        "department_rows": [
            (entry.get("department_name") or entry["department"], entry["total"])
            for entry in stats.get("by_department") or []
        ],
        "response_rows": response_rows,
        "rating_rows": rating_rows,
    }
