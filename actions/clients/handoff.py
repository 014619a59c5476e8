"""HandoffClient: the action server's client of the handoff service's internal API (docs/handoff.md).

Every call has a timeout (HANDOFF_TIMEOUT_SECONDS) and checks the status code: a success is a 2xx
with the body the contract promises; anything else raises. Errors come in two kinds, because the
caller treats them differently: `HandoffUnavailable` (no answer, timeout, 5xx, 401/403/404/408/429:
worth retrying later, so a ticket request goes to the outbox) and `HandoffRejected` (the service
understood and refused: retrying the same request would fail again).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT_SECONDS = 2.0
DEFAULT_OUTBOX_PATH = "var/outbox.db"
# Status codes after which the same request may succeed later (misconfiguration, overload, restart).
RETRYABLE_STATUS = frozenset({401, 403, 404, 408, 425, 429})


class HandoffError(Exception):
    """Base class; `status` is the HTTP status when the service answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HandoffUnavailable(HandoffError):
    """The service did not answer usefully; the same request may succeed later."""


class HandoffRejected(HandoffError):
    """The service refused the request (4xx); sending it again would not help."""


class TicketNotFound(HandoffRejected):
    """No such ticket in this conversation (404 on a ticket route)."""


@dataclass(frozen=True)
class HandoffSettings:
    base_url: str
    token: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    outbox_path: Path = PROJECT_ROOT / DEFAULT_OUTBOX_PATH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HandoffSettings:
        """The variables bot/settings.py documents; `python -m bot run` passes them to the action server."""
        env = os.environ if environ is None else environ
        base = (env.get("HANDOFF_URL") or "").strip() or f"http://127.0.0.1:{env.get('BOT_PORT') or 8000}"
        try:
            timeout = float(env.get("HANDOFF_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
        except ValueError:
            logger.warning(
                "HANDOFF_TIMEOUT_SECONDS=%r is not a number; using %s s",
                env.get("HANDOFF_TIMEOUT_SECONDS"),
                DEFAULT_TIMEOUT_SECONDS,
            )
            timeout = DEFAULT_TIMEOUT_SECONDS
        outbox = Path(env.get("OUTBOX_PATH") or DEFAULT_OUTBOX_PATH).expanduser()
        return cls(
            base_url=base.rstrip("/"),
            token=env.get("INTERNAL_API_TOKEN") or "",
            timeout=timeout if timeout > 0 else DEFAULT_TIMEOUT_SECONDS,
            outbox_path=outbox if outbox.is_absolute() else PROJECT_ROOT / outbox,
        )


class HandoffClient:
    """Creates tickets, lists a conversation's tickets and records feedback over HTTP."""

    def __init__(
        self, settings: HandoffSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings or HandoffSettings.from_env()
        self._transport = transport  # tests pass httpx.MockTransport

    def _client(self) -> httpx.AsyncClient:
        # One short-lived client per call: the action server's event loop and the outbox thread's
        # loop each use their own, and no connection outlives the call.
        return httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            transport=self._transport,
            headers={"Authorization": f"Bearer {self.settings.token}", "Accept": "application/json"},
        )

    async def _request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            async with self._client() as client:
                response = await client.request(method, path, json=json)
        except httpx.HTTPError as error:  # connection refused, timeout, protocol error
            raise HandoffUnavailable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if 200 <= response.status_code < 300:
            return response
        detail = _error_text(response)
        message = f"{method} {path} -> HTTP {response.status_code}: {detail}"
        if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
            raise HandoffUnavailable(message, response.status_code)
        raise HandoffRejected(message, response.status_code)

    async def create_ticket(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """POST the ticket; the same idempotency_key always gives the same ticket (201 new, 200 seen)."""
        response = await self._request("POST", "/api/internal/tickets", json=dict(request))
        if response.status_code not in (200, 201):
            raise HandoffUnavailable(
                f"create ticket: unexpected HTTP {response.status_code}", response.status_code
            )
        ticket = _json(response).get("ticket")
        if not isinstance(ticket, dict) or not ticket.get("id"):
            raise HandoffUnavailable("create ticket: the answer has no ticket id", response.status_code)
        return ticket

    async def conversation_tickets(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's tickets, newest first (each with status and the latest staff reply)."""
        path = f"/api/internal/conversations/{quote(conversation_id, safe='')}/tickets"
        response = await self._request("GET", path)
        tickets = _json(response).get("tickets")
        if not isinstance(tickets, list):
            raise HandoffUnavailable(
                "conversation tickets: the answer has no ticket list", response.status_code
            )
        return [t for t in tickets if isinstance(t, dict) and t.get("id")]

    async def send_feedback(self, ticket_id: str, conversation_id: str, solved: bool, rating: int) -> None:
        path = f"/api/internal/tickets/{quote(ticket_id, safe='')}/feedback"
        body = {"conversation_id": conversation_id, "solved": bool(solved), "rating": int(rating)}
        try:
            await self._request("POST", path, json=body)
        except HandoffError as error:
            if error.status == 404:
                raise TicketNotFound(str(error), 404) from error
            raise


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise HandoffUnavailable(f"HTTP {response.status_code} with a body that is not JSON") from error
    if not isinstance(body, dict):
        raise HandoffUnavailable(f"HTTP {response.status_code} with a JSON body that is not an object")
    return body


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:200]
    return str(body)[:200]


_default_client: HandoffClient | None = None
_default_lock = threading.Lock()


def get_handoff_client() -> HandoffClient:
    """The process-wide client (settings read from the environment on first call)."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = HandoffClient(HandoffSettings.from_env())
        return _default_client
