"""The bot web app (`python -m bot serve`): a Sanic app built by `create_app(settings)`."""

from __future__ import annotations

import itertools
import logging
import sys

import httpx
from sanic import Sanic

from bot.deps import start_services, stop_services
from bot.errors import JsonErrorHandler
from bot.handoff.delivery import DeliveryRegistry
from bot.routes import blueprints
from bot.routes.home import load_template
from bot.settings import Settings

logger = logging.getLogger(__name__)

_app_numbers = itertools.count(1)


def create_app(settings: Settings) -> Sanic:
    """Build the web app. Each call gets its own name: Sanic 21.12 refuses a second app of the same
    name in its registry, and tests build many (`register=False` would do too, but is deprecated).
    Serving several apps in one process also needs `Sanic.test_mode = True` (tests/bot/conftest.py)."""
    app = Sanic(
        f"chuishao_web_{next(_app_numbers)}",
        error_handler=JsonErrorHandler(),
        configure_logging=False,  # `serve` configures logging once, for Sanic's loggers and ours
    )
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1024 * 1024
    app.ctx.settings = settings
    app.ctx.index_template = load_template()
    # Channels register their Delivery here (e.g. "socketio", "wechat"); the handoff services are
    # built when the server starts (bot.deps.start_services), never at import or create time.
    app.ctx.deliveries = DeliveryRegistry()

    for blueprint in blueprints():
        app.blueprint(blueprint)

    @app.listener("before_server_start")
    async def open_clients(app: Sanic, _loop: object) -> None:
        app.ctx.http = httpx.AsyncClient()
        await start_services(app)

    @app.listener("after_server_stop")
    async def close_clients(app: Sanic, _loop: object) -> None:
        await app.ctx.http.aclose()
        await stop_services(app)

    return app


def configure_logging(settings: Settings) -> None:
    """One handler on stdout for every logger (Sanic's own included), in Rasa's format."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-8s %(name)s  - %(message)s",
        stream=sys.stdout,
    )
    # httpx logs every request at INFO: the health probes would drown everything else.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    access = logging.getLogger("sanic.access")
    access.propagate = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-8s sanic.access  - %(request)s %(status)d %(byte)d")
    )
    access.addHandler(handler)


def serve(settings: Settings) -> None:
    """Run the web app in this process until SIGINT/SIGTERM."""
    configure_logging(settings)
    app = create_app(settings)
    logger.info("Chuishao web app on http://%s:%s/", settings.bot_host, settings.bot_port)
    app.run(
        host=settings.bot_host,
        port=settings.bot_port,
        access_log=settings.log_level == "DEBUG",
        motd=False,
    )
