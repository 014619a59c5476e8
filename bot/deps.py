"""Request dependencies of the routes: services from the app, the logged-in staff member, CSRF,
JSON bodies. One module, so every route gets them the same way.

The handoff service is synchronous (SQLAlchemy); `call` runs it in a worker thread so the event loop
keeps serving, and turns its errors into HTTP errors with the service's Chinese reason.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any, Callable, Dict, TypeVar

from sanic.exceptions import SanicException
from sanic.request import Request
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.auth import csrf
from bot.auth.sessions import COOKIE, Login, load_session
from bot.db.engine import is_sqlite, make_engine, make_session_factory
from bot.db.migrate import upgrade
from bot.handoff.calendar import WorkCalendar
from bot.handoff.delivery import HandoffCoordinator
from bot.handoff.rasa import RasaClient
from bot.handoff.service import HandoffError, TicketService
from bot.settings import Settings
from knowledge import KnowledgeBase

REPO_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")

NOT_LOGGED_IN = "请先登录。"
CSRF_REFUSED = "安全校验失败（CSRF 令牌缺失或不正确），请刷新页面后重试。"
FORBIDDEN_ROLE = "您的岗位无权进行此操作。"
BODY_NOT_JSON = "请求体必须是 JSON 对象。"
SERVICE_NOT_READY = "服务正在启动，请稍后再试。"


class ApiError(SanicException):
    """An HTTP error whose Chinese reason is shown to the client as is (see bot/errors.py)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status_code=status)
        self.public_reason = reason


# -- services ---------------------------------------------------------------------------------------


def _ready(request: Request, name: str) -> Any:
    value = getattr(request.app.ctx, name, None)
    if value is None:
        raise ApiError(SERVICE_NOT_READY, 503)
    return value


def session_factory(request: Request) -> sessionmaker:
    return _ready(request, "session_factory")


def service(request: Request) -> Any:
    """The app's `TicketService`."""
    return _ready(request, "tickets")


def coordinator(request: Request) -> Any:
    """The app's `HandoffCoordinator` (service + Rasa pause/resume + delivery)."""
    return _ready(request, "coordinator")


def knowledge(request: Request) -> Any:
    return _ready(request, "knowledge")


def remote_addr(request: Request) -> str:
    return (request.remote_addr or request.ip or "")[:64]


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous service method in a thread; its errors become `ApiError`s."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except HandoffError as error:
        raise ApiError(error.message, error.status) from error


async def run_async(awaitable: Any) -> Any:
    """Await a coordinator call; its service errors become `ApiError`s."""
    try:
        return await awaitable
    except HandoffError as error:
        raise ApiError(error.message, error.status) from error


# -- the logged-in user -----------------------------------------------------------------------------


async def current_login(request: Request) -> Login | None:
    """The session of this request's cookie, looked up once per request."""
    if not hasattr(request.ctx, "login"):
        token = request.cookies.get(COOKIE)
        request.ctx.login = (
            await asyncio.to_thread(load_session, session_factory(request), token) if token else None
        )
    return request.ctx.login


async def require_login(request: Request, *, roles: tuple[str, ...] = ()) -> Login:
    """The logged-in staff member; 401 without a session, 403 on an unsafe request without the
    session's CSRF token or for a role not in `roles` (when given)."""
    login = await current_login(request)
    if login is None:
        raise ApiError(NOT_LOGGED_IN, 401)
    check_csrf(request, login)
    if roles and login.user.role not in roles:
        raise ApiError(FORBIDDEN_ROLE, 403)
    return login


def check_csrf(request: Request, login: Login) -> None:
    if request.method in csrf.SAFE_METHODS:
        return
    if not csrf.token_matches(login.csrf_token, csrf.submitted_token(request)):
        raise ApiError(CSRF_REFUSED, 403)


