"""Feedback after resolution: solved?, a 1-5 rating, saved through the handoff service."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.feedback import (
    ActionAskFeedbackRating,
    ActionAskFeedbackSolved,
    ActionSubmitFeedback,
    ValidateFeedbackForm,
)
from tests.actions.fake_handoff import FakeHandoffService, ticket_request


@pytest.mark.parametrize(
    ("text", "intent", "solved"),
    [
        ("已解决", "affirm", True),
        ("/affirm", "affirm", True),
        ("未解决", "deny", False),
        ("还是没解决", "request_human", False),
        ("解决了", "inform", True),
    ],
)
async def test_solved(dispatcher, domain, make_tracker, text, intent, solved):
    tracker = make_tracker(text, intent, requested_slot="feedback_solved")
    assert await ValidateFeedbackForm().run(dispatcher, tracker, domain) == [
        SlotSet("feedback_solved", solved)
    ]


@pytest.mark.parametrize(
    ("text", "entities", "rating"),
    [
        ('/inform{"rating": "4"}', {"rating": "4"}, 4),
        ("5分", None, 5),
        ("非常满意", None, 5),
        ("给3分吧", None, 3),
    ],
)
async def test_rating(dispatcher, domain, make_tracker, text, entities, rating):
    tracker = make_tracker(text, "inform", entities, requested_slot="feedback_rating")
    assert await ValidateFeedbackForm().run(dispatcher, tracker, domain) == [
        SlotSet("feedback_rating", rating)
    ]


async def test_a_rating_out_of_range_is_asked_again(dispatcher, domain, make_tracker):
    tracker = make_tracker("10分", "inform", requested_slot="feedback_rating")
    assert await ValidateFeedbackForm().run(dispatcher, tracker, domain) == [SlotSet("feedback_rating", None)]
    assert "1到5" in dispatcher.messages[0]["text"]


async def test_prompts_carry_the_ticket(dispatcher, domain, make_tracker):
    tracker = make_tracker("", "EXTERNAL_ticket_resolved", feedback_ticket="HZ-20261126-0001")
    await ActionAskFeedbackSolved().run(dispatcher, tracker, domain)
    await ActionAskFeedbackRating().run(dispatcher, tracker, domain)
    solved, rating = dispatcher.messages
    assert solved["custom"] == {"type": "feedback_request", "ticket": "HZ-20261126-0001", "ask": "solved"}
    assert [b["title"] for b in solved["buttons"]] == ["已解决", "未解决"]
    assert rating["custom"] == {"type": "feedback_request", "ticket": "HZ-20261126-0001", "ask": "rating"}
    # The n-th option is n points: WeChat shows the buttons as numbered options answered with a digit.
    assert [b["title"] for b in rating["buttons"]] == ["1分", "2分", "3分", "4分", "5分"]
    assert [b["payload"] for b in rating["buttons"]][4] == '/inform{"rating": "5"}'


async def test_submit_saves_both(dispatcher, domain, make_tracker):
    service = FakeHandoffService()
    ticket = await service.client().create_ticket(ticket_request("k1", "test-user"))
    tracker = make_tracker(
        "5", "inform", feedback_ticket=ticket["id"], feedback_solved=False, feedback_rating=2
    )
    events = await ActionSubmitFeedback(service.client()).run(dispatcher, tracker, domain)
    assert service.feedback == [
        (ticket["id"], {"conversation_id": "test-user", "solved": False, "rating": 2})
    ]
    assert SlotSet("feedback_ticket", None) in events
    assert "督办" in dispatcher.messages[0]["text"]


async def test_feedback_on_a_foreign_ticket_is_not_saved(dispatcher, domain, make_tracker):
    service = FakeHandoffService()
    ticket = await service.client().create_ticket(ticket_request("k1", "someone-else"))
    tracker = make_tracker(
        "5", "inform", feedback_ticket=ticket["id"], feedback_solved=True, feedback_rating=5
    )
    await ActionSubmitFeedback(service.client()).run(dispatcher, tracker, domain)
    assert service.feedback == []
    assert dispatcher.messages[0]["custom"]["saved"] is False
