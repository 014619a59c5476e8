"""`GET /`: a short page in Simplified Chinese saying what this service is, with links."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import bot

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "index.html"


def blueprint() -> Blueprint:
    routes = Blueprint("home")

    @routes.get("/")
    async def home(request: Request) -> HTTPResponse:
        page: Template = request.app.ctx.index_template
        settings = request.app.ctx.settings
        return response.html(
            page.substitute(
                version=escape(bot.__version__),
                rest_url=escape(f"{settings.rasa_url}/webhooks/rest/webhook"),
            )
        )

    return routes


def load_template() -> Template:
    return Template(TEMPLATE_PATH.read_text(encoding="utf-8"))
