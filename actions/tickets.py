"""action_check_ticket: the status and latest staff reply of this conversation's tickets.

Only the conversation's own tickets are shown: the service lists tickets by conversation, and an id
of another conversation is "not found in this session", never its content.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.handoff import HandoffClient, HandoffError, get_handoff_client
from actions.clients.outbox import Outbox, get_outbox

logger = logging.getLogger(__name__)

TICKET_ID = re.compile(r"HZ-\d{8}-\d{4}", re.IGNORECASE)
MAX_SHOWN = 3


def ticket_id_in(message: dict[str, Any]) -> str | None:
    """The id the user asked about: the ticket_id entity, else an id-shaped string in the text."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == "ticket_id" and TICKET_ID.fullmatch(
            str(entity.get("value") or "").strip()
        ):
            return str(entity["value"]).strip().upper()
    match = TICKET_ID.search(message.get("text") or "")
    return match.group(0).upper() if match else None


def ticket_summary(ticket: dict[str, Any]) -> dict[str, Any]:
    """What the widget gets per ticket in the ticket_status payload."""
    reply = ticket.get("latest_reply") or ticket.get("last_reply")
    return {
        "id": ticket.get("id"),
        "status": ticket.get("status"),
        "status_label": templates.STATUS_LABELS.get(str(ticket.get("status")), ticket.get("status")),
        "department": ticket.get("department"),
        "department_name": ticket.get("department_name"),
        "due": ticket.get("due"),
        "overdue": bool(ticket.get("overdue")),
        "latest_reply": reply if isinstance(reply, dict) else None,
    }


class ActionCheckTicket(Action):
    def __init__(self, client: HandoffClient | None = None, outbox: Outbox | None = None) -> None:
        self._client, self._outbox = client, outbox

    @property
    def client(self) -> HandoffClient:
        return self._client or get_handoff_client()

    @property
    def outbox(self) -> Outbox:
        return self._outbox or get_outbox()

    def name(self) -> str:
        return "action_check_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = ticket_id_in(tracker.latest_message or {})
        try:
            queued = len(await asyncio.to_thread(self.outbox.pending_for, tracker.sender_id))
        except Exception:
            logger.warning("Outbox unreadable while checking tickets", exc_info=True)
            queued = 0
        try:
            tickets = await self.client.conversation_tickets(tracker.sender_id)
        except HandoffError as error:
            logger.warning("Ticket look-up failed for %s: %s", tracker.sender_id, error)
            dispatcher.utter_message(
                text=templates.tickets_unavailable(),
                json_message={"type": "ticket_status", "tickets": [], "error": "unavailable"},
            )
            return []

        if wanted is not None:
            tickets = [t for t in tickets if str(t.get("id")).upper() == wanted]
            if not tickets:
                dispatcher.utter_message(
                    text=templates.ticket_not_found(wanted),
                    json_message={"type": "ticket_status", "tickets": [], "not_found": wanted},
                )
                return []
        if not tickets:
            dispatcher.utter_message(
                text=templates.no_ticket(queued),
                json_message={"type": "ticket_status", "tickets": [], "queued": queued},
            )
            return []
        shown = tickets[:MAX_SHOWN]
        dispatcher.utter_message(
            text=templates.tickets_overview(shown, queued if wanted is None else 0),
            json_message={"type": "ticket_status", "tickets": [ticket_summary(t) for t in shown]},
        )
        return []
