"""A bounded closed-loop load generator for Rasa's REST channel, and process helpers for the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from eval.metrics import percentile
from eval.rest import WEBHOOK_PATH, new_sender_id, require_loopback


@dataclass
class LoadResult:
    users: int
    sent: int
    ok: int
    errors: int
    seconds: float
    messages_per_s: float | None
    p50_ms: float | None
    p95_ms: float | None

    def as_dict(self) -> dict:
        return asdict(self)


async def run_load(base_url: str, messages: Sequence[str], users: int, max_messages: int,
                   max_seconds: float, session_turns: int = 5, timeout: float = 30.0,
                   transport: httpx.AsyncBaseTransport | None = None) -> LoadResult:
    """``users`` concurrent users, each sending the next message of the fixed mix as soon as the
    previous reply arrived (a new conversation every ``session_turns`` messages), until
    ``max_messages`` were sent or ``max_seconds`` passed. Latency counts only successful replies."""
    require_loopback(base_url)
    if not messages:
        raise ValueError("no messages to send")
    url = base_url.rstrip("/") + WEBHOOK_PATH
    latencies: list[float] = []
    counters = {"next": 0, "errors": 0}

    limits = httpx.Limits(max_connections=users)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def user(number: int) -> None:
            turns, sender = 0, new_sender_id(f"bench-u{number}")
            while counters["next"] < max_messages and time.perf_counter() < deadline:
                text = messages[counters["next"] % len(messages)]
                counters["next"] += 1
                if turns == session_turns:
                    turns, sender = 0, new_sender_id(f"bench-u{number}")
                turns += 1
                sent_at = time.perf_counter()
                try:
                    response = await client.post(url, json={"sender": sender, "message": text})
                    ok = response.is_success and isinstance(response.json(), list)
                except (httpx.HTTPError, ValueError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - sent_at)
                else:
                    counters["errors"] += 1

        await asyncio.gather(*(user(n) for n in range(users)))
        elapsed = time.perf_counter() - started

    ms = [1000 * x for x in latencies]
    return LoadResult(
        users=users, sent=counters["next"], ok=len(latencies), errors=counters["errors"],
        seconds=round(elapsed, 2),
        messages_per_s=round(len(latencies) / elapsed, 2) if elapsed > 0 and latencies else None,
        p50_ms=_round(percentile(ms, 50)), p95_ms=_round(percentile(ms, 95)),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, timeout: float, process: subprocess.Popen | None = None) -> bool:
    """Poll ``GET url`` until it answers 2xx, the process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).is_success:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    return False


def stop_process_group(process: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop a child started with ``start_new_session=True`` (its own process group) and its children."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass


def listening_pids(ports: Sequence[int]) -> dict[int, int]:
    """Port -> pid of the process listening on it (TCP), for the ports that have one."""
    found: dict[int, int] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
            found.setdefault(conn.laddr.port, conn.pid)
    return found


def process_memory(pid: int) -> dict:
    """RSS of a process and of it together with its descendants, in MiB."""
    proc = psutil.Process(pid)
    own = proc.memory_info().rss
    total = own
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    cmdline = " ".join(proc.cmdline())
    return {
        "pid": pid,
        "command": cmdline[:160],
        "rss_mib": round(own / 2**20, 1),
        "rss_with_children_mib": round(total / 2**20, 1),
    }


def rasa_env() -> dict[str, str]:
    """The environment for Rasa subprocesses: telemetry off, nothing leaves the machine."""
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def timed_run(command: Sequence[str], cwd: Path, timeout: float, log: Path) -> tuple[float, int]:
    """Run a command to completion, its output to ``log``; returns (seconds, exit code)."""
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(list(command), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              env=rasa_env())
    return time.perf_counter() - started, done.returncode


def log_tail(log: Path, chars: int = 1500) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""
