"""build_all: artefacts exist, jieba keeps the words whole, spaCy tags the entities, rebuilds are minimal."""

from __future__ import annotations

import jieba
import pytest
import spacy

from knowledge import KnowledgeBase, Retriever
from knowledge.build import FINGERPRINT, INDEX_DIR, SPACY_DIR, USERDICT, build_all
from knowledge.spacy_model import LABEL_DEPARTMENT, LABEL_LICENCE, LABEL_PROCEDURE
from knowledge.text import tokenizer_with_words


@pytest.fixture(scope="module")
def built(fixture_kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("build") / "knowledge"
    report = build_all(fixture_kb, out)
    return out, report


@pytest.fixture(scope="module")
def userdict_tokenizer(built) -> jieba.Tokenizer:
    """A jieba tokenizer as Rasa's JiebaTokenizer leaves the global one: main + user dictionary."""
    out, _ = built
    tokenizer = tokenizer_with_words([])
    tokenizer.load_userdict(str(out / USERDICT))
    return tokenizer


def entities(nlp, text: str) -> set[tuple[str, str, str]]:
    return {(ent.label_, ent.text, ent.ent_id_) for ent in nlp(text).ents}


def test_artefacts_exist(built) -> None:
    out, report = built
    for path in (USERDICT, SPACY_DIR / "meta.json", SPACY_DIR / "entity_ruler" / "patterns.jsonl",
                 INDEX_DIR / "meta.json", INDEX_DIR / "vocab.index.json", FINGERPRINT):
        assert (out / path).is_file(), path
    assert report.unrecognised == []
    assert set(report.written) == {p for p in out.rglob("*") if p.is_file()}
    assert [p.name for p in (out / USERDICT.parent).iterdir()] == ["userdict.txt"]  # Rasa loads every file


def test_userdict_keeps_every_word_whole(built, userdict_tokenizer: jieba.Tokenizer) -> None:
    out, _ = built
    lines = (out / USERDICT).read_text(encoding="utf-8").splitlines()
    words = dict(line.rsplit(" ", 1) for line in lines)
    expected = ["第二类医疗器械经营备案", "二类医疗器械经营备案", "排污证", "市审批局", "法定代表人"]
    for word in expected:
        assert word in words, word
    # whole aliases and names with an action in them are left to the entity ruler
    for word in ["二类备案换法人", "营业执照换法人", "企业变更登记", "第二类医疗器械经营备案变更"]:
        assert word not in words, word
    for word in words:
        assert userdict_tokenizer.lcut(word, HMM=False) == [word], word
    assert all(int(freq) >= 2000 for freq in words.values())


def test_userdict_leaves_actions_and_change_items_whole(userdict_tokenizer: jieba.Tokenizer) -> None:
    """DIET tags 换/变更 (action) and 法人 (change_item) only if jieba gives them their own tokens."""
    assert userdict_tokenizer.lcut("营业执照换法人需要带啥", HMM=False)[:3] == ["营业执照", "换", "法人"]
    assert "变更" in userdict_tokenizer.lcut("二类医疗器械备案证变更法人", HMM=False)
    assert "续期" in userdict_tokenizer.lcut("食品经营许可证续期怎么办", HMM=False)


def test_spacy_finds_the_entities(built, userdict_tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """At run time Rasa's JiebaTokenizer has loaded build/knowledge/jieba into jieba's global
    tokenizer, which spaCy's zh tokenizer uses."""
    out, _ = built
    monkeypatch.setattr(jieba, "cut", userdict_tokenizer.cut)  # as after jieba.load_userdict(...)
    nlp = spacy.load(out / SPACY_DIR)
    assert nlp.pipe_names == ["entity_ruler"]
    md2_change = (LABEL_PROCEDURE, "二类医疗器械经营备案变更", "md2-operating-record-change")
    assert md2_change in entities(nlp, "我想办二类医疗器械经营备案变更")
    alias = (LABEL_PROCEDURE, "二类备案换法人", "md2-operating-record-change")
    assert alias in entities(nlp, "二类备案换法人咋办")
    assert (LABEL_LICENCE, "排污证", "排污许可证") in entities(nlp, "我的排污证快到期了")
    # an alias that is only a licence name is tagged as the licence, not as its 新办 procedure
    md3 = (LABEL_LICENCE, "三类医疗器械经营许可证", "第三类医疗器械经营许可证")
    assert md3 in entities(nlp, "三类医疗器械经营许可证要变更法人")
    assert (LABEL_DEPARTMENT, "市审批局", "hz-xzsp") in entities(nlp, "市审批局电话多少")
    assert entities(nlp, "今天天气怎么样") == set()


def test_spacy_without_the_user_dictionary(built, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the pipeline runs before (or without) the user dictionary, the token patterns built from
    jieba's main dictionary still match where jieba segments the sentence like the phrase."""
    out, _ = built
    monkeypatch.setattr(jieba, "cut", tokenizer_with_words([]).cut)
    nlp = spacy.load(out / SPACY_DIR)
    md2_change = (LABEL_PROCEDURE, "二类医疗器械经营备案变更", "md2-operating-record-change")
    assert md2_change in entities(nlp, "我想办二类医疗器械经营备案变更")
    assert (LABEL_DEPARTMENT, "市审批局", "hz-xzsp") in entities(nlp, "市审批局电话多少")


def test_saved_index_loads_and_matches(built, fixture_kb: KnowledgeBase, retriever: Retriever) -> None:
    out, _ = built
    loaded = Retriever.load(out / INDEX_DIR, fixture_kb)
    assert loaded.index.fingerprint == fixture_kb.fingerprint()
    assert loaded.search("二类备案换法人").best.id == retriever.search("二类备案换法人").best.id


def test_rebuild_writes_only_what_changed(knowledge_dir, procedure_data, tmp_path) -> None:
    out = tmp_path / "knowledge"
    first = build_all(knowledge_dir.load(), out)
    mtimes = {p: p.stat().st_mtime_ns for p in first.written}

    again = build_all(knowledge_dir.load(), out)
    assert again.written == [] and again.removed == [] and again.unchanged == len(first.written)
    assert {p: p.stat().st_mtime_ns for p in first.written} == mtimes

    aliases = ["社保开户", "参保开户"]
    knowledge_dir.write_procedure(procedure_data("social-insurance-registration", aliases=aliases))
    (out / INDEX_DIR / "stale.npy").write_bytes(b"old")
    changed = build_all(knowledge_dir.load(), out)
    written = {p.relative_to(out) for p in changed.written}
    assert FINGERPRINT in written and INDEX_DIR / "meta.json" in written
    assert SPACY_DIR / "entity_ruler" / "patterns.jsonl" in written
    assert USERDICT not in written  # aliases are matched whole by the entity ruler, not kept by jieba
    assert SPACY_DIR / "config.cfg" not in written
    assert changed.removed == [out / INDEX_DIR / "stale.npy"]
    assert not list(out.glob(".staging-*"))
