"""Chuishao's custom actions, loaded by `rasa run actions --actions actions`.

Importing the action modules registers their Action subclasses with the SDK; nothing is loaded
here. The SDK instantiates every action when it registers them: that starts the knowledge base
warm-up (ActionAnswerProcedure) and the outbox delivery loop (ActionSubmitHandoff), once each.
"""

from actions.answer import ActionAnswerProcedure
from actions.feedback import (
    ActionAskFeedbackRating,
    ActionAskFeedbackSolved,
    ActionSubmitFeedback,
    ValidateFeedbackForm,
)
from actions.handoff import ActionCancelHandoff, ActionDeclineHandoff, ActionRequestHuman, ActionSubmitHandoff
from actions.handoff_form import (
    ActionAskDepartmentConfirmed,
    ActionAskDescriptionConfirmed,
    ValidateHandoffForm,
)
from actions.tickets import ActionCheckTicket

__all__ = [
    "ActionAnswerProcedure",
    "ActionAskDepartmentConfirmed",
    "ActionAskDescriptionConfirmed",
    "ActionAskFeedbackRating",
    "ActionAskFeedbackSolved",
    "ActionCancelHandoff",
    "ActionCheckTicket",
    "ActionDeclineHandoff",
    "ActionRequestHuman",
    "ActionSubmitFeedback",
    "ActionSubmitHandoff",
    "ValidateFeedbackForm",
    "ValidateHandoffForm",
]
