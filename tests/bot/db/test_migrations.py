"""The Alembic migration builds exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db.engine import make_engine, make_session_factory, session_scope
from bot.db.migrate import upgrade
from bot.db.models import User, metadata


def test_migration_matches_models(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)  # idempotent: a second run at start-up changes nothing
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert set(sa.inspect(connection).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()


def test_timestamps_come_back_as_aware_utc(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        factory = make_session_factory(engine)
        beijing = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        with session_scope(factory) as session:
            session.add(
                User(
                    username="u1",
                    password_hash="x",
                    display_name="张三",
                    staff_number="1",
                    department="hz-xzsp",
                    role="staff",
                    active=True,
                    created_at=beijing,
                )
            )
        with session_scope(factory) as session:
            user = session.execute(sa.select(User)).scalar_one()
            assert user.created_at == beijing
            assert user.created_at.utcoffset() == dt.timedelta(0)
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()
