"""Ranking, calibration and decisions of the retriever on the fixture base (and the real one)."""

from __future__ import annotations

import logging
import time

import pytest

from knowledge import KnowledgeBase, Retriever, scoring
from knowledge.loader import PACKAGE_DIR

# The labelled set the weights and thresholds in knowledge/scoring.py were checked against:
# (message, the procedure that must be answered).
ANSWERS = [
    ("二类医疗器械备案证变更法人", "md2-operating-record-change"),
    ("二类备案换法人", "md2-operating-record-change"),
    ("二类械经营备案凭证变更地址", "md2-operating-record-change"),
    ("二类医疗器械经营备案", "md2-operating-record"),
    ("二类注册证变更", "md2-registration-change"),
    ("Ⅱ类医疗器械注册证变更住所", "md2-registration-change"),
    ("医疗器械生产许可证变更法人", "md-production-licence-change"),
    ("三类医疗器械经营许可证改法人", "md3-operating-licence-change"),
    ("三类证变更法人要什么材料", "md3-operating-licence-change"),
    ("办三类医疗器械经营许可证", "md3-operating-licence"),
    ("营业执照换法人需要啥材料", "company-change-legal-rep"),
    ("公司法人变更", "company-change-legal-rep"),
    ("注册公司要多久", "company-setup"),
    ("社保开户", "social-insurance-registration"),
    ("排污证到期了怎么办", "pollutant-permit-renewal"),
    ("排污许可证续期", "pollutant-permit-renewal"),
    ("排污证换法人", "pollutant-permit-change"),
    ("申请排污许可证", "pollutant-permit"),
]

# Messages that name nothing answerable.
JUNK = [
    "今天天气怎么样",
    "hello",
    "How do I register a company?",
    "😀😀",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "   ",
    "",
    "谢谢",
    "啊" * 5000,
    "！？ 。" * 300_000,  # a megabyte of punctuation
    "的是了在有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"[:5000],
]


@pytest.mark.parametrize(("message", "expected"), ANSWERS)
def test_labelled_answers(retriever: Retriever, message: str, expected: str) -> None:
    result = retriever.search(message)
    assert result.best is not None and result.best.id == expected, result.candidates[:3]
    assert result.decision == "answer"
    assert result.best.score >= scoring.ANSWER_THRESHOLD


@pytest.mark.parametrize("message", JUNK)
def test_junk_is_no_match_quickly(retriever: Retriever, message: str) -> None:
    started = time.perf_counter()
    result = retriever.search(message)
    assert time.perf_counter() - started < 0.5
    assert result.decision == "no_match"
    assert result.best is None
    assert all(c.score < scoring.NO_MATCH_THRESHOLD for c in result.candidates)


def test_a_generic_change_asks_which_certificate(retriever: Retriever) -> None:
    result = retriever.search("我想变更法人")
    assert result.decision == "clarify"
    assert result.understood["generic"] and result.understood["action"] == "变更"
    offered = {c.id for c in result.candidates}
    assert {
        "company-change-legal-rep",
        "md2-operating-record-change",
        "md3-operating-licence-change",
        "md-production-licence-change",
    } <= offered | {c.id for c in retriever.search("我想变更法人", top_k=10).candidates}
    assert "md2-registration-change" not in offered  # its certificate does not show the legal rep
    assert len(result.candidates) == 5


@pytest.mark.parametrize(
    ("message", "ids"),
    [
        ("排污证", {"pollutant-permit", "pollutant-permit-renewal", "pollutant-permit-change"}),
        ("营业执照", {"company-setup", "company-change-legal-rep"}),
    ("营业执照怎么办", {"company-setup", "company-change-legal-rep"}),
    ],
)
def test_a_bare_certificate_clarifies_between_its_procedures(
    retriever: Retriever, message: str, ids: set[str]
) -> None:
    result = retriever.search(message)
    assert result.decision == "clarify"
    assert ids <= {c.id for c in result.candidates}


def test_without_an_action_the_first_time_procedure_comes_first(retriever: Retriever) -> None:
    assert retriever.search("二类医疗器械备案").candidates[0].id == "md2-operating-record"
    implied_change = retriever.search("二类备案凭证地址")  # a change item without an action word
    assert implied_change.candidates[0].id == "md2-operating-record-change"


def test_near_pairs_are_told_apart(retriever: Retriever) -> None:
    """Operating record (city) vs registration certificate (province) vs production licence."""
    assert retriever.search("二类医疗器械经营备案变更").best.id == "md2-operating-record-change"
    assert retriever.search("二类医疗器械注册证变更").best.id == "md2-registration-change"
    assert retriever.search("医疗器械生产许可证变更").best.id == "md-production-licence-change"


