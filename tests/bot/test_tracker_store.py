"""The tracker store endpoints.yml configures: Rasa's SQL store, with SQLite in WAL mode."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Callable

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.slots import AnySlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.runner import rasa_env
from bot.tracker_store import ChuishaoSQLTrackerStore

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.from_dict({"slots": {"procedure_id": {"type": "any", "mappings": [{"type": "custom"}]}}})


@pytest.fixture
def store_from_endpoints(monkeypatch: pytest.MonkeyPatch, make_settings) -> Callable[[str], TrackerStore]:
    """Built the way `rasa run` builds it: from endpoints.yml, with the variables the runner sets."""

    def make(url: str) -> TrackerStore:
        for name, value in rasa_env(make_settings(tracker_store_url=url)).items():
            monkeypatch.setenv(name, value)
        config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "tracker_store")
        return TrackerStore.create(config, DOMAIN)

    return make


def conversation(sender: str, turns: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, [AnySlot("procedure_id", mappings=[{"type": "custom"}])])
    for turn in range(turns):
        tracker.update(UserUttered(f"第{turn}个问题", {"name": "ask_procedure", "confidence": 0.9}))
        tracker.update(ActionExecuted("action_answer_procedure"))
        tracker.update(BotUttered(f"第{turn}个回答"))
        tracker.update(SlotSet("procedure_id", f"proc-{turn}"))
        tracker.update(ActionExecuted("action_listen"))
    return tracker


def texts(tracker: DialogueStateTracker | None) -> list[str]:
    assert tracker is not None
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


async def test_endpoints_give_a_durable_sqlite_store_in_wal_mode(store_from_endpoints, tmp_path):
    db = tmp_path / "rasa-tracker.db"
    store = store_from_endpoints(f"sqlite:///{db}")

    assert isinstance(store, ChuishaoSQLTrackerStore)
    await store.save(conversation("u1", 2))
    with sqlite3.connect(db) as reader:  # another process's view of the file
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT count(*) FROM events WHERE sender_id = 'u1'").fetchone()[0] == 10

    # Rasa restarted: a new store on the same file has the whole conversation, and saving the longer
    # conversation adds only its new events.
    again = store_from_endpoints(f"sqlite:///{db}")
    assert texts(await again.retrieve("u1")) == ["第0个问题", "第0个回答", "第1个问题", "第1个回答"]
    await again.save(conversation("u1", 3))
    restored = await again.retrieve("u1")
    assert texts(restored) == texts(conversation("u1", 3))
    assert restored.get_slot("procedure_id") == "proc-2"


async def test_the_store_can_be_used_from_another_thread(store_from_endpoints, tmp_path):
    store = store_from_endpoints(f"sqlite:///{tmp_path / 't.db'}")
    await store.save(conversation("u2", 1))

    def read_in_thread() -> list[str]:
        return texts(asyncio.run(store.retrieve("u2")))

    assert await asyncio.to_thread(read_in_thread) == ["第0个问题", "第0个回答"]
    assert texts(await store.retrieve("u2")) == ["第0个问题", "第0个回答"]


async def test_an_in_memory_sqlite_database_is_left_as_rasa_makes_it(store_from_endpoints):
    store = store_from_endpoints("sqlite://")
    assert isinstance(store, ChuishaoSQLTrackerStore)
    await store.save(conversation("u3", 1))
    assert texts(await store.retrieve("u3")) == ["第0个问题", "第0个回答"]


async def test_the_latest_session_is_read_and_extended_as_rasas_store_does(store_from_endpoints, tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import SessionStarted

    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    store = store_from_endpoints(url)
    rasa_store = SQLTrackerStore(DOMAIN, host=url)
    tracker = conversation("u4", 2)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(UserUttered("新会话的问题", {"name": "ask_procedure", "confidence": 0.9}))
    await store.save(tracker)

    ours, rasas = await store.retrieve("u4"), await rasa_store.retrieve("u4")
    assert texts(ours) == texts(rasas) == ["新会话的问题"]
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]

    ours.update(BotUttered("新会话的回答"))
    await store.save(ours)
    assert texts(await rasa_store.retrieve("u4")) == ["新会话的问题", "新会话的回答"]
    assert texts(await rasa_store.retrieve_full_tracker("u4")) == [
        "第0个问题", "第0个回答", "第1个问题", "第1个回答", "新会话的问题", "新会话的回答"
    ]
    assert await store.retrieve("nobody") is None
