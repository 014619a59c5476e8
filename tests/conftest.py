"""Database fixtures shared by the handoff tests: the same tests run on SQLite and on PostgreSQL.

`database_url` is parametrised over a temporary SQLite file and a PostgreSQL database created for
the test session (`chuishao_test_<random>` on the local server, dropped at the end). Both are
migrated and empty at the start of every test. PostgreSQL being unreachable skips its half, unless
CHUISHAO_REQUIRE_POSTGRES=1 (set by `make test`, i.e. CI): then the tests fail.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.db.engine import make_engine, make_session_factory
from bot.db.migrate import upgrade
from bot.db.models import metadata

POSTGRES_ADMIN_URL = os.environ.get("CHUISHAO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parent.parent
WORKDAYS_FILE = REPO / "knowledge" / "data" / "workdays.yml"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CHUISHAO_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (CHUISHAO_REQUIRE_POSTGRES=1) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not reachable: {reason}")


class PostgresServer:
    """Creates and drops throwaway databases on the local PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        self.url = sa.engine.make_url(admin_url)

    def create(self) -> str:
        name = f"chuishao_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return str(self.url.set(database=name).render_as_string(hide_password=False))

    def drop(self, url: str) -> None:
        name = sa.engine.make_url(url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_ADMIN_URL)
    try:
        with server.admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as error:  # any driver or network error means "not reachable"
        server.admin.dispose()
        _postgres_unavailable(f"{type(error).__name__}: {error}".splitlines()[0])
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def _postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create()
    try:
        upgrade(url)
        yield url
    finally:
        postgres_server.drop(url)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a migrated, empty database; SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "chuishao.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("_postgres_database")
    _truncate(url)  # before, not after: a test's leftovers stay inspectable until the next test
    yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('empty') / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    try:
        yield url
    finally:
        server.drop(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.engine.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: sa.engine.Engine):
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def knowledge():
    """The real knowledge base (departments and their service levels)."""
    from knowledge import KnowledgeBase

    return KnowledgeBase.load()


class Clock:
    """A settable clock for the service: `clock.now = ...`, or `clock.advance(hours=...)`."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    # A Thursday in working hours (Asia/Shanghai).
    return Clock(dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI).astimezone(dt.timezone.utc))


@pytest.fixture(scope="session")
def work_calendar():
    from bot.handoff.calendar import WorkCalendar

    return WorkCalendar.load(WORKDAYS_FILE)


@pytest.fixture
def service(session_factory, knowledge, work_calendar, clock: Clock):
    from bot.handoff.service import TicketService

    return TicketService(session_factory, knowledge, work_calendar, clock=clock)


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic 21.12 rewrites its request methods ("touch-up") when an app starts; a second app in the
    same process then fails (KeyError '_run_request_middleware' or 'http1_request_header') unless
    test mode keeps the originals. Every test directory serves apps in-process, so this is global."""
    from sanic import Sanic

    monkeypatch.setattr(Sanic, "test_mode", True)
