from knowledge import KnowledgeBase
from knowledge.bench import run, synthetic_base, trade_name


def test_synthetic_base_is_unique_and_keeps_the_real_procedures(fixture_kb: KnowledgeBase) -> None:
    base = synthetic_base(fixture_kb, 300)
    assert len(base.procedures) == 300
    assert set(fixture_kb.procedures) <= set(base.procedures)
    aliases = [a for p in base.procedures.values() for a in p.aliases]
    assert len(aliases) == len(set(aliases))
    assert len({p.name for p in base.procedures.values()}) == 300
    assert len({trade_name(i) for i in range(10_000)}) == 10_000


def test_run_reports_latency_and_ranking(fixture_kb: KnowledgeBase, capsys) -> None:
    [row] = run(fixture_kb, [200], repeat=1)
    assert row["procedures"] == 200
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    assert row["correct"] == row["labelled"]  # the fixture has every labelled procedure it lists
    assert "200 procedures" in capsys.readouterr().out
