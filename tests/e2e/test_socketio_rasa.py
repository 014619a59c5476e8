"""The widget's socket.io channel against the real system (`python -m bot run`, trained model).

This is the test that catches a socket that never joins its session's room (python-socketio >= 5.10
with Rasa's own channel): the question would then get no answer at all.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
import socketio

from tests.e2e.conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = "二类医疗器械经营备案变更法人要什么材料"
FOLLOW_UP = "多久能办好"


class Widget:
    """What the widget does over socket.io, from Python (long-polling; see tests/bot/channels)."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        self.session: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.events.put_nowait)
        self.sio.on("session_confirm", self.session.put_nowait)

    async def open(self, url: str, session_id: str | None = None) -> str:
        await self.sio.connect(url, transports=["polling"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.session.get(), 10)

    async def ask(self, session_id: str, text: str, until: str, timeout: float = 30) -> List[Dict[str, Any]]:
        """Send `text`; collect bot messages until one carries a custom payload of type `until`."""
        await self.sio.emit(
            "user_uttered", {"message": text, "session_id": session_id, "customData": {"page": "/portal"}}
        )
        got: List[Dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            assert remaining > 0, f"no {until!r} payload within {timeout} s; got {got}"
            got.append(await asyncio.wait_for(self.events.get(), remaining))
            if (got[-1].get("custom") or {}).get("type") == until:
                return got

    async def next_event(self, timeout: float) -> Dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def close(self) -> None:
        await self.sio.disconnect()


def card(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    return next(m for m in messages if (m.get("custom") or {}).get("type") == "procedure_answer")


async def test_widget_conversation_over_socketio(system: System) -> None:
    widget = Widget()
    session = await widget.open(system.rasa_url)
    answer = card(await widget.ask(session, QUESTION, until="procedure_answer"))
    assert answer["custom"]["aspect"] == "materials"
    assert "医疗器械" in answer["custom"]["procedure"]["name"]
    assert "材料" in answer["text"] or "1" in answer["text"]
    await widget.close()

    # A reload: a new socket, the same session, so the follow-up keeps the procedure in context.
    again = Widget()
    assert await again.open(system.rasa_url, session) == session
    follow = card(await again.ask(session, FOLLOW_UP, until="procedure_answer"))
    await again.close()
    assert follow["custom"]["aspect"] == "time_limit"
    assert follow["custom"]["procedure"]["id"] == answer["custom"]["procedure"]["id"]
