"""What the bridge says to a WeChat message, and when.

WeChat shows a passive reply only if it comes within 5 s, and otherwise tries the message again (three
tries in all). The bridge gives Rasa `passive_seconds` (about 4 s, counted from the request's arrival):
an answer by then is the passive reply; a later one goes out through the customer-service message API,
and the request is answered `success` so WeChat stops retrying. Each openid is one Rasa conversation
(`wechat:<openid>`); a message is one Rasa turn however often WeChat retries it (`dedupe.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, List, Set

import httpx
from wechatpy.events import BaseEvent
from wechatpy.messages import BaseMessage

from bot import texts as common_texts
from bot.wechat import texts
from bot.wechat.client import SendError, WeChatApi
from bot.wechat.dedupe import Deduplicator, Outcome, message_key
from bot.wechat.formatting import MAX_TEXT_BYTES, RenderedReply, parse_choice, render, split_text
from bot.wechat.store import SharedStore

logger = logging.getLogger(__name__)

PASSIVE_REPLY_SECONDS = 4.0
OPTIONS_TTL_SECONDS = 24 * 3600.0
# The rest of a long answer follows the passive first part; the pause lets the first part land first.
REMAINDER_DELAY_SECONDS = 1.0
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan"})
SENDER_PREFIX = "wechat:"


def sender_id(openid: str) -> str:
    return SENDER_PREFIX + openid


class WeChatBridge:
    """Turns WeChat messages into Rasa turns and Rasa's answers into WeChat replies."""

    def __init__(
        self,
        *,
        rasa_url: str,
        http: httpx.AsyncClient,
        store: SharedStore,
        api: WeChatApi | None,
        rasa_timeout_seconds: float,
        passive_seconds: float = PASSIVE_REPLY_SECONDS,
        remainder_delay_seconds: float = REMAINDER_DELAY_SECONDS,
        max_text_bytes: int = MAX_TEXT_BYTES,
    ) -> None:
        self.webhook_url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        self.http = http
        self.store = store
        self.api = api
        self.dedupe = Deduplicator(store)
        self.rasa_timeout_seconds = rasa_timeout_seconds
        self.passive_seconds = passive_seconds
        self.remainder_delay_seconds = remainder_delay_seconds
        self.max_text_bytes = max_text_bytes
        self._background: Set[asyncio.Task] = set()

    # -- the entry point ---------------------------------------------------------------------

    async def handle(self, message: BaseMessage, received_at: float | None = None) -> str | None:
        """The passive reply to `message`, or None for `success` (nothing now; maybe more later).

        `received_at` is `time.monotonic()` when the request arrived: WeChat's 5 s run from then.
        """
        received_at = time.monotonic() if received_at is None else received_at
        key = message_key(message)
        if not await self.dedupe.claim(key):
            outcome = await self.dedupe.wait(key, self._remaining(received_at))
            logger.info("WeChat retried %s; answered with the first attempt's outcome %s", key, outcome)
            return outcome.text if outcome is not None and outcome.mode == "passive" else None

        text = self._text_for_rasa(message)
        if text is None:
            reply = self._own_reply(message)
            await self.dedupe.publish(key, Outcome("passive", reply) if reply else Outcome("deferred"))
            return reply

        openid = message.source
        turn = asyncio.ensure_future(self._turn(openid, text))
        try:
            rendered = await asyncio.wait_for(asyncio.shield(turn), self._remaining(received_at))
        except asyncio.TimeoutError:
            await self.dedupe.publish(key, Outcome("deferred"))
            logger.info("Rasa is slower than WeChat waits for %s; the answer follows by the API", key)
            self._in_background(self._deliver_later(openid, turn))
            return None

        first, rest = rendered.chunks[0], rendered.chunks[1:]
        await self.dedupe.publish(key, Outcome("passive", first))
        if rest:
            self._in_background(self._send_all(openid, rest, delay=self.remainder_delay_seconds))
        return first

    # -- what to say -----------------------------------------------------------------------

    @staticmethod
    def _text_for_rasa(message: BaseMessage) -> str | None:
        """The text this message puts to Rasa; None when the bridge answers it itself."""
        if message.type == "text":
            return message.content or ""
        if message.type == "voice" and (message.recognition or "").strip():
            return message.recognition.strip()
        return None

    @staticmethod
    def _own_reply(message: BaseMessage) -> str | None:
        """Replies that need no Rasa: a greeting, or a request to type. None: say nothing."""
        if isinstance(message, BaseEvent) or message.type == "event":
            return texts.GREETING if getattr(message, "event", "") in SUBSCRIBE_EVENTS else None
        if message.type == "voice":
            return texts.VOICE_NOT_RECOGNISED
        return texts.PLEASE_TYPE  # image, video, location, link, file and types wechatpy does not know

    async def _turn(self, openid: str, text: str) -> RenderedReply:
        """One Rasa turn; a digit picks one of the options shown last. Never raises."""
        try:
            return await self._turn_unguarded(openid, text)
        except Exception:  # a user must hear something, whatever broke
            logger.exception("The WeChat turn of %s failed", sender_id(openid))
            return RenderedReply(chunks=split_text(common_texts.SERVICE_UNAVAILABLE, self.max_text_bytes))

    async def _turn_unguarded(self, openid: str, text: str) -> RenderedReply:
        message = await self._resolve_choice(openid, text)
        replies = await self._ask_rasa(openid, message)
        if replies is None:
            return RenderedReply(chunks=split_text(common_texts.SERVICE_UNAVAILABLE, self.max_text_bytes))
        rendered = render(replies, self.max_text_bytes)
        await self._remember_options(openid, rendered.payloads)
        if not rendered.chunks:
            rendered.chunks = split_text(common_texts.SERVICE_UNAVAILABLE, self.max_text_bytes)
        return rendered

    async def _ask_rasa(self, openid: str, text: str) -> List[Dict[str, Any]] | None:
        """Rasa's messages for this turn, or None when Rasa could not be asked or answered nonsense."""
        body = {
            "sender": sender_id(openid),
            "message": text,
            "input_channel": "wechat",
            "metadata": {"input_channel": "wechat"},
        }
        try:
            response = await self.http.post(self.webhook_url, json=body, timeout=self.rasa_timeout_seconds)
        except httpx.HTTPError as error:
            logger.error("Rasa's REST channel did not answer for %s: %r", sender_id(openid), error)
            return None
        if response.status_code != 200:
            logger.error("Rasa's REST channel answered HTTP %s: %s", response.status_code, response.text[:99])
            return None
        try:
            replies = response.json()
        except ValueError:
            logger.error("Rasa's REST channel answered something other than JSON: %s", response.text[:300])
            return None
        if not isinstance(replies, list):
            logger.error("Rasa's REST channel answered %r, not a list of messages", type(replies).__name__)
            return None
        return replies

    # -- numbered options --------------------------------------------------------------------

    async def _resolve_choice(self, openid: str, text: str) -> str:
        try:
            raw = await self.store.get(f"options:{openid}")
        except Exception as error:  # noqa: BLE001 - without the options, the digit goes to Rasa as typed
            logger.warning("Could not read the options shown to %s: %s", openid, error)
            return text
        if raw is None:
            return text
        payloads = json.loads(raw)
        choice = parse_choice(text, len(payloads))
        return payloads[choice] if choice is not None else text

    async def _remember_options(self, openid: str, payloads: List[str]) -> None:
        """The latest answer's options replace the previous ones; an answer without any clears them,
        so a digit typed later is not taken for a stale choice."""
        try:
            if payloads:
                await self.store.set(f"options:{openid}", json.dumps(payloads), OPTIONS_TTL_SECONDS)
            else:
                await self.store.delete(f"options:{openid}")
        except Exception as error:  # noqa: BLE001
            logger.warning("Could not store the options shown to %s: %s", openid, error)

    # -- later delivery ----------------------------------------------------------------------

    async def _deliver_later(self, openid: str, turn: asyncio.Future) -> None:
        rendered: RenderedReply = await turn
        await self._send_all(openid, rendered.chunks)

    async def _send_all(self, openid: str, chunks: List[str], delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self.api is None:
            logger.error(
                "Cannot send %d message(s) to %s: WECHAT_APPID / WECHAT_APP_SECRET are not set",
                len(chunks),
                openid,
            )
            return
        for number, chunk in enumerate(chunks, start=1):
            try:
                await self.api.send_text(openid, chunk)
            except SendError as error:
                logger.error(
                    "Customer-service message %d/%d to %s failed (errcode %s): %s",
                    number,
                    len(chunks),
                    openid,
                    error.errcode,
                    error.errmsg,
                )
                return

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)

        def done(finished: asyncio.Task) -> None:
            self._background.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is not None:
                logger.error("WeChat delivery failed", exc_info=(type(error), error, error.__traceback__))

        task.add_done_callback(done)

    def _remaining(self, received_at: float) -> float:
        return max(0.0, self.passive_seconds - (time.monotonic() - received_at))

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for answers still on their way (at shutdown, and in tests)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)
