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
checkpoint. Production uses PostgreSQL, where nothing here applies.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
import sqlalchemy.pool
from rasa.core.tracker_store import SQLTrackerStore

logger = logging.getLogger(__name__)


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
