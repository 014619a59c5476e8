"""Public 三亮 pages: every department's duties (from the knowledge base), its staff (name, staff
number, role) and its figures — cases, on-time rate, average first response, average rating.

`GET /departments` (index), `GET /departments/{code}` (HTML), `GET /api/departments/{code}` (JSON).
No login: these are what the department shows the enterprises it serves.
"""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import deps
from bot.routes.console import error_page, render

UNKNOWN_DEPARTMENT = "未找到该部门：{code}"


def figures_of(stats: Dict[str, Any]) -> Dict[str, Any]:
    """The public figures out of `TicketService.stats` (None where there is nothing to average)."""
    seconds = stats.get("avg_first_response_seconds")
    return {
        "cases": stats.get("total", 0),
        "resolved": stats.get("resolved", 0),
        "on_time_rate": stats.get("on_time_rate"),
        "avg_first_response_hours": round(seconds / 3600, 2) if seconds is not None else None,
        "avg_rating": stats.get("avg_rating"),
        "rated": stats.get("rated", 0),
    }


async def department_json(request: Request, code: str) -> Dict[str, Any] | None:
    department = deps.knowledge(request).departments.get(code)
    if department is None:
        return None
    service = deps.service(request)
    stats = await deps.call(service.stats, None, code, public=True)
    members = await deps.call(service.list_users, code)
    return {
        "code": department.code,
        "name": department.name,
        "short_name": department.short_name,
        "level": department.level,
        "phone": department.phone,
        "address": department.address,
        "duties": list(department.duties),
        "service_level": department.service_level.dict(),
        "staff": [
            {"name": m.display_name, "number": m.staff_number, "role": m.role}
            for m in sorted(members, key=lambda m: (m.role != "lead", m.staff_number or "", m.id))
            if m.active
        ],
        "figures": figures_of(stats),
    }


def blueprint() -> Blueprint:
    routes = Blueprint("public")

    @routes.get("/departments")
    async def index(request: Request) -> HTTPResponse:
        overall = await deps.call(deps.service(request).stats, None, None, public=True)
        counts = {entry["department"]: entry for entry in overall.get("by_department") or []}
        rows = [
            {
                "code": d.code,
                "name": d.name,
                "level": d.level,
                "phone": d.phone,
                "cases": counts.get(d.code, {}).get("total", 0),
                "open": counts.get(d.code, {}).get("open", 0),
            }
            for d in deps.knowledge(request).departments.values()
        ]
        login = await deps.current_login(request)
        return render(
            request, "console/departments.html", login=login, active="departments", departments=rows
        )

    @routes.get("/departments/<code:str>")
    async def page(request: Request, code: str) -> HTTPResponse:
        login = await deps.current_login(request)
        data = await department_json(request, code)
        if data is None:
            return error_page(request, login, 404, UNKNOWN_DEPARTMENT.format(code=code))
        return render(request, "console/department.html", login=login, active="departments", d=data)

    @routes.get("/api/departments/<code:str>")
    async def api(request: Request, code: str) -> HTTPResponse:
        data = await department_json(request, code)
        if data is None:
            raise deps.ApiError(UNKNOWN_DEPARTMENT.format(code=code), 404)
        return response.json({"department": data}, ensure_ascii=False)

    return routes
