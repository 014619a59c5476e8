"""The ticket handoff (企业吹哨): start it, cancel or decline it, and submit the finished form.

- `action_request_human` (request_human, complain, affirm after a no-match offer) prepares the
  handoff form: the user's own question as the default description, the department from
  DepartmentRouter, details stated in the message, and the timestamp of the message that started the
  handoff (the ticket's idempotency key is derived from it, so a retried submit gives the same key).
- `action_submit_handoff` posts the ticket; when the handoff service is unreachable the request goes
  to the durable outbox and the user is told so honestly.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.handoff import HandoffClient, HandoffRejected, HandoffUnavailable, get_handoff_client
from actions.clients.knowledge import KnowledgeClient, get_knowledge_client
from actions.clients.outbox import Outbox, get_outbox, start_delivery_once
from actions.validation import extract_details

if TYPE_CHECKING:
    from knowledge import Department
    from knowledge.routing import DepartmentRouter, Routing

logger = logging.getLogger(__name__)

CHUISHAO_OFFICE = "hz-chuishao"
NO_CREDIT_CODE = "无"
DETAIL_SLOTS = ("company_name", "credit_code", "contact_name", "mobile")
SLOT_LABELS = {
    "company_name": "企业名称",
    "credit_code": "统一社会信用代码（可跳过）",
    "contact_name": "联系人",
    "mobile": "手机号码",
    "description": "问题描述",
}
# Slots of one handoff: cleared after a submit or a cancel. The enterprise's details are kept, so a
# second handoff in the same conversation does not ask for them again.
HANDOFF_SLOTS = (
    "description",
    "description_confirmed",
    "handoff_department",
    "handoff_candidates",
    "department_confirmed",
    "handoff_started_at",
)
# User messages that are not a question of their own, so never the default description.
NOT_A_QUESTION = frozenset(
    {
        "request_human",
        "affirm",
        "deny",
        "greet",
        "goodbye",
        "thank",
        "cancel",
        "check_ticket",
        "bot_challenge",
        "inform",
        "EXTERNAL_ticket_resolved",
    }
)
_HANDOFF_WORDS = re.compile(
    r"转人工|人工客服|人工服务|人工|我要吹哨|吹哨|找工作人员|工作人员|真人|帮我|我要|我想|请|转接|转给|"
    r"相关部门|部门|没用|没解决|这个|问题|[，。,.!！?？\s]"
)
MIN_QUESTION_CHARS = 6


# --- shared helpers ------------------------------------------------------------------------------

_routers: dict[int, DepartmentRouter] = {}
_routers_lock = threading.Lock()


def router_for(client: KnowledgeClient) -> DepartmentRouter:
    """One DepartmentRouter per loaded knowledge base (built on first use: about a second)."""
    from knowledge.routing import DepartmentRouter

    kb = client.kb
    with _routers_lock:
        router = _routers.get(id(kb))
        if router is None:
            router = _routers[id(kb)] = DepartmentRouter.build(kb, client.retriever)
        return router


def user_events(tracker: Tracker) -> list[dict[str, Any]]:
    return [e for e in tracker.events if e.get("event") == "user"]


def default_description(tracker: Tracker) -> str | None:
    """The user's own question: the last substantive user message before the handoff.

    A complaint is its own description. A trigger that says more than "转人工" ("照你说的做了，窗口还是
    不给办") is kept too, after the question it follows up, so staff see both.
    """
    events = user_events(tracker)
    if not events:
        return None
    trigger = events[-1]
    text = (trigger.get("text") or "").strip()
    intent = ((trigger.get("parse_data") or {}).get("intent") or {}).get("name")
    if intent == "complain" and not text.startswith("/"):
        return text
    says_more = len(_HANDOFF_WORDS.sub("", text)) >= MIN_QUESTION_CHARS and not text.startswith("/")
    earlier = next(
        (
            (event.get("text") or "").strip()
            for event in reversed(events[:-1])
            if (event.get("text") or "").strip()
            and not (event.get("text") or "").strip().startswith("/")
            and ((event.get("parse_data") or {}).get("intent") or {}).get("name") not in NOT_A_QUESTION
        ),
        None,
    )
    if says_more:
        return f"{earlier}；{text}" if earlier else text
    return earlier


def idempotency_key(conversation_id: str, started_at: float | None) -> str:
    """Same conversation and same starting message -> same key, however often the submit is retried."""
    digest = hashlib.sha256(f"{conversation_id}\x1f{started_at!r}".encode()).hexdigest()
    return f"rasa-{digest[:40]}"


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    """The conversation so far as the service stores it: role, text, ISO time (UTC)."""
    lines = []
    for event in tracker.events:
        kind = event.get("event")
        text = (event.get("text") or "").strip()
        if kind not in ("user", "bot") or not text:
            continue
        at = datetime.fromtimestamp(float(event.get("timestamp") or 0), tz=timezone.utc).isoformat()
        lines.append({"role": kind, "text": text, "at": at})
    return lines


def reset_events() -> list[EventType]:
    return [SlotSet(slot, None) for slot in HANDOFF_SLOTS]


def _department(client: KnowledgeClient, code: str | None) -> Department | None:
    try:
        return client.department(code)
    except Exception:  # the knowledge base is down: names are a courtesy, not a requirement
        logger.warning("Could not look up department %r", code, exc_info=True)
        return None


# --- actions -------------------------------------------------------------------------------------


class ActionRequestHuman(Action):
    """Prepare the handoff form; the form (next in the rules) asks for what is still missing."""

    def __init__(self, client: KnowledgeClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> KnowledgeClient:
        return self._client or get_knowledge_client()

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = user_events(tracker)
        started_at = float(events[-1].get("timestamp") or 0) if events else 0.0
        description = default_description(tracker)
        try:
            routing = await asyncio.to_thread(
                self._route, description or "", tracker.get_slot("procedure_id")
            )
            department, candidates, unclear = routing.department, list(routing.candidates), routing.unclear
        except Exception:
            logger.exception("Routing failed; the ticket goes to the 吹哨 office")
            department, candidates, unclear = CHUISHAO_OFFICE, [CHUISHAO_OFFICE], True
        logger.info("Handoff for %s routed to %s (unclear=%s)", tracker.sender_id, department, unclear)

        # Details stated in the trigger ("我是…公司，电话…，我要吹哨") fill what is still empty.
        found = extract_details((tracker.latest_message or {}).get("text") or "")
        found = {slot: value for slot, value in found.items() if not tracker.get_slot(slot)}
        known = {slot: tracker.get_slot(slot) or found.get(slot) for slot in DETAIL_SLOTS}
        known["description"] = description
        missing = [label for slot, label in SLOT_LABELS.items() if not known.get(slot)]
        dispatcher.utter_message(text=templates.handoff_start(_department(self.client, department), missing))
        return [
            SlotSet("handoff_started_at", started_at),
            SlotSet("description", description),
            SlotSet("description_confirmed", None),
            SlotSet("handoff_department", department),
            SlotSet("handoff_candidates", candidates),
            SlotSet("department_confirmed", None),
            SlotSet("handoff_offered", False),
            *(SlotSet(slot, value) for slot, value in found.items()),
        ]

    def _route(self, text: str, procedure_id: str | None) -> Routing:
        return router_for(self.client).route(text, procedure_id)


class ActionDeclineHandoff(Action):
    """The user declined the offered human: say so, and clear the offer (it used to stay set)."""

    def name(self) -> str:
        return "action_decline_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("handoff_offered", False)]


class ActionCancelHandoff(Action):
    """取消 / 算了 / 不用了 during the form: nothing is created."""

    def name(self) -> str:
        return "action_cancel_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text=templates.handoff_cancelled(), json_message={"type": "handoff_cancelled"}
        )
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *reset_events(),
            SlotSet("handoff_offered", False),
        ]


class ActionSubmitHandoff(Action):
    """Post the ticket, or keep it in the outbox when the service is unreachable."""

    def __init__(
        self,
        client: HandoffClient | None = None,
        outbox: Outbox | None = None,
        knowledge: KnowledgeClient | None = None,
    ) -> None:
        self._client, self._outbox, self._knowledge = client, outbox, knowledge
        if client is None and outbox is None:  # the action server registering its actions at start-up
            start_delivery_once(get_outbox(), get_handoff_client())

    @property
    def client(self) -> HandoffClient:
        return self._client or get_handoff_client()

    @property
    def outbox(self) -> Outbox:
        return self._outbox or get_outbox()

    @property
    def knowledge(self) -> KnowledgeClient:
        return self._knowledge or get_knowledge_client()

    def name(self) -> str:
        return "action_submit_handoff"

    def request(self, tracker: Tracker) -> dict[str, Any]:
        credit_code = tracker.get_slot("credit_code")
        return {
            "idempotency_key": idempotency_key(tracker.sender_id, tracker.get_slot("handoff_started_at")),
            "conversation_id": tracker.sender_id,
            "channel": tracker.get_latest_input_channel() or "rest",
            "company_name": tracker.get_slot("company_name"),
            "credit_code": None if credit_code in (None, NO_CREDIT_CODE) else credit_code,
            "contact_name": tracker.get_slot("contact_name"),
            "mobile": tracker.get_slot("mobile"),
            "question": tracker.get_slot("description"),
            "procedure_id": tracker.get_slot("procedure_id"),
            "department": tracker.get_slot("handoff_department") or CHUISHAO_OFFICE,
            "transcript": transcript(tracker),
        }

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request = self.request(tracker)
        code = request["department"]
        done = [*reset_events(), SlotSet("handoff_offered", False)]
        try:
            ticket = await self.client.create_ticket(request)
        except HandoffUnavailable as error:
            logger.warning(
                "Handoff service unreachable (%s); ticket %s kept in the outbox",
                error,
                request["idempotency_key"],
            )
            await asyncio.to_thread(self.outbox.put, request)
            department = await asyncio.to_thread(_department, self.knowledge, code)
            dispatcher.utter_message(
                text=templates.handoff_queued(department),
                json_message={"type": "handoff_queued", "department": code},
            )
            return done
        except HandoffRejected as error:
            logger.error("The handoff service refused ticket %s: %s", request["idempotency_key"], error)
            department = await asyncio.to_thread(_department, self.knowledge, code)
            dispatcher.utter_message(
                text=templates.handoff_failed(department),
                json_message={"type": "handoff_failed", "department": code},
            )
            return done

        department_code = ticket.get("department") or code
        department_name = ticket.get("department_name")
        if not department_name or department_name == department_code:
            department = await asyncio.to_thread(_department, self.knowledge, department_code)
            department_name = department.name if department is not None else department_code
        due = templates.chinese_date(ticket.get("due")) if ticket.get("due") else "规定期限"
        dispatcher.utter_message(
            text=templates.handoff_ticket(str(ticket["id"]), department_name, due),
            json_message={
                "type": "handoff_ticket",
                "ticket": {
                    "id": ticket["id"],
                    "department": ticket.get("department") or code,
                    "department_name": department_name,
                    "due": ticket.get("due"),
                },
            },
        )
        return done
