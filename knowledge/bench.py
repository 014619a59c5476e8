"""Retrieval benchmark (`make bench`): build time and per-query latency at 1k/10k/100k procedures.

The synthetic bases keep every real procedure and add deterministic variants of them (a Heze county
and a made-up trade name prefixed to the name and every alias), so the vocabulary and the posting
lists grow the way a bigger real base would. The report also counts how many of the labelled real
queries still rank the right procedure first at each size.

    python -m knowledge.bench [--sizes 1000 10000 100000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence

from knowledge.loader import KnowledgeBase
from knowledge.retriever import Retriever
from knowledge.schema import Procedure

COUNTIES = ("牡丹区", "定陶区", "曹县", "单县", "成武县", "巨野县", "郓城县", "鄄城县", "东明县", "高新区")
TRADE_CHARS = (
    "安宝昌达丰福光广贵海和恒宏华佳嘉金锦康乐利隆茂美明"
    "鹏平奇瑞润盛顺泰天通旺祥鑫兴旭亚益永裕元源远长正志中众"
)

# (query, the procedure expected first, or the decision expected when no procedure is)
QUERIES: tuple[tuple[str, str], ...] = (
    ("二类医疗器械备案证变更法人", "md2-operating-record-change"),
    ("营业执照换法人需要啥材料", "company-change-legal-rep"),
    ("社保开户", "social-insurance-registration"),
    ("排污证到期了怎么办", "pollutant-permit-renewal"),
    ("三类医疗器械经营许可证改法人", "md3-operating-licence-change"),
    ("二类注册证变更", "md2-registration-change"),
    ("医疗器械生产许可证变更法人", "md-production-licence-change"),
    ("公积金开户", "housing-fund-registration"),
    ("我想变更法人", "clarify"),
    ("今天天气怎么样", "no_match"),
    ("hello", "no_match"),
    ("' OR 1=1 --", "no_match"),
    ("营业执照" * 1250, "clarify"),
)
DECISIONS = ("answer", "clarify", "no_match")


def trade_name(i: int) -> str:
    """A deterministic three-character trade name, distinct for i < len(TRADE_CHARS) ** 3."""
    n = len(TRADE_CHARS)
    return TRADE_CHARS[i % n] + TRADE_CHARS[(i // n) % n] + TRADE_CHARS[(i // n // n) % n]


def synthetic_base(kb: KnowledgeBase, size: int) -> KnowledgeBase:
    """`kb`'s procedures plus variants of them, `size` procedures in all."""
    real = [kb.procedures[i] for i in sorted(kb.procedures)]
    procedures: dict[str, Procedure] = dict(kb.procedures)
    i = 0
    while len(procedures) < size:
        source = real[i % len(real)]
        tag = COUNTIES[(i // len(real)) % len(COUNTIES)] + trade_name(i)
        procedure = source.copy(update={
            "id": f"{source.id}-s{i}",
            "name": tag + source.name,
            "aliases": [tag + alias for alias in source.aliases],
            "related": [],
        })
        procedures[procedure.id] = procedure
        i += 1
    return KnowledgeBase(procedures, kb.departments)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(kb: KnowledgeBase, sizes: Sequence[int], repeat: int) -> list[dict[str, float]]:
    rows = []
    known = [(q, expected) for q, expected in QUERIES if expected in DECISIONS or expected in kb.procedures]
    for size in sizes:
        base = synthetic_base(kb, size)
        gc.collect()
        started = time.perf_counter()
        retriever = Retriever.build(base)
        build_s = time.perf_counter() - started
        for query, _ in known:  # warm-up
            retriever.search(query)
        timings, correct, labelled = [], 0, 0
        for _ in range(repeat):
            for query, _ in known:
                started = time.perf_counter()
                result = retriever.search(query)
                timings.append((time.perf_counter() - started) * 1000)
        for query, expected in known:
            result = retriever.search(query)
            labelled += 1
            if expected in DECISIONS:
                correct += result.decision == expected
            else:
                correct += bool(result.candidates) and result.candidates[0].id == expected
        row = {
            "procedures": len(base.procedures),
            "build_s": build_s,
            "p50_ms": statistics.median(timings),
            "p95_ms": percentile(timings, 0.95),
            "max_ms": max(timings),
            "correct": correct,
            "labelled": labelled,
        }
        rows.append(row)
        print(f"{row['procedures']:>7} procedures  build {build_s:6.1f} s  p50 {row['p50_ms']:6.2f} ms  "
              f"p95 {row['p95_ms']:6.2f} ms  max {row['max_ms']:6.2f} ms  "
              f"labelled right {correct}/{labelled}", flush=True)
        del retriever, base
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=20, help="times each query is timed per size")
    args = parser.parse_args(argv)
    run(KnowledgeBase.load(), args.sizes, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
