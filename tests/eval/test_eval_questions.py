"""eval/questions.yml and eval/dialogues.yml are well-formed, cover the base, and stay independent of
the knowledge base's names/aliases and of the NLU training data."""

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from eval.baselines import Bm25Baseline, JiebaTokens, diet_nlu_data
from eval.data import (
    PROCEDURES_DIR,
    ROOT,
    EvalDataError,
    load_dialogues,
    load_procedure_texts,
    load_questions,
)

# The procedures every release of the base must have (the team's agreed id list).
CORE_IDS = (
    "md2-operating-record", "md2-operating-record-change", "md3-operating-licence",
    "md3-operating-licence-change", "md3-operating-licence-renewal", "md2-registration-first",
    "md2-registration-change", "md2-registration-renewal", "md-production-licence-change",
    "md-production-licence-renewal", "md1-production-record", "company-setup", "company-change-legal-rep",
    "company-change-name", "company-change-domicile", "company-change-scope", "company-change-capital",
    "company-deregistration-general", "company-deregistration-simplified", "individual-business-setup",
    "individual-business-deregistration", "food-operating-licence",
    "food-operating-licence-change-renewal", "food-prepackaged-record", "drug-retail-licence",
    "drug-wholesale-licence", "public-place-hygiene-licence", "construction-permit", "pollutant-permit",
    "pollutant-permit-change", "pollutant-permit-renewal", "pollutant-registration", "fire-acceptance",
    "fire-acceptance-record", "fire-safety-inspection-public-venue", "special-equipment-registration",
    "road-freight-licence", "hazardous-chemicals-operating-licence", "publication-retail-licence",
    "hr-service-licence", "hr-service-record", "labour-dispatch-licence", "new-taxpayer-invoice",
    "vat-general-taxpayer", "social-insurance-registration", "housing-fund-registration",
    "bank-basic-account", "seal-engraving-record", "procurement-complaint", "bidding-complaint",
)
HEADLINE_IDS = ["md2-operating-record", "md2-operating-record-change", "md3-operating-licence-change",
                "md2-registration-change", "md-production-licence-change"]
# Phrases the brief itself gives as the canonical examples; they may also be training examples.
SHARED_WITH_BRIEF = {"我想变更法人"}


@pytest.fixture(scope="module")
def questions():
    return load_questions()


@pytest.fixture(scope="module")
def dialogues():
    return load_dialogues()


@pytest.fixture(scope="module")
def kb_ids():
    ids = set(load_procedure_texts())
    if not ids:
        pytest.skip(f"no procedures in {PROCEDURES_DIR} yet")
    return ids


def labels(golds):
    return Counter(g.expected for g in golds if g.expected) + Counter(i for g in golds for i in g.acceptable)


def test_size_and_mix(questions):
    assert len(questions) >= 200
    assert sum(q.is_no_match for q in questions) >= 30
    assert sum(q.ambiguous for q in questions) >= 10


def test_texts_are_unique(questions):
    repeated = [t for t, n in Counter(q.text for q in questions).items() if n > 1]
    assert repeated == []


def test_every_core_procedure_has_three_questions(questions):
    counts = Counter(q.expected for q in questions if q.expected)
    assert {pid: counts[pid] for pid in CORE_IDS if counts[pid] < 3} == {}
    assert {pid: counts[pid] for pid in HEADLINE_IDS if counts[pid] < 5} == {}


def test_labels_are_procedures_of_the_base(questions, dialogues, kb_ids):
    used = labels(questions) + labels(t for d in dialogues for t in d.turns)
    assert sorted(set(used) - kb_ids) == []


def test_every_procedure_of_the_base_is_asked(questions, kb_ids):
    counts = Counter(q.expected for q in questions if q.expected)
    assert {pid: counts[pid] for pid in sorted(kb_ids) if counts[pid] < 3} == {}


def test_ambiguous_questions_offer_real_choices(questions):
    for q in questions:
        if q.ambiguous:
            assert len(set(q.acceptable)) >= 2, q.text


def test_dialogues(dialogues):
    assert len(dialogues) >= 15
    assert sum(len(d.turns) for d in dialogues) >= 40
    assert any(t.ambiguous for d in dialogues for t in d.turns)
    assert any(t.text.startswith("/ask_procedure") for d in dialogues for t in d.turns)
    for d in dialogues:
        assert not d.turns[0].text.startswith("/"), d.name


def _nlu_examples() -> set[str]:
    examples = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.add(re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", line[2:]))
    return examples


def _plain(text: str) -> str:
    return re.sub(r"[\s，。？！,.?!、：:；;（）()]", "", text)


def test_questions_are_not_copied_from_training_data_or_aliases(questions):
    """A question equal to a training example or an alias measures memory, not understanding."""
    seen = {_plain(t) for t in _nlu_examples()}
    seen |= {_plain(t) for texts in load_procedure_texts().values() for t in texts}
    seen.discard("")  # punctuation-only messages ("。。。", "？？？") are junk probes, not copies
    copied = [q.text for q in questions if _plain(q.text) in seen and q.text not in SHARED_WITH_BRIEF]
    assert copied == []


def test_loader_rejects_malformed_files(tmp_path: Path):
    cases = {
        "no_expected.yml": {"questions": [{"text": "你好"}]},
        "ambiguous_one_choice.yml": {"questions": [{"text": "变更", "ambiguous": True, "acceptable": ["a"]}]},
        "ambiguous_with_expected.yml": {
            "questions": [{"text": "变更", "ambiguous": True, "expected": "a", "acceptable": ["a", "b"]}]
        },
        "empty_text.yml": {"questions": [{"text": " ", "expected": None}]},
        "not_a_list.yml": {"questions": {"text": "x"}},
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
        with pytest.raises(EvalDataError):
            load_questions(path)

    turn_cases = [
        [{"user": "a", "procedure": "x", "clarify": ["x", "y"]}, {"user": "b", "procedure": None}],
        [{"user": "a", "procedure": "x", "aspect": "colour"}, {"user": "b", "procedure": None}],
        [{"user": "a", "procedure": None, "aspect": "fee"}, {"user": "b", "procedure": None}],
        [{"user": "only one turn", "procedure": "x"}],
    ]
    for i, turns in enumerate(turn_cases):
        path = tmp_path / f"dialogue{i}.yml"
        path.write_text(yaml.safe_dump({"dialogues": [{"name": "d", "turns": turns}]}), encoding="utf-8")
        with pytest.raises(EvalDataError):
            load_dialogues(path)


def test_bm25_baseline_on_a_tiny_base():
    # Plain jieba: the generated user dictionary (build/knowledge/jieba) must not decide this unit test.
    bm25 = Bm25Baseline({"pollutant-permit": ["排污许可证首次申请", "排污证"],
                         "company-change-name": ["企业名称变更登记", "公司改名"]},
                        tokenize=JiebaTokens(dictionary_dir=None))
    assert bm25.predict("排污许可证怎么申请").procedure == "pollutant-permit"
    assert bm25.predict("asdfgh").kind == "none"
    assert bm25.predict("。。。").kind == "none"


def test_diet_training_data_has_one_intent_per_procedure_and_no_annotations():
    data = diet_nlu_data({"a": ["名称[一]", "别名", "别名"], "b": ["乙"]})
    assert [item["intent"] for item in data["nlu"]] == ["a", "b"]
    assert data["nlu"][0]["examples"] == "- 名称【一】\n- 别名\n"
