"""Fixtures for the web side: clean settings, free ports, Sanic apps served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

import pytest
from sanic import Sanic

from bot.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Settings under test come from the test alone, not from the shell or a `.env` file."""
    for name in Settings.__fields__:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def make(**values: object) -> Settings:
        values.setdefault("chuishao_env", "test")
        values.setdefault("rasa_api_token", "test-token")
        values.setdefault("internal_api_token", "internal-test-token")
        values.setdefault("rasa_port", free_port())
        values.setdefault("action_port", free_port())
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def serve() -> Callable[[Sanic], AsyncIterator[str]]:
    """`async with serve(app) as url:` runs a Sanic app on a free port for the test."""
    return serving


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    """Run `app` on a free port of 127.0.0.1 in the current event loop; yields its base URL."""
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await asyncio.sleep(0)
