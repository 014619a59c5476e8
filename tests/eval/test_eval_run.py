"""run_eval end to end against a fake REST channel that answers every question as labelled."""

import json

import httpx
import pytest

from eval import run_eval
from eval.data import load_dialogues, load_questions
from eval.rest import RestClient


def payload_for(gold):
    if gold.ambiguous:
        return {"type": "clarify", "candidates": [{"id": i, "name": i} for i in gold.acceptable]}
    if gold.expected is None:
        return {"type": "handoff_offer", "department": None}
    return {"type": "procedure_answer", "procedure": {"id": gold.expected, "name": "", "department": None},
            "aspect": gold.aspect or "overview", "verified": False}


@pytest.fixture
def perfect_system(monkeypatch):
    golds = load_questions() + [t for d in load_dialogues() for t in d.turns]
    answers = {g.text: payload_for(g) for g in golds}

    def handler(request):
        if request.method == "GET":
            return httpx.Response(200, text="Hello from Rasa: 3.6.21")
        text = json.loads(request.content)["message"]
        return httpx.Response(200, json=[{"recipient_id": "x", "text": "…"},
                                         {"recipient_id": "x", "custom": answers[text]}])

    def client(url, timeout):
        return RestClient(url, client=httpx.Client(transport=httpx.MockTransport(handler)))

    monkeypatch.setattr(run_eval, "RestClient", client)


def test_a_perfect_system_scores_full_marks(perfect_system, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = run_eval.main(["--skip-diet-baseline", "--limit", "40", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    chuishao = result["systems"]["chuishao"]
    assert chuishao["n"] == 40
    assert chuishao["top1"] == chuishao["top3"] == 1.0
    assert chuishao["turn_accuracy"] == chuishao["dialogue_success"] == 1.0
    assert chuishao["no_match_precision"] == chuishao["no_match_recall"] == 1.0
    assert chuishao["mistakes"] == []
    assert result["systems"]["bm25"]["n"] == 40
    assert result["systems"]["diet"] == {"skipped": "--skip-diet-baseline"}
    assert result["date"]
    assert "top-1" in capsys.readouterr().out


def test_unreachable_system_fails_clearly(monkeypatch, tmp_path, capsys):
    def refused(request):
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(run_eval, "RestClient", lambda url, timeout: RestClient(
        url, client=httpx.Client(transport=httpx.MockTransport(refused))))
    assert run_eval.main(["--skip-diet-baseline", "--out", str(tmp_path / "e.json")]) == 2
    assert "not reachable" in capsys.readouterr().err