@pytest.mark.parametrize(
    "message",
    ["三类医疗器械经营许可证变更法人", "三类械变更企业负责人", "第三类医疗器械许可证换法人",
     "Ⅲ类器械经营许可证法人变更"],
)
def test_class_words_must_agree(retriever: Retriever, message: str) -> None:
    result = retriever.search(message)
    assert result.candidates[0].id == "md3-operating-licence-change"
    second_class = [c for c in result.candidates if c.procedure.licence_class == "第二类"]
    assert all(c.signals["licence_class"] == -1 for c in second_class)


def test_a_class_two_question_ranks_class_two_first(retriever: Retriever) -> None:
    result = retriever.search("二类械经营许可证变更法人")
    assert result.candidates[0].procedure.licence_class == "第二类"


@pytest.mark.parametrize(
    ("message", "action", "expected"),
    [
        ("排污许可证到期", "延续", "pollutant-permit-renewal"),
        ("排污许可证延续", "延续", "pollutant-permit-renewal"),
        ("排污许可证要换法人", "变更", "pollutant-permit-change"),
        ("排污许可证改住所", "变更", "pollutant-permit-change"),
        ("新办排污许可证", "新办", "pollutant-permit"),
        ("开排污许可证", "新办", "pollutant-permit"),
    ],
)
def test_action_words_in_the_message(retriever: Retriever, message: str, action: str, expected: str) -> None:
    result = retriever.search(message)
    assert result.understood["action"] == action
    assert result.candidates[0].id == expected


def test_nlu_action_and_change_item_override_the_words(retriever: Retriever) -> None:
    assert retriever.search("排污许可证", action="延续").best.id == "pollutant-permit-renewal"
    result = retriever.search("医疗器械许可证", action="变更", change_item="法定代表人")
    assert result.candidates[0].id in {"md-production-licence-change", "md3-operating-licence-change"}
    assert result.candidates[0].signals["change_item"] == 1


def test_entities_from_the_nlu(retriever: Retriever) -> None:
    entities = [{"entity": "procedure", "value": "二类械经营备案变更", "start": 0, "end": 9}]
    result = retriever.search("这个怎么弄", entities=entities)
    assert result.best is not None and result.best.id == "md2-operating-record-change"
    assert result.best.signals["entity"] is True
    by_id = retriever.search("怎么弄", entities=[{"entity": "procedure_id", "value": "company-setup"}])
    assert by_id.candidates[0].id == "company-setup"
    licence = retriever.search("要换法人", entities=[{"entity": "licence", "value": "排污证"}])
    assert licence.candidates[0].id == "pollutant-permit-change"
    assert retriever.search("排污证", entities=[{"entity": "action", "value": "延续"}]).best.id == (
        "pollutant-permit-renewal"
    )
    # malformed entities are ignored, not fatal
    assert retriever.search("社保开户", entities=[{"entity": "procedure"}, "x", {"value": 3}]).best.id == (
        "social-insurance-registration"
    )


def test_exclude_leaves_a_procedure_out(retriever: Retriever) -> None:
    assert retriever.search("排污证续期").best.id == "pollutant-permit-renewal"
    result = retriever.search("排污证续期", exclude=("pollutant-permit-renewal", "no-such-id"))
    assert "pollutant-permit-renewal" not in {c.id for c in result.candidates}
    assert result.candidates and result.decision != "answer"


def test_result_shape(retriever: Retriever) -> None:
    result = retriever.search("二类备案换法人", top_k=3)
    assert len(result.candidates) <= 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    signals = result.best.signals
    assert {"bm25", "coverage", "phrase", "action", "change_item", "licence_class", "logit"} <= set(signals)
    assert signals["phrase"] == "第二类备案换法定代表人"


def test_non_text_input_is_no_match(retriever: Retriever) -> None:
    assert retriever.search(None).decision == "no_match"  # type: ignore[arg-type]


def test_save_and_load_give_the_same_ranking(retriever: Retriever, fixture_kb: KnowledgeBase, tmp_path):
    retriever.save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index", fixture_kb)
    for message, _ in ANSWERS[:6]:
        a, b = retriever.search(message), loaded.search(message)
        assert [(c.id, c.score) for c in a.candidates] == [(c.id, c.score) for c in b.candidates]