# -- request bodies ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def json_body(request: Request) -> Dict[str, Any]:
    """The body as a JSON object; 400 with a Chinese reason for anything else (NaN included)."""
    try:
        data = json.loads(request.body or b"", parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(BODY_NOT_JSON) from error
    if not isinstance(data, dict):
        raise ApiError(BODY_NOT_JSON)
    return data


def text_field(
    data: Dict[str, Any], name: str, label: str, *, required: bool = True, max_len: int = 2000
) -> str | None:
    """A string field, stripped; 400 naming the field in Chinese when missing or of the wrong type."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(f"缺少{label}（{name}）。")
        return None
    if not isinstance(value, str):
        raise ApiError(f"{label}（{name}）必须是字符串。")
    value = value.strip()
    if len(value) > max_len:
        raise ApiError(f"{label}（{name}）不能超过 {max_len} 个字符。")
    return value


def int_field(
    data: Dict[str, Any], name: str, label: str, *, low: int, high: int, allow_str: bool = False
) -> int:
    """An integer in [low, high]; a string of digits only when `allow_str` (HTML forms send strings)."""
    value = data.get(name)
    if isinstance(value, bool) or value is None:
        raise ApiError(f"{label}（{name}）必须是 {low} 至 {high} 之间的整数。")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if allow_str and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not low <= value <= high:
        raise ApiError(f"{label}（{name}）必须是 {low} 至 {high} 之间的整数。")
    return value


# -- building the services --------------------------------------------------------------------------


class Services:
    """What the web app and the CLI need, built once per process (never at import time)."""

    def __init__(self, settings: Settings, *, migrate: bool = False, knowledge: Any = None) -> None:
        url = settings.database_url
        if migrate:
            ensure_sqlite_folder(url)
            upgrade(url)
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)
        self.knowledge = knowledge if knowledge is not None else KnowledgeBase.load()
        self.calendar = WorkCalendar.load(from_repo(Path(settings.workdays_path)))
        self.tickets = TicketService(self.session_factory, self.knowledge, self.calendar)

    def close(self) -> None:
        self.engine.dispose()


def from_repo(path: Path) -> Path:
    """A relative path in the settings is relative to the repository, whatever the working directory."""
    return path if path.is_absolute() else REPO_ROOT / path


def ensure_sqlite_folder(url: str) -> None:
    if is_sqlite(url) and url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def open_services(settings: Settings, *, migrate: bool = False) -> Services:
    """Engine, session factory, knowledge base, calendar and TicketService for `settings`; with
    `migrate`, the database is first brought to the newest schema (idempotent)."""
    return Services(settings, migrate=migrate)


def migrate_on_start(url: str, engine: Engine) -> bool:
    """SQLite (development, tests) is always brought to the newest schema; PostgreSQL only when it is
    empty — a production schema change is a deliberate step (`bot.db.migrate.upgrade`)."""
    if is_sqlite(url):
        return True
    return not inspect(engine).get_table_names()


async def start_services(app: Any) -> None:
    """Open the database, the handoff service, the Rasa client and the coordinator for `app`."""
    settings = app.ctx.settings

    def build() -> Services:
        url = settings.database_url
        ensure_sqlite_folder(url)
        probe = make_engine(url)
        try:
            needed = migrate_on_start(url, probe)
        finally:
            probe.dispose()
        # A knowledge base already on the app (tests share one) is used as is.
        return Services(settings, migrate=needed, knowledge=getattr(app.ctx, "knowledge", None))

    services = await asyncio.to_thread(build)
    app.ctx.services = services
    app.ctx.session_factory = services.session_factory
    app.ctx.knowledge = services.knowledge
    app.ctx.tickets = services.tickets
    app.ctx.rasa = RasaClient(str(settings.rasa_url), settings.rasa_api_token.get_secret_value())
    if settings.redis_url and app.ctx.deliveries.get("socketio") is None:
        # Widget users get staff replies pushed through Redis to whichever Rasa process holds their
        # socket. Without Redis the widget polls GET /api/conversations/{id}/messages instead.
        from bot.channels.socketio_push import SocketIODelivery, SocketIOPush

        app.ctx.socketio_push = SocketIOPush(settings.redis_url)
        app.ctx.deliveries.register(
            "socketio", SocketIODelivery(app.ctx.socketio_push, services.tickets.department_name)
        )
    app.ctx.coordinator = HandoffCoordinator(services.tickets, app.ctx.rasa, app.ctx.deliveries)


async def stop_services(app: Any) -> None:
    rasa = getattr(app.ctx, "rasa", None)
    if rasa is not None:
        await rasa.aclose()
    push = getattr(app.ctx, "socketio_push", None)
    if push is not None:
        await push.close()
    services = getattr(app.ctx, "services", None)
    if services is not None:
        services.close()
