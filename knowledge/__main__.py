"""Command line: `python -m knowledge validate | search | stats | build`."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from knowledge.loader import KnowledgeBase, KnowledgeError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__)
    parser.add_argument("--root", type=Path, default=None,
                        help="knowledge data directory (default: $KNOWLEDGE_DIR or knowledge/data)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("validate", help="check every YAML file; print each problem as file: field: reason")

    search = commands.add_parser("search", help="rank procedures for a question")
    search.add_argument("text", help="the question, e.g. 二类医疗器械备案证变更法人")
    search.add_argument("--top", type=int, default=5, help="candidates to show (default 5)")
    search.add_argument("--action", help="NLU action entity, e.g. 变更")
    search.add_argument("--change-item", help="NLU change_item entity, e.g. 法定代表人")
    search.add_argument("--index", type=Path, help="load this saved index instead of building one")
    search.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("stats", help="counts by department, kind, action and verified")

    build = commands.add_parser("build", help="validate, then generate the jieba, spaCy and index artefacts")
    build.add_argument("--out", type=Path, default=None, help="output directory (default build/knowledge)")

    args = parser.parse_args(argv)
    try:
        kb = KnowledgeBase.load(args.root)
    except KnowledgeError as error:
        for problem in error.problems:
            print(problem)
        print(f"{len(error.problems)} problem(s); nothing else was done.", file=sys.stderr)
        return 1
    handlers = {"validate": _validate, "search": _search, "stats": _stats, "build": _build}
    return handlers[args.command](kb, args)


def _validate(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    verified = sum(p.verified for p in kb.procedures.values())
    print(f"OK: {len(kb.procedures)} procedures ({verified} verified), {len(kb.departments)} departments "
          f"in {kb.root}")
    return 0


def _search(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from knowledge.retriever import Retriever

    retriever = Retriever.load(args.index, kb) if args.index else Retriever.build(kb)
    result = retriever.search(args.text, action=args.action, change_item=args.change_item, top_k=args.top)
    if args.json:
        payload = {
            "query": result.query,
            "decision": result.decision,
            "understood": result.understood,
            "candidates": [
                {"id": c.id, "name": c.procedure.name, "score": c.score, "signals": c.signals}
                for c in result.candidates
            ],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    print(f"decision: {result.decision}   understood: {json.dumps(result.understood, ensure_ascii=False)}")
    for rank, candidate in enumerate(result.candidates, 1):
        s = candidate.signals
        print(f"{rank}. {candidate.score:.3f}  {candidate.id}  {candidate.procedure.name}")
        print(f"     logit={s['logit']} bm25={s['bm25']} coverage={s['coverage']} phrase={s['phrase'] or '-'}"
              f" licence={s['licence']} action={s['action']} change_item={s['change_item']}"
              f" class={s['licence_class']}")
    return 0


def _stats(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    procedures = list(kb.procedures.values())
    groups = {
        "department": Counter(kb.departments[p.department].short_name for p in procedures),
        "kind": Counter(p.kind for p in procedures),
        "action": Counter(p.action for p in procedures),
        "verified": Counter("verified" if p.verified else "unverified" for p in procedures),
    }
    print(f"{len(procedures)} procedures, {len(kb.departments)} departments")
    for title, counts in groups.items():
        print(f"\nby {title}:")
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:4d}  {key}")
    return 0


def _build(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from knowledge.build import DEFAULT_OUT_DIR, build_all

    out = args.out or DEFAULT_OUT_DIR
    report = build_all(kb, out)
    for path in report.written:
        print(f"wrote   {path}")
    for path in report.removed:
        print(f"removed {path}")
    print(f"{len(report.written)} written, {len(report.removed)} removed, {report.unchanged} unchanged "
          f"in {out}")
    if report.unrecognised:
        print("spaCy does not tag these procedure names: " + ", ".join(report.unrecognised), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
