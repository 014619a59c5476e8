"""action_answer_procedure: decide which procedure and which aspect the user means, then answer.

Which procedure, in order:
(a) a `procedure_id` entity (a clarification button) names it;
(d) a "那…呢" contrast with a procedure in context ("那三类的呢", "社保登记呢") switches topic: the new
    words are searched (with the context's certificate when they only modify it), leaving the current
    procedure out, and an aspectless intent keeps the last aspect;
(c) a message that only asks about an aspect ("要带什么材料？") stays with the procedure in context,
    or, with none, is asked which procedure it means;
(b) otherwise the retriever searches the message; a follow-up that brings no topic of its own still
    stays with the context when the retriever finds no confident match.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.knowledge import KnowledgeClient, get_knowledge_client, warm_up_in_background
from actions.followup import (
    CLASS_MARKER,
    TOPIC_ENTITIES,
    action_word,
    aspect_in_words,
    contrast_topic,
    earlier_change_item,
    entity_value,
    fits_context,
    is_modifier,
    name_core,
    names_nothing,
    names_other_topic,
    topic_words,
)

if TYPE_CHECKING:
    from knowledge import Procedure, SearchResult

logger = logging.getLogger(__name__)

ASPECT_BY_INTENT = {
    "ask_procedure": "overview",
    "nlu_fallback": "overview",
    "ask_materials": "materials",
    "ask_steps": "steps",
    "ask_time_limit": "time_limit",
    "ask_fee": "fee",
    "ask_location": "location",
    "ask_online": "online",
    "ask_legal_basis": "legal_basis",
    "ask_department": "department",
}
# Intents that name no aspect: a topic switch or a button pick keeps the aspect asked before.
ASPECTLESS_INTENTS = frozenset({"ask_procedure", "nlu_fallback"})

MAX_CLARIFY_OPTIONS = 5
# Below this calibrated score a retriever "answer" does not override the procedure in context.
FOLLOW_UP_MAX_SCORE = 0.5

@dataclass
class Reply:
    text: str
    payload: dict[str, Any]
    events: list[EventType]
    buttons: list[dict[str, str]] = field(default_factory=list)


class ActionAnswerProcedure(Action):
    """Answers every ask_* intent and nlu_fallback from the knowledge base."""

    def __init__(self, client: KnowledgeClient | None = None) -> None:
        self._client = client
        if client is None:  # the action server registering its actions at start-up
            warm_up_in_background(get_knowledge_client())

    @property
    def client(self) -> KnowledgeClient:
        return self._client or get_knowledge_client()

    def name(self) -> str:
        return "action_answer_procedure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            # Loading the base on the first question and searching are blocking work.
            reply = await asyncio.to_thread(self.respond, tracker)
        except Exception:
            logger.exception("action_answer_procedure failed for %r", tracker.latest_message.get("text"))
            dispatcher.utter_message(text=templates.knowledge_unavailable())
            return []
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None, json_message=reply.payload)
        return reply.events

    # --- deciding --------------------------------------------------------------------------------

    def respond(self, tracker: Tracker) -> Reply:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        text = message.get("text") or ""
        entities = list(message.get("entities") or [])
        aspect = ASPECT_BY_INTENT.get(intent, "overview")
        last_aspect = tracker.get_slot("aspect")
        self.client.load()
        context = self.client.procedure(tracker.get_slot("procedure_id"))
        slots = _Slots(context.id if context else None, last_aspect)

        picked = self.client.procedure(entity_value(entities, "procedure_id"))
        if picked is not None:
            # A button after a clarification answers what was asked before the clarification.
            offered = tracker.get_slot("candidates") or []
            if intent in ASPECTLESS_INTENTS and picked.id in offered and last_aspect:
                aspect = last_aspect
            return self._answer(picked, aspect)

        if intent in ASPECTLESS_INTENTS and names_nothing(text):
            aspect = aspect_in_words(text) or aspect  # "那材料呢" classified as ask_procedure

        topic = contrast_topic(text) if context is not None else None
        if context is not None and topic is not None:
            if not topic_words(topic):
                return self._answer(context, aspect)  # "那材料呢": another aspect, same procedure
            result = self._search_switch(context, topic, entities, earlier_change_item(tracker, context))
            if result.decision == "answer" and result.best.procedure.id == context.id:
                return self._answer(context, aspect)  # a full question about the same procedure
            if intent in ASPECTLESS_INTENTS and last_aspect:
                aspect = last_aspect
            return self._from_result(result, aspect, slots)

        if names_nothing(text) and not any(e.get("entity") in TOPIC_ENTITIES for e in entities):
            # Only an aspect ("要带什么材料？"): the retriever would match it to whichever alias shares
            # the words, so keep the procedure in context, or ask which procedure is meant.
            if context is not None and fits_context(context, entities):
                return self._answer(context, aspect)
            if context is None:
                return self._clarify([], aspect, slots)

        result = self._search(text, entities)
        if context is not None and self._is_follow_up(result, context, text, entities):
            return self._answer(context, aspect)
        return self._from_result(result, aspect, slots)

    def _search(self, text: str, entities: list[dict[str, Any]], **kwargs: Any) -> SearchResult:
        kwargs.setdefault("action", entity_value(entities, "action"))
        kwargs.setdefault("change_item", entity_value(entities, "change_item"))
        return self.client.search(
            text, entities=[e for e in entities if e.get("entity") in TOPIC_ENTITIES], **kwargs
        )

    def _search_switch(
        self, context: Procedure, topic: str, entities: list[dict[str, Any]], change_item: str | None
    ) -> SearchResult:
        """Topic switch away from `context` ("那…呢").

        New words that only modify the context ("三类", "延续", "换地址") are searched together with
        the context's certificate, keeping its action unless they name another, and with the change
        item named earlier ("变更法人" … "那三类的呢": the 法定代表人 change of the 第三类 licence).
        Words that name a procedure of their own ("社保登记") are searched alone, or with the change
        asked before when their certificate has that change ("变更法人" … "那二类备案呢"); a confident
        answer to them may be `context` itself: then the "…呢" was a full question about it.
        """
        if not is_modifier(topic, context):
            if change_item and not (entity_value(entities, "action") or action_word(topic)):
                # The same change asked of another certificate ("变更法人" … "那二类备案呢"), when
                # that certificate has such a change.
                carried = self._search(topic, entities, action=context.action, change_item=change_item)
                best = carried.best
                if carried.decision == "answer" and best and best.signals.get("change_item", 0) > 0:
                    return carried
            alone = self._search(topic, entities)
            if alone.decision == "answer":
                return alone
            return self._search(topic, entities, exclude=(context.id,))
        base = context.licence or context.name
        if CLASS_MARKER.search(topic):
            base = CLASS_MARKER.sub("", base)
        action = entity_value(entities, "action") or action_word(topic) or context.action
        change_item = entity_value(entities, "change_item") or change_item
        combined = self._search(
            f"{base}{topic}", entities, action=action, change_item=change_item, exclude=(context.id,)
        )
        if combined.decision == "clarify":
            # The certificate is shared ("营业执照": companies and 个体户); what the context is about
            # may pick one of the options ("办个体户执照" … "那注销呢": the 个体户's).
            narrowed = self._search(
                f"{name_core(context)}{topic}", entities, action=action, change_item=change_item,
                exclude=(context.id,),
            )
            offered = {c.id for c in combined.candidates}
            if narrowed.decision == "answer" and narrowed.best is not None and narrowed.best.id in offered:
                return narrowed
        if combined.decision != "no_match":
            return combined
        return self._search(topic, entities, exclude=(context.id,))

    @staticmethod
    def _is_follow_up(
        result: SearchResult, context: Procedure, text: str, entities: list[dict[str, Any]]
    ) -> bool:
        """Rule (c): the retriever found nothing better, and the message brings no topic of its own."""
        if result.decision == "clarify" and any(c.procedure.id == context.id for c in result.candidates):
            return True  # the procedure in context resolves the ambiguity
        if not fits_context(context, entities) or names_other_topic(text, context):
            return False
        if result.decision != "answer" or result.best is None:
            return True
        return result.best.procedure.id == context.id or result.best.score < FOLLOW_UP_MAX_SCORE

    def _from_result(self, result: SearchResult, aspect: str, slots: _Slots) -> Reply:
        if result.decision == "answer" and result.best is not None:
            return self._answer(result.best.procedure, aspect)
        if result.decision == "clarify" and result.candidates:
            options = [c.procedure for c in result.candidates[:MAX_CLARIFY_OPTIONS]]
            return self._clarify(options, aspect, slots)
        return self._no_match(slots)

    # --- replies ---------------------------------------------------------------------------------

    def _answer(self, procedure: Procedure, aspect: str) -> Reply:
        department = self.client.department_of(procedure)
        return Reply(
            text=templates.answer(aspect, procedure, department),
            buttons=[dict(b) for b in templates.OVERVIEW_BUTTONS] if aspect == "overview" else [],
            payload={
                "type": "procedure_answer",
                "procedure": {"id": procedure.id, "name": procedure.name, "department": procedure.department},
                "aspect": aspect,
                "verified": bool(procedure.verified),
            },
            events=[
                SlotSet("procedure_id", procedure.id),
                SlotSet("aspect", aspect),
                SlotSet("candidates", None),
                SlotSet("handoff_offered", False),
            ],
        )

    def _clarify(self, procedures: list[Procedure], aspect: str, slots: _Slots) -> Reply:
        """Ask which procedure is meant; with no procedures, ask the user to name one."""
        departments = [self.client.department_of(p) for p in procedures]
        return Reply(
            text=templates.clarify(procedures, departments) if procedures else templates.ask_which(),
            buttons=[templates.clarify_button(p) for p in procedures],
            payload={"type": "clarify", "candidates": [{"id": p.id, "name": p.name} for p in procedures]},
            # `aspect` keeps what was asked, so the button pick answers it.
            events=[
                SlotSet("procedure_id", slots.procedure_id),
                SlotSet("aspect", aspect),
                SlotSet("candidates", [p.id for p in procedures]),
                SlotSet("handoff_offered", False),
            ],
        )

    @staticmethod
    def _no_match(slots: _Slots) -> Reply:
        return Reply(
            text=templates.no_match(),
            buttons=[dict(b) for b in templates.HANDOFF_BUTTONS],
            payload={"type": "handoff_offer", "department": None},
            # The message named something other than the context: the topic is now unknown.
            events=[
                SlotSet("procedure_id", None),
                SlotSet("aspect", slots.aspect),
                SlotSet("candidates", None),
                SlotSet("handoff_offered", True),
            ],
        )


@dataclass(frozen=True)
class _Slots:
    """Slot values the reply keeps when it does not answer a procedure."""

    procedure_id: str | None
    aspect: str | None
