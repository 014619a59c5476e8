"""The load generator's bounds and counting, and the process helpers, without any real server."""

import asyncio
import json
import os

import httpx
import pytest

from eval.bench import message_mix, ratio
from eval.load import free_port, process_memory, run_load

URL = "http://127.0.0.1:5005"


def run(handler, **kwargs):
    transport = httpx.MockTransport(handler)
    options = {"users": 3, "max_messages": 10, "max_seconds": 30} | kwargs
    return asyncio.run(run_load(URL, ["一", "二", "三"], transport=transport, **options))


def test_stops_after_max_messages_and_rotates_conversations():
    senders, texts = [], []

    async def handler(request):
        body = json.loads(request.content)
        senders.append(body["sender"])
        texts.append(body["message"])
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": "好"}])

    result = run(handler, users=1, max_messages=7, session_turns=3)
    assert (result.sent, result.ok, result.errors) == (7, 7, 0)
    assert texts == ["一", "二", "三", "一", "二", "三", "一"]
    assert len(set(senders)) == 3  # 3 + 3 + 1 turns
    assert result.messages_per_s > 0
    assert 0 <= result.p50_ms <= result.p95_ms


def test_failures_are_counted_not_timed():
    calls = {"n": 0}

    async def handler(request):
        calls["n"] += 1
        if calls["n"] % 2:
            return httpx.Response(500)
        return httpx.Response(200, json=[])

    result = run(handler, users=2, max_messages=10)
    assert (result.sent, result.ok, result.errors) == (10, 5, 5)


def test_stops_at_the_time_bound():
    async def slow(request):
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=[])

    result = run(slow, users=2, max_messages=10_000, max_seconds=0.3)
    assert result.sent < 40
    assert result.seconds < 2


def test_refuses_remote_targets():
    with pytest.raises(ValueError):
        asyncio.run(run_load("http://192.0.2.1:5005", ["x"], users=1, max_messages=1, max_seconds=1))


def test_helpers():
    assert 0 < free_port() < 65536
    me = process_memory(os.getpid())
    assert me["rss_mib"] > 0 and me["rss_with_children_mib"] >= me["rss_mib"]
    assert ratio(20.0, 10.0) == 2.0 and ratio(None, 1.0) is None and ratio(1.0, 0) is None
    mix = message_mix()
    assert len(mix) >= 200 and mix == message_mix()  # fixed seed: the same mix every run
