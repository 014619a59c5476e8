"""`GET /portal`: a demo enterprise-service portal page with the chat widget, and the widget's files.

The widget is embedded by one `<script>` tag whose `data-*` attributes are its options (server URL,
title, greeting); its files are built from bot/widget/ into bot/static/widget/ and served here at
`/widget/`, from this app: no CDN, nothing fetched from another host.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

PACKAGE = Path(__file__).resolve().parent.parent
WIDGET_DIR = PACKAGE / "static" / "widget"
TEMPLATES = PACKAGE / "templates"

WIDGET_TITLE = "企业服务在线咨询"
WIDGET_GREETING = (
    "您好！我是菏泽市企业服务智能助手，可以解答营业执照、食品经营、医疗器械、社保登记等政务服务事项的"
    "办理材料、流程和时限。请问您想办理什么事项？"
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))


def widget_version() -> str:
    """The widget build's source fingerprint, so a new build is not served from a stale cache."""
    try:
        return (WIDGET_DIR / "SOURCE").read_text(encoding="utf-8").strip()
    except OSError:
        return "dev"


def blueprint() -> Blueprint:
    routes = Blueprint("portal")
    routes.static("/widget", str(WIDGET_DIR), name="widget")

    @routes.get("/portal")
    async def portal(request: Request) -> HTTPResponse:
        settings = request.app.ctx.settings
        page = environment().get_template("portal.html").render(
            server_url=settings.widget_server_url or settings.rasa_url,
            title=WIDGET_TITLE,
            greeting=WIDGET_GREETING,
            version=widget_version(),
        )
        return response.html(page)

    return routes
