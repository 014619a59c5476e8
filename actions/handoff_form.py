"""The handoff form's validation and its two prompts that depend on the conversation.

`validate_handoff_form` reads each answer: the value for the slot the form asked for, plus any other
detail the message states outright (company, credit code, contact, mobile). An invalid value is
explained and the slot set to None, so the form asks again. A cancel (取消 / 算了 / 不用了) returns
no events: the form rejects, and the cancel rule runs `action_cancel_handoff`.
Prompts for company, credit code, contact, mobile and description are domain responses
(`utter_ask_<slot>`); the description and department confirmations are built here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.knowledge import KnowledgeClient, get_knowledge_client
from actions.handoff import CHUISHAO_OFFICE, NO_CREDIT_CODE, router_for
from actions.validation import (
    check_company_name,
    check_contact_name,
    check_credit_code,
    check_mobile,
    extract_details,
    is_cancel,
    is_skip,
)

logger = logging.getLogger(__name__)

FORM = "handoff_form"
_YES = re.compile(
    r"^(?:是|是的|对|对的|确认|确定|没错|可以|好|好的|行|嗯|提交|就这样|没问题|ok|yes)[。.!！吧啊]*$", re.I
)
_NO = re.compile(r"^(?:不是|不对|不|否|修改|改一下|重新填|换一个|换个部门|不确定)[。.!！]*$")
MIN_DESCRIPTION_CHARS = 4
MAX_DESCRIPTION_CHARS = 500


def _intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _text(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("text") or "").strip()


def _is_yes(tracker: Tracker) -> bool:
    return _intent(tracker) == "affirm" or bool(_YES.match(_text(tracker)))


def _is_no(tracker: Tracker) -> bool:
    return _intent(tracker) == "deny" or bool(_NO.match(_text(tracker)))


def form_prompt(slot: str) -> dict[str, str]:
    return {"type": "handoff_form", "slot": slot}


class ValidateHandoffForm(Action):
    def __init__(self, client: KnowledgeClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> KnowledgeClient:
        return self._client or get_knowledge_client()

    def name(self) -> str:
        return "validate_handoff_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        text = _text(tracker)
        if requested is None or not text:
            return []  # activation: action_request_human filled what the first message said
        if _intent(tracker) == "cancel" or is_cancel(text):
            return []  # the form rejects; the cancel rule takes over

        values: dict[str, Any] = {}
        reason: str | None = None
        found = {
            slot: value
            for slot, value in extract_details(text).items()
            if not tracker.get_slot(slot) or slot == requested
        }
        # Only the requested slot may take the whole message; other slots only what was stated outright.
        others = {slot: value for slot, value in found.items() if slot != requested}
        values.update(others)

        if requested in found:
            values[requested] = found[requested]
        elif requested == "credit_code":
            if is_skip(text) or _intent(tracker) == "deny":
                values["credit_code"] = NO_CREDIT_CODE
            elif not others:
                check = check_credit_code(text)
                values["credit_code"], reason = check.value, check.reason
        elif requested in ("company_name", "contact_name", "mobile"):
            if not others:
                checker = {
                    "company_name": check_company_name,
                    "contact_name": check_contact_name,
                    "mobile": check_mobile,
                }[requested]
                check = checker(text)
                values[requested], reason = check.value, check.reason
        elif requested == "description":
            values.update(self._description(text))
            if values.get("description") is None:
                reason = templates.handoff_description_too_short()
        elif requested == "description_confirmed":
            values.update(self._confirm_description(tracker, text))
            if values == {"description_confirmed": None}:
                reason = templates.handoff_confirm_unclear()
        elif requested == "department_confirmed":
            department_values, reason = await self._confirm_department(tracker, text)
            values.update(department_values)

        if values.get("description") and values["description"] != tracker.get_slot("description"):
            values.update(await self._reroute(tracker, values["description"]))
        if reason:
            dispatcher.utter_message(text=reason, json_message={"type": "handoff_invalid", "slot": requested})
        logger.debug("handoff_form %s <- %r: %s", requested, text, values)
        return [SlotSet(slot, value) for slot, value in values.items()]

    @staticmethod
    def _description(text: str) -> dict[str, Any]:
        if len(text) < MIN_DESCRIPTION_CHARS or text.startswith("/"):
            return {"description": None}
        return {"description": text[:MAX_DESCRIPTION_CHARS], "description_confirmed": True}

    def _confirm_description(self, tracker: Tracker, text: str) -> dict[str, Any]:
        if _is_yes(tracker):
            return {"description_confirmed": True}
        if _is_no(tracker):
            return {"description": None, "description_confirmed": None}  # the form asks for a new one
        if len(text) >= MIN_DESCRIPTION_CHARS * 2 and not text.startswith("/"):
            return self._description(text)  # a new description instead of yes/no
        return {"description_confirmed": None}

    async def _reroute(self, tracker: Tracker, description: str) -> dict[str, Any]:
        """A new description may belong to another department: route again (unless the user chose one)."""
        if tracker.get_slot("department_confirmed"):
            return {}
        procedure_id = tracker.get_slot("procedure_id")
        try:
            routing = await asyncio.to_thread(
                lambda: router_for(self.client).route(description, procedure_id)
            )
        except Exception:
            logger.warning("Could not route the new description %r", description, exc_info=True)
            return {}
        return {"handoff_department": routing.department, "handoff_candidates": list(routing.candidates)}

    async def _confirm_department(self, tracker: Tracker, text: str) -> tuple[dict[str, Any], str | None]:
        chosen = self._chosen_department(tracker)
        if chosen is None and not _is_yes(tracker):
            try:
                named = await asyncio.to_thread(lambda: router_for(self.client).named(text))
            except Exception:
                logger.warning("Could not read a department name from %r", text, exc_info=True)
                named = []
            chosen = named[0] if len(named) == 1 else (CHUISHAO_OFFICE if len(named) > 1 else None)
        if chosen is not None:
            return {"handoff_department": chosen, "department_confirmed": True}, None
        if _is_yes(tracker):
            return {"department_confirmed": True}, None
        return {"department_confirmed": None}, templates.handoff_department_unknown()

    def _chosen_department(self, tracker: Tracker) -> str | None:
        """A department button sends /inform{"department": "<code>"}."""
        for entity in (tracker.latest_message or {}).get("entities") or []:
            if entity.get("entity") == "department":
                value = str(entity.get("value") or "")
                try:
                    if self.client.department(value) is not None:
                        return value
                except Exception:
                    logger.warning("Could not check department %r", value, exc_info=True)
        return None


class ActionAskDescriptionConfirmed(Action):
    def name(self) -> str:
        return "action_ask_description_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text=templates.handoff_description_question(tracker.get_slot("description") or ""),
            buttons=[
                {"title": "是，就这样提交", "payload": "/affirm"},
                {"title": "修改描述", "payload": "/deny"},
            ],
            json_message=form_prompt("description_confirmed"),
        )
        return []


class ActionAskDepartmentConfirmed(Action):
    def __init__(self, client: KnowledgeClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> KnowledgeClient:
        return self._client or get_knowledge_client()

    def name(self) -> str:
        return "action_ask_department_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        code = tracker.get_slot("handoff_department") or CHUISHAO_OFFICE
        candidates = [c for c in (tracker.get_slot("handoff_candidates") or []) if c != code]
        try:
            department = self.client.department(code)
            others = [d for d in (self.client.department(c) for c in candidates) if d is not None]
        except Exception:
            logger.warning("Knowledge base unavailable while asking for the department", exc_info=True)
            department, others = None, []
        buttons = [{"title": "确认", "payload": "/affirm"}]
        buttons += [
            {"title": d.short_name or d.name, "payload": f'/inform{{"department": "{d.code}"}}'}
            for d in others
        ]
        dispatcher.utter_message(
            text=templates.handoff_department_question(department, unclear=code == CHUISHAO_OFFICE),
            buttons=buttons,
            json_message={
                **form_prompt("department_confirmed"),
                "department": code,
                "candidates": [d.code for d in others],
            },
        )
        return []
