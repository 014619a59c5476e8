"""Getting staff replies to the enterprise, and the Rasa side effects of staff actions.

`Delivery` is the protocol a channel implements to push a staff message to the user:

    class MyDelivery:
        async def deliver(self, ticket: Ticket, message: TicketMessage) -> DeliveryResult: ...

`ticket` and `message` are detached rows (read `ticket.id`, `ticket.conversation_id`,
`ticket.channel`, `message.id`, `message.text`, `message.direction`, and the 三亮 snapshot
`message.staff_name`, `message.staff_department`, `message.staff_number`). Return
`DeliveryResult.delivered()` or `DeliveryResult.failed("reason")`; raising counts as failed.
A channel with no registered delivery (the REST channel) is "polling": the client fetches
`GET /api/conversations/{sender}/messages`. Every outcome is stored on the message
(`delivery_status`, `delivery_error`); a failure also writes a `delivery_failed` audit entry.

`HandoffCoordinator` runs a staff action in a worker thread (TicketService is synchronous) and then
does what the action means outside the database: pause or resume the bot, record the reply in Rasa's
transcript, deliver it, and after `resolve` trigger `EXTERNAL_ticket_resolved`. Those side effects
never make the staff action fail; they are recorded for staff to see.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Protocol

from bot.db.models import STATUS_RESOLVED, Ticket, TicketMessage, User
from bot.handoff.rasa import RasaClient, RasaUnavailable
from bot.handoff.service import TicketService

logger = logging.getLogger(__name__)

RESOLVED_INTENT = "EXTERNAL_ticket_resolved"
SYNC_FAILED_NOTICE = "暂时无法从对话系统同步企业的最新留言，请稍后刷新页面。"
DELIVERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "delivered" | "failed" | "polling"
    error: str | None = None

    @classmethod
    def delivered(cls) -> DeliveryResult:
        return cls("delivered")

    @classmethod
    def failed(cls, error: str) -> DeliveryResult:
        return cls("failed", error)


class Delivery(Protocol):
    async def deliver(self, ticket: Ticket, message: TicketMessage) -> DeliveryResult: ...


class DeliveryRegistry:
    """Channel name (the ticket's `channel`, e.g. "socketio", "wechat") → its Delivery."""

    def __init__(self) -> None:
        self._deliveries: Dict[str, Delivery] = {}

    def register(self, channel: str, delivery: Delivery) -> None:
        self._deliveries[channel] = delivery

    def get(self, channel: str) -> Delivery | None:
        return self._deliveries.get(channel)

    async def deliver(self, ticket: Ticket, message: TicketMessage) -> DeliveryResult:
        delivery = self.get(ticket.channel)
        if delivery is None:
            return DeliveryResult("polling")
        try:
            result = await asyncio.wait_for(delivery.deliver(ticket, message), DELIVERY_TIMEOUT_SECONDS)
        except Exception as error:  # a channel's bug must not lose the staff action
            logger.exception("delivery of message %s on %s failed", message.id, ticket.channel)
            return DeliveryResult.failed(f"{type(error).__name__}: {error}")
        if not isinstance(result, DeliveryResult):
            return DeliveryResult.failed(f"delivery returned {result!r}")
        return result


@dataclass
class RecordingDelivery:
    """Test double: remembers what it was asked to deliver; `fail_with` makes it fail."""

    fail_with: str | None = None
    sent: List[tuple[str, str, str]] = field(default_factory=list)  # (ticket id, conversation id, text)

    async def deliver(self, ticket: Ticket, message: TicketMessage) -> DeliveryResult:
        if self.fail_with is not None:
            return DeliveryResult.failed(self.fail_with)
        self.sent.append((ticket.id, ticket.conversation_id, message.text))
        return DeliveryResult.delivered()


class HandoffCoordinator:
    """Staff actions with their side effects; `rasa=None` means no Rasa (side effects skipped)."""

    def __init__(self, service: TicketService, rasa: RasaClient | None, registry: DeliveryRegistry) -> None:
        self.service = service
        self.rasa = rasa
        self.registry = registry

    async def _rasa_step(self, ticket_id: str, step: str, call: Any) -> bool:
        try:
            await call
            return True
        except RasaUnavailable as error:
            logger.warning("Rasa %s for ticket %s failed: %s", step, ticket_id, error)
            await asyncio.to_thread(self.service.record_failure, ticket_id, step, str(error))
            return False

    async def _sync(self, ticket: Ticket) -> str | None:
        """Copy what the user wrote since the last copy from Rasa's tracker; a notice if Rasa failed."""
        if self.rasa is None or ticket.status == STATUS_RESOLVED:
            return None
        since = await asyncio.to_thread(self.service.latest_incoming_at, ticket.id)
        try:
            found = await self.rasa.fetch_user_messages_since(ticket.conversation_id, since)
        except RasaUnavailable as error:
            # Not audited: every page view while Rasa is down would add an entry.
            logger.warning("could not copy messages of ticket %s from Rasa: %s", ticket.id, error)
            return SYNC_FAILED_NOTICE
        await asyncio.to_thread(self.service.add_incoming_messages, ticket.id, found)
        return None

    async def sync_incoming(
        self, actor: User, ticket_id: str, *, remote_addr: str | None = None
    ) -> str | None:
        """Before showing a case: copy the user's latest messages (scope checked first).

        Returns None, or a Chinese notice for the page when Rasa could not be read; never raises
        for Rasa (NotFound for a ticket outside the actor's scope).
        """
        ticket = await asyncio.to_thread(self.service.get_ticket, actor, ticket_id)
        return await self._sync(ticket)

    async def open_ticket(self, actor: User, ticket_id: str) -> Dict[str, Any]:
        """The case page's data (TicketService.ticket_detail) after sync_incoming, plus `sync_notice`."""
        notice = await self.sync_incoming(actor, ticket_id)
        detail = await asyncio.to_thread(self.service.ticket_detail, actor, ticket_id)
        detail["sync_notice"] = notice
        return detail

    async def claim(self, actor: User, ticket_id: str, *, remote_addr: str | None = None) -> Ticket:
        ticket = await asyncio.to_thread(self.service.claim, actor, ticket_id, remote_addr=remote_addr)
        if self.rasa is not None:
            await self._rasa_step(ticket.id, "pause", self.rasa.pause(ticket.conversation_id))
        return ticket

    async def assign(
        self, actor: User, ticket_id: str, user_id: int, *, remote_addr: str | None = None
    ) -> Ticket:
        ticket = await asyncio.to_thread(
            self.service.assign, actor, ticket_id, user_id, remote_addr=remote_addr
        )
        if self.rasa is not None:
            await self._rasa_step(ticket.id, "pause", self.rasa.pause(ticket.conversation_id))
        return ticket

    async def reply(
        self, actor: User, ticket_id: str, text: str, *, remote_addr: str | None = None
    ) -> tuple[Ticket, TicketMessage]:
        """Store the reply, record it in Rasa's transcript, and deliver it on the ticket's channel."""
        await self.sync_incoming(actor, ticket_id)
        ticket, message = await asyncio.to_thread(
            self.service.reply, actor, ticket_id, text, remote_addr=remote_addr
        )
        if self.rasa is not None:
            data = {"type": "staff_reply", "ticket": ticket.id, "message_id": message.id}
            await self._rasa_step(
                ticket.id, "transcript", self.rasa.add_bot_message(ticket.conversation_id, message.text, data)
            )
        await self._deliver(ticket, message)
        return ticket, message

    async def resolve(
        self, actor: User, ticket_id: str, note: str | None = None, *, remote_addr: str | None = None
    ) -> Ticket:
        """Resolve, hand the conversation back to the bot, and let it ask for the outcome and a rating."""
        ticket = await asyncio.to_thread(
            self.service.resolve, actor, ticket_id, note, remote_addr=remote_addr
        )
        if self.rasa is None:
            return ticket
        await self._rasa_step(ticket.id, "resume", self.rasa.resume(ticket.conversation_id))
        try:
            answers = await self.rasa.trigger_intent(
                ticket.conversation_id, RESOLVED_INTENT, entities={"ticket_id": ticket.id}
            )
        except RasaUnavailable as error:
            await asyncio.to_thread(self.service.record_failure, ticket.id, "trigger_intent", str(error))
            return ticket
        texts = [a["text"] for a in answers if isinstance(a.get("text"), str)]
        if texts:
            stored = await asyncio.to_thread(self.service.add_bot_messages, ticket.id, texts, "pending")
            for message in stored:
                await self._deliver(ticket, message)
        return ticket

    async def transfer(
        self, actor: User, ticket_id: str, department: str, reason: str, *, remote_addr: str | None = None
    ) -> Ticket:
        ticket = await asyncio.to_thread(
            self.service.transfer, actor, ticket_id, department, reason, remote_addr=remote_addr
        )
        if self.rasa is not None:
            await self._rasa_step(ticket.id, "resume", self.rasa.resume(ticket.conversation_id))
        return ticket

    async def return_(
        self, actor: User, ticket_id: str, reason: str, *, remote_addr: str | None = None
    ) -> Ticket:
        ticket = await asyncio.to_thread(
            self.service.return_, actor, ticket_id, reason, remote_addr=remote_addr
        )
        if self.rasa is not None:
            await self._rasa_step(ticket.id, "resume", self.rasa.resume(ticket.conversation_id))
        return ticket

    async def _deliver(self, ticket: Ticket, message: TicketMessage) -> None:
        result = await self.registry.deliver(ticket, message)
        await asyncio.to_thread(self.service.record_delivery, message.id, result.status, result.error)
        message.delivery_status = result.status
        message.delivery_error = result.error
