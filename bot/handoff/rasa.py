"""RasaClient: the handoff service's use of Rasa's HTTP API (pause/resume, staff text, external intents).

Rasa authenticates its API with `?token=` (RASA_API_TOKEN). Every call has a short timeout; any
failure (unreachable, timeout, non-2xx, bad JSON) raises `RasaUnavailable`, which the caller records
as a `delivery_failed` audit entry instead of failing the staff action.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List
from urllib.parse import quote

import httpx

# Characters left as they are in a conversation id. Rasa's routes (`/conversations/<id:path>/...`, Sanic
# 21.12) do not percent-decode the id, so "wechat:<openid>" sent as "wechat%3A<openid>" would address
# another, empty conversation; everything a URL path may hold is therefore sent raw ("/" included: the
# `path` parameter takes it). Ids with other characters (space, "?", "#", "%", non-ASCII) cannot be
# addressed through Rasa's API at all; the widget's and WeChat's ids never have them.
PATH_SAFE = "/:@!$&'()*+,;="

# Rasa's text for intents triggered from outside (rasa.shared.core.constants.EXTERNAL_MESSAGE_PREFIX).
EXTERNAL_PREFIX = "EXTERNAL: "
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class RasaUnavailable(Exception):
    """Rasa did not do what was asked; `str()` says why (for the audit log)."""


class RasaClient:
    """Async client of one Rasa server; share one per app (it keeps a connection pool)."""

    def __init__(
        self,
        base_url: str,
        token: str = "",
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            params={"token": token} if token else None,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if not 200 <= response.status_code < 300:
            raise RasaUnavailable(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaUnavailable(f"{method} {path}: response is not JSON") from error

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe=PATH_SAFE)}"

    async def append_events(self, conversation_id: str, events: List[Dict[str, Any]]) -> None:
        """Append events to the tracker without running side effects or sending anything to a channel."""
        await self._request("POST", f"{self._conversation(conversation_id)}/tracker/events", json=events)

    async def pause(self, conversation_id: str) -> None:
        """Stop the bot predicting for this conversation (staff have the case)."""
        await self.append_events(conversation_id, [{"event": "pause"}])

    async def resume(self, conversation_id: str) -> None:
        await self.append_events(conversation_id, [{"event": "resume"}])

    async def add_bot_message(
        self, conversation_id: str, text: str, data: Dict[str, Any] | None = None
    ) -> None:
        """Record a staff reply in the transcript; the channel delivery sends it to the user."""
        event: Dict[str, Any] = {"event": "bot", "text": text}
        if data:
            event["data"] = {"custom": data}
        await self.append_events(conversation_id, [event])

    async def trigger_intent(
        self,
        conversation_id: str,
        intent: str,
        entities: Dict[str, Any] | None = None,
        output_channel: str | None = "latest",
    ) -> List[Dict[str, Any]]:
        """Run `intent` as if the user said it; the bot messages Rasa could not send itself.

        With `output_channel="latest"` Rasa sends the answers through the user's last channel when it
        can (e.g. socket.io); otherwise (REST) it returns them here, for the caller to keep.
        """
        params = {"output_channel": output_channel} if output_channel else None
        body = await self._request(
            "POST",
            f"{self._conversation(conversation_id)}/trigger_intent",
            json={"name": intent, "entities": entities or {}},
            params=params,
        )
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    async def fetch_user_messages_since(self, conversation_id: str, since: dt.datetime | float) -> List[Dict]:
        """What the user wrote after `since` (exclusive), as [{"text", "at": unix seconds}], oldest first."""
        threshold = since.timestamp() if isinstance(since, dt.datetime) else float(since)
        body = await self._request(
            "GET", f"{self._conversation(conversation_id)}/tracker", params={"include_events": "ALL"}
        )
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise RasaUnavailable("tracker without events")
        found = []
        for event in events:
            if not isinstance(event, dict) or event.get("event") != "user":
                continue
            text, at = event.get("text"), event.get("timestamp")
            if not isinstance(text, str) or not text.strip() or text.startswith(EXTERNAL_PREFIX):
                continue
            if isinstance(at, (int, float)) and at > threshold:
                found.append({"text": text, "at": float(at)})
        return sorted(found, key=lambda m: m["at"])
