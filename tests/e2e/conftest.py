"""End-to-end fixtures: the real system, started with `python -m bot run` on free ports."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import psutil
import pytest

from bot.runner import find_model
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 240  # Rasa alone may take 120 s to import TensorFlow and load the model
PROBLEMS = re.compile(r"Traceback|\bERROR\b")
_senders = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_sender() -> str:
    return f"e2e-{os.getpid()}-{next(_senders)}"


@dataclass
class Reply:
    status: int
    body: Any
    seconds: float

    @property
    def messages(self) -> List[Dict[str, Any]]:
        assert isinstance(self.body, list), self.body
        return self.body

    @property
    def texts(self) -> List[str]:
        return [m["text"] for m in self.messages if m.get("text")]

    def payloads(self, kind: str | None = None) -> List[Dict[str, Any]]:
        found = [m["custom"] for m in self.messages if isinstance(m.get("custom"), dict)]
        return [p for p in found if kind is None or p.get("type") == kind]

    def payload(self, kind: str) -> Dict[str, Any]:
        found = self.payloads(kind)
        assert found, f"no {kind!r} payload in {self.body}"
        return found[0]


@dataclass
class System:
    process: subprocess.Popen
    log: Path
    rasa_url: str
    bot_url: str

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def mark(self) -> int:
        return len(self.output())

    def output_since(self, mark: int) -> str:
        return self.output()[mark:]

    def problems_since(self, mark: int, settle: float = 0.5) -> List[str]:
        """Lines with a traceback or an ERROR logged since `mark` (after letting the logs settle)."""
        time.sleep(settle)
        return [line for line in self.output_since(mark).splitlines() if PROBLEMS.search(line)]

    def send(self, sender: str, message: str, **extra: Any) -> Reply:
        started = time.monotonic()
        answer = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message, **extra},
            timeout=30,
        )
        return Reply(answer.status_code, answer.json(), time.monotonic() - started)

    def child(self, name: str) -> psutil.Process:
        """The runner's child process for `name` ("rasa", "actions", "web")."""
        match = re.search(rf"\[chuishao\] started {name} \(pid (\d+)\)", self.output())
        assert match, f"no pid for {name} in the log"
        return psutil.Process(int(match.group(1)))


def model_path() -> Path:
    """MODEL_PATH from the environment if set (a model trained elsewhere), else models/."""
    return Path(os.environ.get("MODEL_PATH") or ROOT / "models")


def _system_env(tmp: Path, overrides: Dict[str, str]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.__fields__}
    env.update(
        CHUISHAO_ENV="test",
        RASA_API_TOKEN=secrets.token_urlsafe(24),
        INTERNAL_API_TOKEN=secrets.token_urlsafe(24),
        OUTBOX_PATH=str(tmp / "outbox.db"),
        RASA_PORT=str(free_port()),
        ACTION_PORT=str(free_port()),
        BOT_PORT=str(free_port()),
        TRACKER_STORE_URL=f"sqlite:///{tmp}/rasa-tracker.db",
        DATABASE_URL=f"sqlite:///{tmp}/chuishao.db",
        MODEL_PATH=str(model_path()),
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    env.update(overrides)
    return env


def start_system(tmp: Path, **overrides: str) -> System:
    env = _system_env(tmp, overrides)
    log = tmp / "system.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal, as in CI
        stdout=log.open("w", encoding="utf-8"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    system = System(
        process, log, f"http://127.0.0.1:{env['RASA_PORT']}", f"http://127.0.0.1:{env['BOT_PORT']}"
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while "Chuishao is up" not in system.output():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_system(system)
            tail = "\n".join(system.output().splitlines()[-60:])
            pytest.fail(f"`python -m bot run` did not start (exit code {process.poll()}):\n{tail}")
        time.sleep(0.5)
    return system


def stop_system(system: System) -> None:
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGTERM)
        try:
            system.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            system.process.kill()
            system.process.wait()


def require_model() -> None:
    if find_model(model_path(), ROOT) is None:
        pytest.skip(f"no trained model in {model_path()}: run `make train` (make pytest trains first)")


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One real system for the whole session, stopped with SIGTERM at its end."""
    require_model()
    running = start_system(tmp_path_factory.mktemp("system"))
    yield running
    stop_system(running)


@pytest.fixture(scope="module")
def system_without_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A second system whose Rasa posts actions to a closed port (connection refused)."""
    require_model()
    closed = free_port()
    running = start_system(
        tmp_path_factory.mktemp("no-actions"), ACTION_ENDPOINT_URL=f"http://127.0.0.1:{closed}/webhook"
    )
    yield running
    stop_system(running)
