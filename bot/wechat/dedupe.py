"""One Rasa turn per WeChat message, however often and however concurrently WeChat retries it.

WeChat waits 5 s for an answer and then sends the same message again, three tries in all. Only the
attempt whose connection WeChat still holds can show a passive reply, so a retry must not answer
`success` blindly while the first attempt's reply may be going to a connection WeChat already
dropped. The first attempt to `claim` a message owns it; it publishes what it did (`passive` with the
reply it gave, or `deferred` when the answer goes out later through the customer-service API), and a
retry `wait`s for that and gives the same passive reply, or `success`.

Keys: `MsgId` for messages; `FromUserName` + `CreateTime` (+ the event name) for events, which have
no MsgId.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Literal

from wechatpy.messages import BaseMessage

from bot.wechat.store import SharedStore

logger = logging.getLogger(__name__)

# WeChat's three tries span about 15 s; a message seen within this window is a retry.
DEDUPE_TTL_SECONDS = 300.0
POLL_SECONDS = 0.05


def message_key(message: BaseMessage) -> str:
    """The identity WeChat keeps across retries of one message."""
    if message.type == "event" or not message.id:
        event = getattr(message, "event", "") or ""
        return f"event:{message.source}:{message.time}:{event}"
    return f"msg:{message.id}"


@dataclass(frozen=True)
class Outcome:
    """What the owner of a message did: replied `passive`ly with `text`, or `deferred` the answer."""

    mode: Literal["passive", "deferred"]
    text: str | None = None


class Deduplicator:
    """Claims and outcomes of WeChat messages in a store shared by all processes."""

    def __init__(self, store: SharedStore, ttl: float = DEDUPE_TTL_SECONDS) -> None:
        self.store = store
        self.ttl = ttl

    async def claim(self, key: str) -> bool:
        """True for the first attempt of a message. If the store fails, the message is processed:
        a possible duplicate answer is better than a user left without one."""
        try:
            return await self.store.add(f"seen:{key}", "1", self.ttl)
        except Exception as error:  # noqa: BLE001 - any store failure means the same: fail open
            logger.warning("WeChat dedupe store unavailable (%s); processing %s without dedupe", error, key)
            return True

    async def publish(self, key: str, outcome: Outcome) -> None:
        try:
            await self.store.set(
                f"outcome:{key}", json.dumps({"mode": outcome.mode, "text": outcome.text}), self.ttl
            )
        except Exception as error:  # noqa: BLE001
            logger.warning("Could not record the outcome of %s: %s", key, error)

    async def wait(self, key: str, timeout: float) -> Outcome | None:
        """The owner's outcome, once it is known; None if it is not known within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                raw = await self.store.get(f"outcome:{key}")
            except Exception as error:  # noqa: BLE001
                logger.warning("Could not read the outcome of %s: %s", key, error)
                return None
            if raw is not None:
                data = json.loads(raw)
                return Outcome(mode=data["mode"], text=data.get("text"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(POLL_SECONDS, remaining))
