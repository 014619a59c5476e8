"""Rasa's SQL tracker store, with SQLite set up for a server that writes on every message.

endpoints.yml names this class (`type: bot.tracker_store.ChuishaoSQLTrackerStore`); Rasa builds it with
the same arguments as its own `type: SQL` store, and with PostgreSQL it is exactly Rasa's
SQLTrackerStore. With SQLite (the default, TRACKER_STORE_URL=sqlite:///var/rasa-tracker.db) Rasa's store,
on SQLAlchemy 1.4, opens and closes the database file for every query and commits every turn in the
rollback-journal mode with `synchronous=FULL`: several fsyncs per message, inside Rasa's event loop, so
every other conversation waits (py-spy: about 10% of the Rasa process's time under the bench's load).

Here the connections stay open in a pool (as SQLAlchemy 2.0 does for SQLite files), and the database
uses write-ahead logging (WAL) with `synchronous=NORMAL`. SQLite documents that combination as safe: a
committed turn survives a crash of Rasa or of any application, and the database cannot be corrupted;
only a power loss or an operating-system crash can roll back the turns committed since the last
checkpoint. The two queries Rasa runs on every turn (the latest session's events, and how many of them
are stored) are sent as the same SQL, without building and compiling an ORM query each time (py-spy:
another 5% of Rasa's time). Production uses PostgreSQL, where nothing here applies.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Iterator

import sqlalchemy as sa
import sqlalchemy.orm
import sqlalchemy.pool
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# SQLTrackerStore._event_query without `fetch_events_from_all_sessions`: the sender's events from the
# latest `session_started` on (all of them when there is none), in the order they were stored.
_LATEST_SESSION = """
    FROM events WHERE sender_id = ? AND (
        timestamp >= (SELECT max(timestamp) FROM events WHERE sender_id = ? AND type_name = ?)
        OR (SELECT max(timestamp) FROM events WHERE sender_id = ? AND type_name = ?) IS NULL
    )"""
_LATEST_SESSION_EVENTS = f"SELECT data {_LATEST_SESSION} ORDER BY id"
_LATEST_SESSION_COUNT = f"SELECT count(*) {_LATEST_SESSION}"


def _latest_session_parameters(sender_id: str) -> tuple:
    started = SessionStarted.type_name
    return (sender_id, sender_id, started, sender_id, started)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Per connection: `synchronous` is not stored in the database file (the WAL mode is)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class ChuishaoSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore; on an SQLite file: pooled connections, WAL, synchronous=NORMAL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sqlite_file = False
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return
        # A connection is used by one thread at a time (the pool hands it out), so sqlite3's
        # same-thread check can go, as in SQLAlchemy 2.0's default for files.
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False}
        )
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        with self.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
        if str(mode).lower() != "wal":
            logger.warning("The tracker store's SQLite database stays in journal mode %r, not WAL.", mode)
        self._sqlite_file = True

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker, as SQLTrackerStore.retrieve returns it."""
        if not self._sqlite_file:
            return await super().retrieve(sender_id)
        with self.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                _LATEST_SESSION_EVENTS, _latest_session_parameters(sender_id)
            ).fetchall()
        events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _additional_events(self, session: sa.orm.Session, tracker: DialogueStateTracker) -> Iterator:
        """The tracker's events not stored yet (counted in the session's own transaction)."""
        if not self._sqlite_file:
            return super()._additional_events(session, tracker)
        stored = session.connection().exec_driver_sql(
            _LATEST_SESSION_COUNT, _latest_session_parameters(tracker.sender_id)
        ).scalar()
        return itertools.islice(tracker.events, stored, len(tracker.events))
