"""`GET /health`: is the web app up, and do Rasa and the action server answer."""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import bot
from bot.health import check_dependencies


def blueprint() -> Blueprint:
    routes = Blueprint("health")

    @routes.get("/health")
    async def health(request: Request) -> HTTPResponse:
        """Always HTTP 200 while the web app runs; `status` is "degraded" when a dependency is down."""
        app_ctx = request.app.ctx
        services = await check_dependencies(app_ctx.http, app_ctx.settings)
        healthy = all(service["ok"] for service in services.values())
        return response.json(
            {
                "status": "ok" if healthy else "degraded",
                "version": bot.__version__,
                "environment": app_ctx.settings.chuishao_env,
                "services": services,
            }
        )

    return routes
