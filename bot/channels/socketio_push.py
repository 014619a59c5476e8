"""Push a staff reply to a web-widget user from any process (the web app, another Rasa instance).

The widget's socket lives in one Rasa process (`bot.channels.socketio.ChuishaoSocketIOInput`), whose
socket.io server shares a Redis channel with every other Rasa process when REDIS_URL is set. An emit
published on that channel by a write-only `socketio.AsyncRedisManager` here is re-emitted by each
server to the members of the room, and the room of a widget conversation is its session id, which is
also the Rasa sender id (the ticket's `conversation_id`). So the web app needs no Rasa process of its
own, and it does not matter which instance holds the socket.

"Delivered" means that at least one socket.io server was listening on the channel when the message
was published; whether the widget was open is not knowable here. A widget that was closed catches up
from `GET /api/conversations/{sender_id}/messages` when it is opened again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict

from bot.channels.socketio import DEFAULT_REDIS_CHANNEL, redis_manager

logger = logging.getLogger(__name__)

BOT_MESSAGE_EVENT = "bot_uttered"


def staff_reply_message(
    text: str,
    *,
    ticket_id: str,
    staff_name: str,
    staff_number: str,
    department: str,
    department_name: str,
    message_id: int | None = None,
) -> Dict[str, Any]:
    """The `bot_uttered` data of a staff reply: the text and who wrote it (三亮: name, department, number)."""
    custom: Dict[str, Any] = {
        "type": "staff_reply",
        "ticket": ticket_id,
        "staff": {
            "name": staff_name,
            "department": department,
            "department_name": department_name,
            "number": staff_number,
        },
    }
    if message_id is not None:
        custom["message_id"] = message_id
    return {"text": text, "custom": custom}


@dataclass(frozen=True)
class PushResult:
    delivered: bool
    listeners: int
    error: str | None = None


class SocketIOPush:
    """Emits to a widget conversation's room through Redis; one per process, built lazily."""

    def __init__(self, redis_url: str | None, channel: str = DEFAULT_REDIS_CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._manager: Any = None

    @property
    def manager(self) -> Any:
        if self._manager is None:
            self._manager = redis_manager(str(self.redis_url), self.channel, write_only=True)
        return self._manager

    async def listeners(self) -> int:
        """How many socket.io servers (Rasa processes that have had a widget connection) listen."""
        counts = await self.manager.redis.pubsub_numsub(self.channel)
        return int(counts[0][1]) if counts else 0

    async def push(self, conversation_id: str, data: Dict[str, Any]) -> PushResult:
        """Emit `bot_uttered` with `data` to the room `conversation_id`; never raises."""
        if not self.redis_url:
            return PushResult(False, 0, "REDIS_URL is not set: the widget only sees this when it polls")
        try:
            listeners = await self.listeners()
            if listeners == 0:
                return PushResult(False, 0, "no socket.io server is listening on Redis")
            await self.manager.emit(BOT_MESSAGE_EVENT, data, namespace="/", room=conversation_id)
        except Exception as error:  # Redis down or refusing: recorded on the ticket by the caller
            logger.warning("Could not push to socket.io conversation %r: %s", conversation_id, error)
            return PushResult(False, 0, f"Redis error: {error}")
        return PushResult(True, listeners)

    async def close(self) -> None:
        if self._manager is not None:
            manager, self._manager = self._manager, None
            await manager.redis.close()


class SocketIODelivery:
    """The `Delivery` of the socketio channel (bot/handoff/delivery.py): staff replies to widget users."""

    channel = "socketio"

    def __init__(self, push: SocketIOPush, department_name: Callable[[str], str] | None = None) -> None:
        self.push = push
        self.department_name = department_name or (lambda code: code)

    async def deliver(self, ticket: Any, message: Any) -> Any:
        """Push a staff reply (with the 三亮 identity) or, for `direction == "bot"`, a plain bot message."""
        from bot.handoff.delivery import DeliveryResult

        if message.direction == "bot":
            data: Dict[str, Any] = {"text": message.text}
        else:
            department = message.staff_department or ticket.department
            data = staff_reply_message(
                message.text,
                ticket_id=ticket.id,
                staff_name=message.staff_name or "",
                staff_number=message.staff_number or "",
                department=department,
                department_name=self.department_name(department),
                message_id=message.id,
            )
        result = await self.push.push(ticket.conversation_id, data)
        if result.delivered:
            return DeliveryResult.delivered()
        return DeliveryResult.failed(result.error or "not delivered")
