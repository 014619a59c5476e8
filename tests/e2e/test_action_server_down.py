"""A second system whose Rasa reaches no action server: users still get a polite answer in time."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_unreachable_action_server_gets_a_polite_answer_within_5_seconds(system_without_actions):
    reply = system_without_actions.send("e2e-no-actions", "二类医疗器械备案证变更法人")

    assert reply.status == 200
    assert reply.seconds < 5
    assert reply.payloads("service_unavailable") == [{"type": "service_unavailable"}]
    assert any("12345" in text for text in reply.texts)
