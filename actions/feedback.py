"""Feedback after resolution: was the problem solved, and a 1-5 rating.

The handoff service triggers the intent EXTERNAL_ticket_resolved (entity ticket_id) when staff
resolve a ticket; the slot `feedback_ticket` takes the id, and `feedback_form` asks both questions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.handoff import HandoffClient, HandoffError, get_handoff_client

logger = logging.getLogger(__name__)

_SOLVED = re.compile(r"^(?:已?解决了?|解决啦|好了|办好了|办成了|是的?|对|满意)[。.!！啊了]*$")
_NOT_SOLVED = re.compile(r"(?:没|未|没有|还没)(?:有)?解决|没办成|没办好|^(?:没有|不是|否|没)[。.!！]*$")
_RATING = re.compile(r"(?<!\d)([1-5])(?:\s*(?:分|星))?(?!\d)")
_RATING_WORDS = {
    "非常满意": 5,
    "很满意": 5,
    "满意": 4,
    "一般": 3,
    "不满意": 2,
    "很不满意": 1,
    "非常不满意": 1,
}


def _message(tracker: Tracker) -> dict[str, Any]:
    return tracker.latest_message or {}


def read_solved(message: dict[str, Any]) -> bool | None:
    intent = (message.get("intent") or {}).get("name")
    text = (message.get("text") or "").strip()
    if _NOT_SOLVED.search(text):
        return False
    if _SOLVED.match(text):
        return True
    if intent == "affirm":
        return True
    if intent in ("deny", "request_human", "complain"):
        return False
    return None


def read_rating(message: dict[str, Any]) -> int | None:
    for entity in message.get("entities") or []:
        if entity.get("entity") == "rating" and str(entity.get("value")).strip() in {"1", "2", "3", "4", "5"}:
            return int(str(entity["value"]).strip())
    text = (message.get("text") or "").strip()
    words = sorted(_RATING_WORDS, key=len, reverse=True)
    for word in words:
        if word in text:
            return _RATING_WORDS[word]
    match = _RATING.search(text)
    return int(match.group(1)) if match else None


class ValidateFeedbackForm(Action):
    def name(self) -> str:
        return "validate_feedback_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        message = _message(tracker)
        if requested == "feedback_solved":
            solved = read_solved(message)
            if solved is None:
                dispatcher.utter_message(text=templates.feedback_solved_unclear())
            return [SlotSet("feedback_solved", solved)]
        if requested == "feedback_rating":
            rating = read_rating(message)
            if rating is None:
                dispatcher.utter_message(text=templates.feedback_rating_invalid())
            return [SlotSet("feedback_rating", rating)]
        return []


class ActionAskFeedbackSolved(Action):
    def name(self) -> str:
        return "action_ask_feedback_solved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ticket = tracker.get_slot("feedback_ticket")
        dispatcher.utter_message(
            text=templates.feedback_solved_question(ticket or ""),
            buttons=[dict(b) for b in templates.FEEDBACK_SOLVED_BUTTONS],
            json_message={"type": "feedback_request", "ticket": ticket, "ask": "solved"},
        )
        return []


class ActionAskFeedbackRating(Action):
    def name(self) -> str:
        return "action_ask_feedback_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ticket = tracker.get_slot("feedback_ticket")
        dispatcher.utter_message(
            text=templates.feedback_rating_question(),
            # 1 to 5 in order: WeChat numbers the options, and a user who answers "5" means 5 points.
            buttons=[{"title": f"{n}分", "payload": f'/inform{{"rating": "{n}"}}'} for n in range(1, 6)],
            json_message={"type": "feedback_request", "ticket": ticket, "ask": "rating"},
        )
        return []


class ActionSubmitFeedback(Action):
    def __init__(self, client: HandoffClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> HandoffClient:
        return self._client or get_handoff_client()

    def name(self) -> str:
        return "action_submit_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ticket = tracker.get_slot("feedback_ticket")
        solved = bool(tracker.get_slot("feedback_solved"))
        rating = int(float(tracker.get_slot("feedback_rating") or 0))
        reset = [
            SlotSet("feedback_ticket", None),
            SlotSet("feedback_solved", None),
            SlotSet("feedback_rating", None),
        ]
        try:
            if not ticket or not 1 <= rating <= 5:
                raise HandoffError(f"incomplete feedback: ticket={ticket!r} rating={rating!r}")
            await self.client.send_feedback(ticket, tracker.sender_id, solved, rating)
        except HandoffError as error:
            logger.warning("Feedback for %s not saved: %s", ticket, error)
            dispatcher.utter_message(
                text=templates.feedback_not_saved(),
                json_message={"type": "feedback_saved", "ticket": ticket, "saved": False},
            )
            return reset
        dispatcher.utter_message(
            text=templates.feedback_thanks(solved, ticket),
            json_message={
                "type": "feedback_saved",
                "ticket": ticket,
                "saved": True,
                "solved": solved,
                "rating": rating,
            },
        )
        return reset
