"""A small key-value store with expiry, shared by every web-app process when Redis is configured.

The bridge keeps three kinds of short-lived state in it: which WeChat messages were already taken
(dedupe), what the first attempt of a message answered (for its retries), and the numbered options
last shown to each openid. With several web-app processes behind one address, WeChat's retry of a
message may reach another process than the first attempt, so the state must live in Redis there;
a single process (development, tests without Redis) uses `MemoryStore`.
"""

from __future__ import annotations

import time
from typing import Dict, Protocol, Tuple

from redis import asyncio as redis_asyncio

REDIS_TIMEOUT_SECONDS = 2.0


class SharedStore(Protocol):
    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if it is absent (Redis SET NX); True if this call set it."""

    async def set(self, key: str, value: str, ttl: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store for a single web-app process; expired keys are swept as new ones arrive."""

    SWEEP_EVERY = 1000

    def __init__(self, clock=time.monotonic) -> None:
        self._items: Dict[str, Tuple[str, float]] = {}
        self._clock = clock
        self._writes = 0

    def _live(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._items[key]
            return None
        return item[0]

    def _write(self, key: str, value: str, ttl: float) -> None:
        self._items[key] = (value, self._clock() + ttl)
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            now = self._clock()
            for stale in [k for k, (_, expires) in self._items.items() if expires <= now]:
                del self._items[stale]

    async def add(self, key: str, value: str, ttl: float) -> bool:
        # No await between the check and the write: atomic within the event loop.
        if self._live(key) is not None:
            return False
        self._write(key, value, ttl)
        return True

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._write(key, value, ttl)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def close(self) -> None:
        self._items.clear()


class RedisStore:
    """Redis-backed store; every key gets `prefix`, so tests and deployments can share a server."""

    def __init__(self, url: str, prefix: str = "chuishao:wechat:") -> None:
        self.prefix = prefix
        self._redis = redis_asyncio.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            decode_responses=True,
        )

    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._redis.set(self.prefix + key, value, px=self._ms(ttl), nx=True))

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self.prefix + key, value, px=self._ms(ttl))

    async def get(self, key: str) -> str | None:
        return await self._redis.get(self.prefix + key)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self.prefix + key)

    async def close(self) -> None:
        await self._redis.close()
        await self._redis.connection_pool.disconnect()
