"""action_request_human: until tickets exist, say honestly who is responsible and how to reach them."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import templates
from actions.clients.knowledge import KnowledgeClient, get_knowledge_client

if TYPE_CHECKING:
    from knowledge import Department, Procedure

logger = logging.getLogger(__name__)

# The city's 企业吹哨办 takes what belongs to no known procedure.
CHUISHAO_OFFICE = "hz-chuishao"


class ActionRequestHuman(Action):
    """request_human, complain, and affirm after a handoff offer."""

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
        try:
            procedure_id = tracker.get_slot("procedure_id")
            procedure, department = await asyncio.to_thread(self._responsible, procedure_id)
        except Exception:
            # Without the knowledge base we still owe the user a way forward: the hotline.
            logger.exception("action_request_human could not look up the responsible department")
            procedure, department = None, None
        code = department.code if department is not None else None
        dispatcher.utter_message(
            text=templates.handoff_unavailable(department, procedure),
            json_message={"type": "handoff_unavailable", "department": code},
        )
        return [SlotSet("handoff_offered", False)]

    def _responsible(self, procedure_id: str | None) -> tuple[Procedure | None, Department | None]:
        procedure = self.client.procedure(procedure_id)
        if procedure is not None:
            department = self.client.department_of(procedure)
            if department is not None:
                return procedure, department
        return None, self.client.department(CHUISHAO_OFFICE)
