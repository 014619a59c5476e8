"""A served web app on a migrated database (SQLite and PostgreSQL in turn), with helpers that act as
staff members (session cookie + CSRF header) and as the action server (internal token)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict

import httpx
import pytest
from argon2 import PasswordHasher

from bot.app import create_app
from bot.auth.sessions import COOKIE
from bot.handoff.delivery import HandoffCoordinator

INTERNAL_TOKEN = "internal-test-token-123456"
PASSWORD = "correct-horse-1"
_keys = itertools.count(1)


@dataclass
class Staff:
    """A logged-in staff member: sends the session cookie and, on unsafe requests, the CSRF token."""

    client: httpx.AsyncClient
    token: str
    csrf: str
    user: Dict[str, Any]

    def _headers(self, csrf: bool, extra: Dict[str, str] | None = None) -> Dict[str, str]:
        headers = {"Cookie": f"{COOKIE}={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        headers.update(extra or {})
        return headers

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self._headers(False), **kwargs)

    async def post(self, path: str, json: Any = None, *, csrf: bool = True, **kwargs: Any) -> httpx.Response:
        headers = self._headers(csrf, kwargs.pop("headers", None))
        return await self.client.post(path, json=json, headers=headers, **kwargs)

    async def act(self, ticket_id: str, action: str, body: Any = None) -> httpx.Response:
        return await self.post(f"/api/tickets/{ticket_id}/{action}", json=body if body is not None else {})


@dataclass
class Web:
    url: str
    app: Any
    client: httpx.AsyncClient
    users: Dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> Any:
        return self.app.ctx.tickets

    def add_user(self, username: str, department: str, role: str = "staff", **kwargs: Any) -> Any:
        user = self.service.create_user(
            username,
            kwargs.get("password", PASSWORD),
            department,
            role,
            kwargs.get("name", f"姓名{username}"),
            kwargs.get("number", f"NO-{username}"),
        )
        self.users[username] = user
        return user

    async def login(self, username: str, password: str = PASSWORD) -> Staff:
        answer = await self.client.post("/api/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        token = answer.cookies.get(COOKIE) or _cookie_from(answer)
        body = answer.json()
        return Staff(self.client, token, body["csrf_token"], body["user"])

    async def as_user(self, username: str, department: str, role: str = "staff", **kwargs: Any) -> Staff:
        self.add_user(username, department, role, **kwargs)
        return await self.login(username)

    async def create_ticket(self, **overrides: Any) -> Dict[str, Any]:
        answer = await self.internal_post("/api/internal/tickets", ticket_payload(**overrides))
        assert answer.status_code == 201, answer.text
        return answer.json()["ticket"]

    async def internal_post(self, path: str, body: Any, token: str = INTERNAL_TOKEN) -> httpx.Response:
        return await self.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    async def internal_get(self, path: str, token: str = INTERNAL_TOKEN) -> httpx.Response:
        return await self.client.get(path, headers={"Authorization": f"Bearer {token}"})


def _cookie_from(answer: httpx.Response) -> str:
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError("no session cookie in the login answer")


def ticket_payload(**overrides: Any) -> Dict[str, Any]:
    payload = {
        "idempotency_key": f"key-{next(_keys)}",
        "conversation_id": "conv-1",
        "channel": "rest",
        "company_name": "菏泽示例商贸有限公司",
        "credit_code": None,
        "contact_name": "张三",
        "mobile": "13800000000",
        "question": "变更法定代表人需要什么材料？",
        "procedure_id": "company-change-legal-rep",
        "department": "hz-scjg",
        "transcript": [
            {"role": "user", "text": "变更法人怎么办", "at": "2026-11-26T10:00:00+08:00"},
            {"role": "bot", "text": "请问您要办理的是哪个事项？", "at": "2026-11-26T10:00:01+08:00"},
        ],
    }
    payload.update(overrides)
    return payload


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's production parameters cost ~0.3 s per hash on these machines; the tests hash for
    every account and login. Same algorithm, smallest cost."""
    monkeypatch.setattr(
        "bot.handoff.service._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
async def web(database_url: str, make_settings, serve, service, knowledge) -> AsyncIterator[Web]:
    """The app on `database_url`; its TicketService runs on the settable `clock` fixture."""
    settings = make_settings(database_url=database_url, internal_api_token=INTERNAL_TOKEN)
    app = create_app(settings)
    app.ctx.knowledge = knowledge  # loaded once per test session
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        app.ctx.tickets = service
        app.ctx.coordinator = HandoffCoordinator(service, app.ctx.rasa, app.ctx.deliveries)
        yield Web(url, app, client)
