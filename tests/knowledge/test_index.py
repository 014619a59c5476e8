import bm25s
import numpy as np

from knowledge import KnowledgeBase
from knowledge.index import _BM25, PhraseTable, SearchIndex
from knowledge.text import normalise


def test_fast_accumulation_equals_bm25s() -> None:
    corpus = [["a", "b", "b"], ["b", "c"], ["c", "d", "a", "a"], ["e"]]
    vocab = {t: i for i, t in enumerate("abcde")}
    ids = [[vocab[t] for t in doc] for doc in corpus]
    ours, reference = _BM25(), bm25s.BM25()
    for model in (ours, reference):
        model.index((ids, dict(vocab)), create_empty_token=False, show_progress=False)
    for query in ([0], [1, 2], [0, 2, 3, 4], [4, 4]):
        expected = reference.get_scores_from_ids(query)
        np.testing.assert_allclose(ours.get_scores_from_ids(query), expected, rtol=1e-6)


def test_phrase_table_scan_finds_every_occurrence() -> None:
    table = PhraseTable()
    table.add("营业执照", 0, "alias")
    table.add("营业执照换法人", 1, "alias")
    table.add("法人", 2, "name")
    table.add("x", 3, "name")  # single characters are never phrases
    table.freeze()
    hits = {(h.start, h.end, h.doc) for h in table.scan("我的营业执照换法人")}
    assert hits == {(2, 6, 0), (2, 9, 1), (7, 9, 2)}
    assert table.scan("") == [] and table.lookup("x") == []


def test_index_facts_and_save_load(fixture_kb: KnowledgeBase, tmp_path) -> None:
    index = SearchIndex.build(fixture_kb)
    position = index.position["md2-operating-record-change"]
    facts = index.facts[position]
    assert facts.action == "变更" and facts.licence_class == "第二类"
    assert "法定代表人" in facts.change_items and "第二类备案换法定代表人" in facts.key_text
    assert index.phrases.lookup(normalise("二类备案换法人")) == [(position, "alias")]
    index.save(tmp_path)
    loaded = SearchIndex.load(tmp_path, fixture_kb)
    tokens = ["2:排污", "排污", "3:许可证"]
    np.testing.assert_array_equal(index.bm25_scores(tokens), loaded.bm25_scores(tokens))
    assert index.bm25_scores(["never-seen-token"]) is None
