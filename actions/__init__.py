"""Chuishao's custom actions, loaded by `rasa run actions --actions actions`.

Importing the action modules registers their Action subclasses with the SDK; nothing is loaded
here (the knowledge base loads on the first question).
"""

from actions.answer import ActionAnswerProcedure
from actions.handoff import ActionRequestHuman

__all__ = ["ActionAnswerProcedure", "ActionRequestHuman"]