def test_a_stale_index_is_rebuilt(
    retriever: Retriever, knowledge_dir, procedure_data, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    retriever.save(tmp_path / "index")
    knowledge_dir.write_procedure(procedure_data("company-setup", aliases=["开个公司"]))
    changed = knowledge_dir.load()
    with caplog.at_level(logging.WARNING, logger="knowledge.index"):
        loaded = Retriever.load(tmp_path / "index", changed)
    assert "stale" in caplog.text
    assert loaded.search("开个公司").best.id == "company-setup"
    missing = Retriever.load(tmp_path / "nowhere", changed)
    assert missing.search("社保开户").best.id == "social-insurance-registration"
    Retriever.build(changed).save(tmp_path / "broken")
    (tmp_path / "broken" / "data.csc.index.npy").write_bytes(b"not numpy")
    with caplog.at_level(logging.WARNING, logger="knowledge.index"):
        broken = Retriever.load(tmp_path / "broken", changed)
    assert "unreadable" in caplog.text
    assert broken.search("社保开户").best.id == "social-insurance-registration"


def test_an_empty_base_answers_nothing(knowledge_dir) -> None:
    for path in (knowledge_dir.root / "procedures").iterdir():
        path.unlink()
    empty = Retriever.build(knowledge_dir.load())
    assert empty.search("社保开户").decision == "no_match"


REAL_PROCEDURES = PACKAGE_DIR / "data" / "procedures"


@pytest.fixture(scope="module")
def real_retriever() -> Retriever:
    if not any(REAL_PROCEDURES.glob("*.yml")):
        pytest.skip("knowledge/data/procedures is empty")
    return Retriever.build(KnowledgeBase.load(PACKAGE_DIR / "data"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("二类医疗器械备案证变更法人", "md2-operating-record-change"),
        ("营业执照换法人需要啥材料", "company-change-legal-rep"),
        ("社保开户", "social-insurance-registration"),
        ("排污证到期了怎么办", "pollutant-permit-renewal"),
        ("三类医疗器械经营许可证改法人", "md3-operating-licence-change"),
        ("二类注册证变更", "md2-registration-change"),
        ("医疗器械生产许可证变更法人", "md-production-licence-change"),
        ("公积金开户", "housing-fund-registration"),
        ("个体户注销", "individual-business-deregistration"),
        ("三类证到期", "md3-operating-licence-renewal"),
    ],
)
def test_real_base_ranks_realistic_questions(real_retriever: Retriever, message: str, expected: str) -> None:
    result = real_retriever.search(message)
    assert result.decision == "answer" and result.best.id == expected, result.candidates[:3]


@pytest.mark.parametrize(
    ("message", "decision"),
    [("我想变更法人", "clarify"), ("排污证", "clarify"), ("今天天气怎么样", "no_match")],
)
def test_real_base_decisions(real_retriever: Retriever, message: str, decision: str) -> None:
    assert real_retriever.search(message).decision == decision


@pytest.mark.parametrize(
    ("message", "options"),
    [
        ("注销一家公司", {"company-deregistration-general", "company-deregistration-simplified"}),
        ("开人力资源服务公司要办啥", {"hr-service-licence", "hr-service-record"}),
    ],
)
def test_real_base_asks_when_only_the_wording_of_the_base_differs(
    real_retriever: Retriever, message: str, options: set[str]
) -> None:
    """The message fits both equally (same words found, same action); BM25's term weights and name
    lengths are no reason to pick one."""
    result = real_retriever.search(message)
    assert result.decision == "clarify"
    assert options <= {c.id for c in result.candidates}


@pytest.mark.parametrize("message", ["林木采伐许可证怎么办理", "危险废物经营许可证怎么申请"])
def test_real_base_a_certificate_it_lacks_is_not_another_one(real_retriever: Retriever, message: str) -> None:
    """The words naming the certificate match no procedure: no answer, and no offer of a wrong one."""
    result = real_retriever.search(message)
    assert result.decision == "no_match", result.candidates[:3]
    assert all(c.signals["licence_miss"] > 0 for c in result.candidates)


def test_real_base_a_colloquial_certificate_name_still_answers(real_retriever: Retriever) -> None:
    result = real_retriever.search("餐饮许可证怎么办")
    assert result.decision == "answer" and result.best.id == "food-operating-licence"
    assert result.best.signals["licence_miss"] == 0.0


@pytest.mark.parametrize("message", ["要带什么材料？", "哪个部门管", "多久能办好", "依据是什么", "收费吗"])
def test_an_aspect_question_alone_names_no_procedure(retriever: Retriever, message: str) -> None:
    """A follow-up with only aspect words must not be answered with some procedure that happens to
    contain those words: the caller falls back to the procedure in context."""
    result = retriever.search(message)
    assert result.decision == "no_match"
    assert result.best is None
