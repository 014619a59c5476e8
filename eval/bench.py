"""Benchmark Chuishao against Rasa's starter bot, in one run.

    python -m eval.bench [--rasa-url URL] [--skip-train-timing] [--skip-starter] [--skip-system]

1. Throughput (messages/s) and p50/p95 latency through the REST channel at 1 and 10 concurrent
   users, the same fixed message mix (eval/questions.yml, shuffled with a fixed seed) for both, each
   phase bounded by --messages and --duration; traffic only to 127.0.0.1.
2. Knowledge-base lookup p50/p95 at 1k/10k/100k generated procedures, by knowledge.bench.run.
3. Training time: `rasa train --force` of Chuishao into a temporary directory, and of the starter bot
   (`rasa init --no-prompt`, which copies the template and trains it).
4. Resident memory (RSS) of each process of the running Chuishao (found by listening port, or --pids)
   and of the starter bot's `rasa run`.

Prints tables and writes results/bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from eval.data import QUESTIONS_PATH, ROOT, load_questions
from eval.load import (
    free_port,
    listening_pids,
    log_tail,
    process_memory,
    rasa_env,
    run_load,
    stop_process_group,
    timed_run,
    wait_until_up,
)
from eval.report import fmt, now_iso, table, write_results
from eval.rest import require_loopback

logger = logging.getLogger("eval.bench")

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
USER_LEVELS = (1, 10)
KB_SIZES = (1_000, 10_000, 100_000)


def message_mix(path: Path = QUESTIONS_PATH, seed: int = 0) -> list[str]:
    texts = [q.text for q in load_questions(path)]
    random.Random(seed).shuffle(texts)
    return texts


def load_phases(url: str, messages: Sequence[str], args: argparse.Namespace) -> dict[str, dict]:
    asyncio.run(run_load(url, messages[:3], users=1, max_messages=3, max_seconds=30))  # warm-up
    results = {}
    for users in USER_LEVELS:
        result = asyncio.run(run_load(url, messages, users=users, max_messages=args.messages,
                                      max_seconds=args.duration, timeout=args.timeout))
        logger.info("  %2d user(s): %s msg/s, p50 %s ms, p95 %s ms, %d errors", users,
                    result.messages_per_s, result.p50_ms, result.p95_ms, result.errors)
        results[str(users)] = result.as_dict()
    return results


def chuishao_processes(rasa_url: str, pids: Sequence[int]) -> list[dict]:
    if pids:
        found = {f"pid {pid}": pid for pid in pids}
    else:
        ports = {
            "rasa": urlsplit(rasa_url).port or 5005,
            "actions": int(os.environ.get("ACTION_PORT", 5055)),
            "bot": int(os.environ.get("BOT_PORT", 8000)),
        }
        by_port = listening_pids(list(ports.values()))
        found = {f"{name} (:{port})": by_port[port] for name, port in ports.items() if port in by_port}
    rows = []
    for name, pid in found.items():
        try:
            rows.append({"process": name, **process_memory(pid)})
        except Exception as exc:  # noqa: BLE001 - a vanished or foreign process must not end the run
            rows.append({"process": name, "pid": pid, "error": f"{type(exc).__name__}: {exc}"})
    return rows


def time_chuishao_training(timeout: float) -> dict:
    domain = "domain" if (ROOT / "domain").is_dir() and not (ROOT / "domain.yml").exists() else "domain.yml"
    with tempfile.TemporaryDirectory(prefix="chuishao-train-") as tmp:
        log = Path(tmp) / "train.log"
        command = [sys.executable, "-m", "rasa", "train", "--force", "--domain", domain, "--data", "data",
                   "--config", "config.yml", "--out", str(Path(tmp) / "models")]
        logger.info("training Chuishao (rasa train --force) into %s", tmp)
        try:
            seconds, code = timed_run(command, ROOT, timeout, log)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        if code != 0:
            return {"error": f"rasa train exited {code}", "log_tail": log_tail(log)}
        return {"seconds": round(seconds, 1), "command": " ".join(command[1:])}


class StarterBot:
    """Rasa's starter bot from `rasa init --no-prompt`, served by `rasa run` on a free local port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.url: str | None = None

    def has_model(self) -> bool:
        return any((self.workdir / "models").glob("*.tar.gz"))

    def init_and_train(self, timeout: float) -> dict:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "init.log"
        command = [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(self.workdir)]
        logger.info("starter bot: rasa init --no-prompt (creates and trains) in %s", self.workdir)
        try:
            seconds, code = timed_run(command, self.workdir, timeout, log)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        if code != 0 or not self.has_model():
            return {"error": f"rasa init exited {code}", "log_tail": log_tail(log)}
        return {"seconds": round(seconds, 1), "command": "rasa init --no-prompt (template copy + rasa train)"}

    def start(self, timeout: float) -> bool:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = (self.workdir / "run.log").open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--interface", "127.0.0.1", "--port", str(port),
             "--model", "models"],
            cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=rasa_env(),
        )
        log.close()
        logger.info("starter bot: rasa run on %s (pid %d), waiting for it", self.url, self.process.pid)
        return wait_until_up(f"{self.url}/", timeout, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


def knowledge_lookup(sizes: Sequence[int], repeat: int) -> dict:
    """Knowledge-base lookup latency at generated sizes, measured by ``knowledge.bench.run``."""
    if not (ROOT / "knowledge" / "bench.py").exists():
        return {"todo": "knowledge/bench.py does not exist yet: no lookup numbers"}
    try:
        from knowledge import KnowledgeBase
        from knowledge.bench import run
    except ImportError as exc:
        return {"error": f"cannot import knowledge.bench: {exc}"}
    logger.info("knowledge lookup: knowledge.bench.run at %s procedures", ", ".join(map(str, sizes)))
    try:
        rows = run(KnowledgeBase.load(), sizes, repeat)
    except Exception as exc:  # noqa: BLE001 - another module's failure is reported, not fatal
        return {"error": f"knowledge.bench.run failed: {type(exc).__name__}: {exc}"}
    return {"source": "knowledge.bench.run", "repeat": repeat, "results": rows}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def print_report(result: dict) -> None:
    load = result["load"]
    rows = []
    for system, phases in load.items():
        if "skipped" in phases or "error" in phases:
            rows.append([system, "-", phases.get("skipped") or phases.get("error"), "", "", "", "", ""])
            continue
        for users, r in phases.items():
            rows.append([system, users, fmt(r["messages_per_s"]), fmt(r["p50_ms"]), fmt(r["p95_ms"]),
                         r["ok"], r["errors"], fmt(r["seconds"])])
    print("\nREST channel load (fixed message mix, 127.0.0.1)")
    print(table(["system", "users", "msg/s", "p50 ms", "p95 ms", "ok", "errors", "seconds"], rows))

    if result["ratios"]:
        print("\nChuishao / starter bot")
        print(table(["users", "msg/s ratio", "p50 ratio", "p95 ratio"],
                    [[u, fmt(r["messages_per_s"], digits=2), fmt(r["p50_ms"], digits=2),
                      fmt(r["p95_ms"], digits=2)]
                     for u, r in result["ratios"].items()]))

    print("\nKnowledge-base lookup (knowledge.bench, generated procedures)")
    kb = result["knowledge_lookup"]
    if "results" in kb:
        print(table(["procedures", "build s", "p50 ms", "p95 ms", "max ms", "labelled right"],
                    [[r.get("procedures"), fmt(r.get("build_s")), fmt(r.get("p50_ms"), digits=2),
                      fmt(r.get("p95_ms"), digits=2), fmt(r.get("max_ms"), digits=2),
                      f"{r.get('correct')}/{r.get('labelled')}"] for r in kb["results"]]))
    else:
        print(f"  {next(iter(kb.values()))}")

    print("\nTraining time")
    print(table(["system", "seconds", "note"],
                [[name, fmt(t.get("seconds")), t.get("skipped") or t.get("error") or t.get("command", "")]
                 for name, t in result["training"].items()]))

    print("\nResident memory (RSS)")
    mem_rows = []
    for system, procs in result["memory"].items():
        if isinstance(procs, dict):
            mem_rows.append([system, "-", "-", "-", procs.get("skipped") or procs.get("error")])
            continue
        for p in procs:
            mem_rows.append([system, p.get("process", ""), fmt(p.get("rss_mib")),
                             fmt(p.get("rss_with_children_mib")),
                             p.get("error") or p.get("command", "")[:60]])
    print(table(["system", "process", "RSS MiB", "+children MiB", "command"], mem_rows))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", DEFAULT_RASA_URL),
                        help="Rasa server of the running Chuishao (default $RASA_URL or %(default)s)")
    parser.add_argument("--messages", type=int, default=300, help="messages per load phase (default 300)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per load phase at most (30)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--pids", type=int, nargs="*", default=[],
                        help="Chuishao process ids to measure (default: found by listening port)")
    parser.add_argument("--skip-system", action="store_true",
                        help="do not load or measure the running Chuishao")
    parser.add_argument("--skip-starter", action="store_true", help="do not build or run the starter bot")
    parser.add_argument("--skip-train-timing", action="store_true",
                        help="do not time `rasa train` of Chuishao")
    parser.add_argument("--skip-kb-lookup", action="store_true", help="do not run knowledge/bench.py")
    parser.add_argument("--kb-sizes", type=int, nargs="+", default=list(KB_SIZES),
                        help="generated knowledge-base sizes (default 1000 10000 100000)")
    parser.add_argument("--kb-repeat", type=int, default=20, help="times each lookup query is timed per size")
    parser.add_argument("--starter-dir", type=Path, default=None,
                        help="reuse/keep the starter bot here (reused without retraining if it has a model)")
    parser.add_argument("--out", type=Path, default=None, help="results file (default results/bench.json)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    require_loopback(args.rasa_url)
    messages = message_mix()
    result: dict = {
        "date": now_iso(),
        "cpu_count": os.cpu_count(),
        "message_mix": {"source": "eval/questions.yml", "distinct": len(messages), "shuffle_seed": 0},
        "bounds": {"messages_per_phase": args.messages, "seconds_per_phase": args.duration},
        "load": {}, "ratios": {}, "training": {}, "memory": {}, "knowledge_lookup": {},
    }

    # 1. Chuishao under load, then its memory (before training timing competes for the CPU).
    if args.skip_system:
        result["load"]["chuishao"] = {"skipped": "--skip-system"}
        result["memory"]["chuishao"] = {"skipped": "--skip-system"}
    elif not wait_until_up(f"{args.rasa_url.rstrip('/')}/", timeout=5):
        print(f"Chuishao is not reachable at {args.rasa_url}. Start it with `make run`, "
              "or pass --skip-system.", file=sys.stderr)
        return 2
    else:
        logger.info("chuishao: load through %s", args.rasa_url)
        result["load"]["chuishao"] = load_phases(args.rasa_url, messages, args)
        result["memory"]["chuishao"] = chuishao_processes(args.rasa_url, args.pids)

    # 2. Knowledge-base lookup.
    result["knowledge_lookup"] = ({"skipped": "--skip-kb-lookup"} if args.skip_kb_lookup
                                  else knowledge_lookup(args.kb_sizes, args.kb_repeat))

    # 3. Chuishao training time.
    result["training"]["chuishao"] = ({"skipped": "--skip-train-timing"} if args.skip_train_timing
                                      else time_chuishao_training(timeout=1800))

    # 4. The starter bot: build, train (timed), serve, load, memory, stop.
    if args.skip_starter:
        for key in ("load", "memory", "training"):
            result[key]["starter"] = {"skipped": "--skip-starter"}
    else:
        workdir = args.starter_dir or Path(tempfile.mkdtemp(prefix="chuishao-starter-"))
        bot = StarterBot(workdir)
        try:
            if bot.has_model():
                result["training"]["starter"] = {"skipped": f"reused the model in {workdir}"}
            else:
                result["training"]["starter"] = bot.init_and_train(timeout=1800)
            if not bot.has_model():
                result["load"]["starter"] = result["memory"]["starter"] = {"error": "no starter model"}
            elif not bot.start(timeout=300):
                error = {"error": "starter bot did not come up", "log_tail": log_tail(workdir / "run.log")}
                result["load"]["starter"] = result["memory"]["starter"] = error
            else:
                logger.info("starter: load through %s", bot.url)
                result["load"]["starter"] = load_phases(bot.url, messages, args)
                result["memory"]["starter"] = [{"process": "rasa run", **process_memory(bot.process.pid)}]
        finally:
            bot.stop()
            if args.starter_dir is None:
                shutil.rmtree(workdir, ignore_errors=True)

    chuishao, starter = result["load"].get("chuishao", {}), result["load"].get("starter", {})
    for users in map(str, USER_LEVELS):
        if users in chuishao and users in starter:
            result["ratios"][users] = {
                key: ratio(chuishao[users][key], starter[users][key])
                for key in ("messages_per_s", "p50_ms", "p95_ms")
            }

    print_report(result)
    path = write_results("bench.json", result, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
