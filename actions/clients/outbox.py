"""A durable outbox for ticket requests the handoff service did not take.

When the service is unreachable the action stores the request here (SQLite at OUTBOX_PATH) and
tells the user it will be submitted automatically. A delivery loop in the action server process
re-sends pending requests until the service accepts them. A delivered row is marked with its
ticket id and never sent again; if a row is sent twice anyway (the process died between the POST
and the mark), the idempotency key makes the service return the same ticket.
A request the service refuses (4xx other than the retryable ones) is marked `rejected` and logged:
it would be refused again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.clients.handoff import HandoffClient, HandoffRejected, HandoffSettings, HandoffUnavailable

logger = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    ticket_id TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
)
"""


@dataclass(frozen=True)
class OutboxItem:
    idempotency_key: str
    conversation_id: str
    payload: dict[str, Any]
    status: str
    attempts: int
    ticket_id: str | None


class Outbox:
    """Rows of ticket requests: pending -> delivered (with the ticket id) or rejected."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: the action server's loop and the delivery thread share the file.
        with self._lock:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
            try:
                if not self._ready:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute(_SCHEMA)
                    self._ready = True
                with connection:
                    yield connection
            finally:
                connection.close()

    def put(self, request: Mapping[str, Any]) -> bool:
        """Keep a request for later delivery; False if its key is already here (a retried action)."""
        key = str(request["idempotency_key"])
        with self._connect() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO outbox (idempotency_key, conversation_id, payload, created_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    key,
                    str(request.get("conversation_id") or ""),
                    json.dumps(dict(request), ensure_ascii=False),
                    time.time(),
                ),
            )
            return cursor.rowcount == 1

    def due(self, now: float | None = None, limit: int = 20) -> list[OutboxItem]:
        """Pending rows whose next attempt is due, oldest first."""
        now = time.time() if now is None else now
        with self._connect() as db:
            rows = db.execute(
                "SELECT idempotency_key, conversation_id, payload, status, attempts, ticket_id FROM outbox "
                "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY created_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [_item(row) for row in rows]

    def get(self, key: str) -> OutboxItem | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT idempotency_key, conversation_id, payload, status, attempts, ticket_id FROM outbox "
                "WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
        return _item(row) if row else None

    def pending_for(self, conversation_id: str) -> list[OutboxItem]:
        """Requests of this conversation still waiting to be submitted."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT idempotency_key, conversation_id, payload, status, attempts, ticket_id FROM outbox "
                "WHERE conversation_id = ? AND status = 'pending' ORDER BY created_at",
                (conversation_id,),
            ).fetchall()
        return [_item(row) for row in rows]

    def mark_delivered(self, key: str, ticket_id: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE outbox SET status = 'delivered', ticket_id = ?, delivered_at = ?, last_error = NULL "
                "WHERE idempotency_key = ?",
                (ticket_id, time.time(), key),
            )

    def mark_rejected(self, key: str, error: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE outbox SET status = 'rejected', attempts = attempts + 1, last_error = ? "
                "WHERE idempotency_key = ?",
                (error[:500], key),
            )

    def mark_failed(self, key: str, error: str, now: float | None = None) -> None:
        """Another failed attempt: try again after an exponential back-off (capped)."""
        now = time.time() if now is None else now
        with self._connect() as db:
            (attempts,) = db.execute(
                "SELECT attempts FROM outbox WHERE idempotency_key = ?", (key,)
            ).fetchone() or (0,)
            delay = min(MAX_BACKOFF_SECONDS, DELIVERY_INTERVAL_SECONDS * 2 ** min(attempts, 10))
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE idempotency_key = ?",
                (error[:500], now + delay, key),
            )

    async def deliver_due(self, client: HandoffClient, now: float | None = None) -> int:
        """Send every due request once; returns how many the service accepted."""
        delivered = 0
        for item in self.due(now):
            try:
                ticket = await client.create_ticket(item.payload)
            except HandoffRejected as error:
                logger.error(
                    "Outbox: the handoff service refused %s for good: %s", item.idempotency_key, error
                )
                self.mark_rejected(item.idempotency_key, str(error))
                continue
            except HandoffUnavailable as error:
                logger.info("Outbox: %s not delivered yet (%s)", item.idempotency_key, error)
                self.mark_failed(item.idempotency_key, str(error), now)
                break  # the service is down: the rest would fail the same way
            self.mark_delivered(item.idempotency_key, str(ticket["id"]))
            logger.info("Outbox: %s delivered as ticket %s", item.idempotency_key, ticket["id"])
            delivered += 1
        return delivered


def _item(row: tuple[Any, ...]) -> OutboxItem:
    key, conversation_id, payload, status, attempts, ticket_id = row
    return OutboxItem(key, conversation_id, json.loads(payload), status, attempts, ticket_id)


class OutboxDelivery:
    """The delivery loop: a daemon thread with its own event loop, checking every `interval` seconds."""

    def __init__(
        self, outbox: Outbox, client: HandoffClient, interval: float = DELIVERY_INTERVAL_SECONDS
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.interval = interval
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                asyncio.run(self.outbox.deliver_due(self.client))
            except Exception:  # a broken outbox file must not kill the loop silently
                logger.exception("Outbox delivery round failed; retrying in %s s", self.interval)
            self._stop.wait(self.interval)


_delivery: OutboxDelivery | None = None
_delivery_lock = threading.Lock()


def start_delivery_once(outbox: Outbox, client: HandoffClient) -> OutboxDelivery:
    """Start the process's delivery loop the first time it is asked for; later calls return it."""
    global _delivery
    with _delivery_lock:
        if _delivery is None:
            _delivery = OutboxDelivery(outbox, client)
            _delivery.start()
            logger.info("Outbox delivery started for %s", outbox.path)
        return _delivery


_default_outbox: Outbox | None = None


def get_outbox() -> Outbox:
    """The process-wide outbox at OUTBOX_PATH (the file is created on first use, not here)."""
    global _default_outbox
    with _delivery_lock:
        if _default_outbox is None:
            _default_outbox = Outbox(HandoffSettings.from_env().outbox_path)
        return _default_outbox
