"""Evaluate Chuishao through its REST channel, with a BM25 and a DIET baseline over the same questions.

    python -m eval.run_eval [--rasa-url URL] [--skip-diet-baseline] [--skip-system] [--limit N]

Chuishao is the running system (Rasa at ``--rasa-url``, default ``$RASA_URL`` or
http://127.0.0.1:5005): each question is sent with a fresh sender id, each dialogue in one
conversation. The metric definitions are in ``eval/metrics.py``. Prints a table (system x metric)
and writes ``results/eval.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eval import metrics
from eval.baselines import Bm25Baseline, DietBaseline, JiebaTokens, best_tokens, train_diet
from eval.data import (
    DIALOGUES_PATH,
    PROCEDURES_DIR,
    QUESTIONS_PATH,
    Dialogue,
    labels_used,
    load_dialogues,
    load_procedure_texts,
    load_questions,
    spread_sample,
)
from eval.metrics import Gold, Prediction
from eval.report import now_iso, pct, table, write_results
from eval.rest import RestClient, new_sender_id

logger = logging.getLogger("eval.run_eval")

DEFAULT_RASA_URL = "http://127.0.0.1:5005"

METRIC_COLUMNS = [
    ("top1", "top-1"),
    ("top3", "top-3"),
    ("clarify_rate", "clarify"),
    ("no_match_precision", "no-match P"),
    ("no_match_recall", "no-match R"),
    ("turn_accuracy", "turn acc"),
]


def run_chuishao(client: RestClient, questions: Sequence[Gold], dialogues: Sequence[Dialogue],
                 progress: Callable[[str], None]) -> tuple[list[Prediction], list[list[Prediction]]]:
    answers = []
    for i, gold in enumerate(questions, 1):
        answers.append(client.send(new_sender_id(), gold.text))
        if i % 50 == 0:
            progress(f"chuishao: {i}/{len(questions)} questions")
    conversations = []
    for dialogue in dialogues:
        sender = new_sender_id("eval-dialogue")
        conversations.append([client.send(sender, turn.text) for turn in dialogue.turns])
    return answers, conversations


def paired(golds: Sequence, preds: Sequence) -> list[tuple]:
    return list(zip(golds, preds, strict=True))


def mistakes(pairs: Sequence[tuple[Gold, Prediction]], judge=metrics.is_top1_correct) -> list[dict]:
    """The wrong replies, for reading the results file."""
    wrong = []
    for gold, pred in pairs:
        if judge(gold, pred):
            continue
        wrong.append({
            "text": gold.text,
            "expected": list(gold.acceptable) if gold.ambiguous else gold.expected,
            "expected_aspect": gold.aspect,
            "got": pred.kind,
            "procedure": pred.procedure,
            "aspect": pred.aspect,
            "candidates": list(pred.candidates),
            "note": pred.note,
        })
    return wrong


def system_result(pairs: list[tuple[Gold, Prediction]],
                  turn_pairs: list[tuple[Gold, Prediction]] | None,
                  dialogues: Sequence[Dialogue] = (), conversations: Sequence[Sequence[Prediction]] = (),
                  extra: dict | None = None) -> dict:
    result = metrics.summarize(pairs)
    result["turn_accuracy"] = metrics.turn_accuracy(turn_pairs) if turn_pairs is not None else None
    if turn_pairs is not None:
        result["turns"] = len(turn_pairs)
        result["dialogue_success"] = metrics.dialogue_success_rate(
            [paired(d.turns, preds) for d, preds in paired(dialogues, conversations)]
        )
        result["turn_mistakes"] = mistakes(turn_pairs, metrics.is_turn_correct)
    result["mistakes"] = mistakes(pairs)
    result.update(extra or {})
    return result


def print_report(systems: dict[str, dict], notes: list[str]) -> None:
    rows = []
    for name, res in systems.items():
        if "skipped" in res:
            rows.append([name] + ["skipped"] * len(METRIC_COLUMNS) + ["-"])
            continue
        rows.append([name] + [pct(res.get(key)) for key, _ in METRIC_COLUMNS] + [res["n"]])
    print()
    print(table(["system"] + [label for _, label in METRIC_COLUMNS] + ["questions"], rows))
    group_rows = [
        [name] + [pct(res["top1_by_group"][g]) for g in ("procedure", "no_match", "ambiguous")]
        + [res["errors"], pct(res.get("dialogue_success"))]
        for name, res in systems.items() if "skipped" not in res
    ]
    print()
    print(table(["top-1 by group", "labelled", "no match", "ambiguous", "failed replies", "dialogues ok"],
                group_rows))
    for note in notes:
        print(f"- {note}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval.run_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", DEFAULT_RASA_URL),
                        help="Rasa server of the running Chuishao (default $RASA_URL or %(default)s)")
    parser.add_argument("--skip-diet-baseline", action="store_true",
                        help="do not train and run the DIET baseline")
    parser.add_argument("--skip-system", action="store_true",
                        help="run only the baselines (no running Chuishao needed)")
    parser.add_argument("--limit", type=int, default=None,
                        help="evaluate an evenly spaced sample of N questions (and of N dialogues)")
    parser.add_argument("--diet-epochs", type=int, default=100, help="DIET baseline epochs (default 100)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_PATH)
    parser.add_argument("--dialogues", type=Path, default=DIALOGUES_PATH)
    parser.add_argument("--procedures", type=Path, default=PROCEDURES_DIR,
                        help="knowledge/data/procedures, read directly for the baselines")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per REST request")
    parser.add_argument("--out", type=Path, default=None, help="results file (default results/eval.json)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("jieba", "rasa", "tensorflow", "absl", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    questions = spread_sample(load_questions(args.questions), args.limit)
    dialogues = spread_sample(load_dialogues(args.dialogues), args.limit)
    procedure_texts = load_procedure_texts(args.procedures)
    unknown = sorted(labels_used(questions, dialogues) - set(procedure_texts))
    notes = []
    if unknown:
        notes.append(f"labels not in {args.procedures}: {', '.join(unknown)} "
                     "(always wrong for the baselines)")
    texts = [q.text for q in questions]
    systems: dict[str, dict] = {}

    if args.skip_system:
        systems["chuishao"] = {"skipped": "--skip-system"}
    else:
        with RestClient(args.rasa_url, timeout=args.timeout) as client:
            if not client.is_up():
                print(f"Chuishao is not reachable at {args.rasa_url} (GET / failed). "
                      "Start it with `make run`, or pass --skip-system to run only the baselines.",
                      file=sys.stderr)
                return 2
            logger.info("chuishao: %d questions, %d dialogues via %s", len(questions), len(dialogues),
                        args.rasa_url)
            started = time.perf_counter()
            answers, conversations = run_chuishao(client, questions, dialogues, logger.info)
            elapsed = time.perf_counter() - started
        turn_pairs = [pair for d, preds in paired(dialogues, conversations)
                      for pair in paired(d.turns, preds)]
        systems["chuishao"] = system_result(paired(questions, answers), turn_pairs, dialogues, conversations,
                                            {"seconds": round(elapsed, 1), "rasa_url": args.rasa_url})

    if procedure_texts:
        if args.procedures.resolve() == PROCEDURES_DIR:
            tokens, tokenisation = best_tokens()
        else:  # the knowledge library only loads its own data directory
            tokens, tokenisation = JiebaTokens(), JiebaTokens.description
        bm25 = Bm25Baseline(procedure_texts, tokens)
        systems["bm25"] = system_result(paired(questions, [bm25.predict(t) for t in texts]), None, extra={
            "tokenisation": tokenisation,
            "documents": "one per procedure: name + aliases",
            "no_match_rule": "best BM25 score <= 0",
        })
    else:
        systems["bm25"] = {"skipped": f"no procedures in {args.procedures}"}

    if args.skip_diet_baseline:
        systems["diet"] = {"skipped": "--skip-diet-baseline"}
    elif not procedure_texts:
        systems["diet"] = {"skipped": f"no procedures in {args.procedures}"}
    else:
        with tempfile.TemporaryDirectory(prefix="chuishao-diet-") as tmp:
            logger.info("diet: training an NLU model (%d intents, %d epochs)", len(procedure_texts),
                        args.diet_epochs)
            try:
                trained = train_diet(procedure_texts, Path(tmp), epochs=args.diet_epochs)
            except (RuntimeError, OSError) as exc:
                systems["diet"] = {"skipped": f"training failed: {exc}"}
                print(exc, file=sys.stderr)
            else:
                logger.info("diet: trained in %.0f s, classifying", trained.seconds)
                predictions = DietBaseline.load(trained.path).predict_all(texts)
                systems["diet"] = system_result(paired(questions, predictions), None, extra={
                    "train_seconds": round(trained.seconds, 1), "epochs": args.diet_epochs,
                    "fallback_threshold": 0.4,
                })

    failed = systems["chuishao"].get("errors")
    if failed:
        notes.append(f"{failed} Chuishao replies failed (HTTP error, timeout or malformed payload): "
                     "see `mistakes` with got=error in the results file")
    notes += [
        "baselines have no conversation state: turn accuracy is not applicable (n/a)",
        "baselines cannot clarify: ambiguous questions are always wrong for them at top-1",
        "top-3 for baselines uses their ranking; for Chuishao the answer or the clarification's candidates",
    ]
    print_report(systems, notes)
    path = write_results("eval.json", {
        "date": now_iso(),
        "questions": len(questions),
        "dialogues": len(dialogues),
        "limit": args.limit,
        "procedures": len(procedure_texts),
        "definitions": metrics.__doc__,
        "notes": notes,
        "systems": systems,
    }, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
