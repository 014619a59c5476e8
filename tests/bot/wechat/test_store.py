"""The shared store and the deduplicator, in memory and in the local Redis."""

from __future__ import annotations

import asyncio

import pytest
from wechatpy import parse_message

from bot.wechat.dedupe import Deduplicator, Outcome, message_key
from bot.wechat.store import MemoryStore


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    factory = MemoryStore if request.param == "memory" else request.getfixturevalue("redis_store_factory")
    created = factory()
    yield created
    await created.close()


async def test_add_sets_only_once_and_values_expire(store) -> None:
    assert await store.add("k", "first", ttl=0.3)
    assert not await store.add("k", "second", ttl=0.3)
    assert await store.get("k") == "first"
    await asyncio.sleep(0.4)
    assert await store.get("k") is None
    assert await store.add("k", "again", ttl=5)
    await store.delete("k")
    assert await store.get("k") is None


async def test_concurrent_claims_of_one_message_have_one_winner(store) -> None:
    dedupe = Deduplicator(store)
    claims = await asyncio.gather(*(dedupe.claim("msg:1") for _ in range(20)))
    assert claims.count(True) == 1


async def test_a_retry_waits_for_the_first_attempts_outcome(store) -> None:
    dedupe = Deduplicator(store)
    assert await dedupe.claim("msg:2")

    async def owner() -> None:
        await asyncio.sleep(0.2)
        await dedupe.publish("msg:2", Outcome("passive", "您好"))

    waited, _ = await asyncio.gather(dedupe.wait("msg:2", timeout=2), owner())
    assert waited == Outcome("passive", "您好")
    assert await dedupe.wait("msg:3", timeout=0.1) is None


class BrokenStore(MemoryStore):
    async def add(self, key: str, value: str, ttl: float) -> bool:
        raise ConnectionError("Redis is down")


async def test_an_unreachable_store_lets_the_message_through() -> None:
    assert await Deduplicator(BrokenStore()).claim("msg:4")


def test_messages_are_keyed_by_msgid_and_events_by_openid_and_time() -> None:
    text = parse_message(
        "<xml><ToUserName>gh</ToUserName><FromUserName>oA</FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType>text</MsgType><Content>x</Content><MsgId>123456</MsgId></xml>"
    )
    event = parse_message(
        "<xml><ToUserName>gh</ToUserName><FromUserName>oA</FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event></xml>"
    )
    assert message_key(text) == "msg:123456"
    assert message_key(event) == "event:oA:1700000000:subscribe"
