"""The REST reply parser and client: every payload kind of docs/architecture.md, and failures."""

import json

import httpx
import pytest

from eval.rest import RestClient, parse_rest_response, require_loopback

SENDER = "eval-test"
ANSWER = {
    "type": "procedure_answer",
    "procedure": {"id": "md2-operating-record-change", "name": "第二类医疗器械经营备案变更",
                  "department": "hz-xzsp"},
    "aspect": "materials",
    "verified": False,
}
CLARIFY = {
    "type": "clarify",
    "candidates": [
        {"id": "md2-operating-record-change", "name": "第二类医疗器械经营备案变更"},
        {"id": "md2-registration-change", "name": "第二类医疗器械注册变更"},
    ],
}
HANDOFF = {"type": "handoff_offer", "department": None}


def text(t):
    return {"recipient_id": SENDER, "text": t}


def custom(payload):
    return {"recipient_id": SENDER, "custom": payload}


def test_procedure_answer():
    pred = parse_rest_response([text("需要以下材料：…"), custom(ANSWER)])
    assert pred.kind == "answer"
    assert pred.procedure == "md2-operating-record-change"
    assert pred.aspect == "materials"
    assert pred.candidates == ()


def test_clarify_keeps_candidate_order():
    buttons = {"recipient_id": SENDER, "text": "您指的是哪一个？",
               "buttons": [{"title": "经营备案", "payload": '/ask_procedure{"procedure_id": "x"}'}]}
    pred = parse_rest_response([buttons, custom(CLARIFY)])
    assert pred.kind == "clarify"
    assert pred.procedure is None
    assert pred.candidates == ("md2-operating-record-change", "md2-registration-change")


def test_handoff_offer():
    pred = parse_rest_response([text("没有找到对应事项，需要转人工吗？"), custom(HANDOFF)])
    assert pred.kind == "handoff"
    assert pred.procedure is None


@pytest.mark.parametrize("reply", [[], [text("您好！")], [custom({"type": "ticket", "id": "T1"})]])
def test_no_payload_is_none(reply):
    assert parse_rest_response(reply).kind == "none"


def test_answer_wins_over_other_payloads():
    pred = parse_rest_response([custom(HANDOFF), custom(CLARIFY), custom(ANSWER)])
    assert pred.kind == "answer"
    assert parse_rest_response([custom(HANDOFF), custom(CLARIFY)]).kind == "clarify"


def test_payload_given_as_a_json_string():
    assert parse_rest_response([custom(json.dumps(ANSWER, ensure_ascii=False))]).kind == "answer"


@pytest.mark.parametrize("reply", [
    {"text": "not a list"},
    None,
    [custom({"type": "procedure_answer", "procedure": {"name": "无 id"}})],
    [custom({"type": "procedure_answer", "procedure": "md2"})],
    [custom({"type": "clarify", "candidates": "md2"})],
])
def test_malformed_replies_are_errors(reply):
    assert parse_rest_response(reply).kind == "error"


def test_odd_messages_are_ignored():
    pred = parse_rest_response(["junk", 3, {"custom": [1, 2]}, {"custom": {"type": ["x"]}}, custom(ANSWER)])
    assert pred.kind == "answer"


def client_answering(handler):
    return RestClient("http://127.0.0.1:5005", client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_client_posts_sender_and_message():
    seen = {}

    def handler(request):
        seen["url"] = str(request.url)
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json=[text("好的"), custom(ANSWER)])

    with client_answering(handler) as client:
        pred = client.send("eval-1", "二类备案换法人")
    assert seen == {"url": "http://127.0.0.1:5005/webhooks/rest/webhook",
                    "body": {"sender": "eval-1", "message": "二类备案换法人"}}
    assert pred.procedure == "md2-operating-record-change"


@pytest.mark.parametrize("handler", [
    lambda request: httpx.Response(500, text="boom"),
    lambda request: httpx.Response(200, text="<html>"),
    lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")),
])
def test_client_failures_are_errors(handler):
    with client_answering(handler) as client:
        assert client.send("eval-1", "你好").kind == "error"


def test_is_up():
    with client_answering(lambda request: httpx.Response(200, text="Hello from Rasa")) as client:
        assert client.is_up()
    with client_answering(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused"))) as client:
        assert not client.is_up()


@pytest.mark.parametrize("url", ["http://example.com:5005", "http://10.0.0.5:5005", "http://0.0.0.0:5005"])
def test_only_loopback(url):
    with pytest.raises(ValueError):
        require_loopback(url)
    require_loopback("http://localhost:5005")
    require_loopback("http://127.0.0.1:5005/")
