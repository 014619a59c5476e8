"""`python -m bot run`: start Rasa, the action server and the web app, and supervise them.

Every output line of a child is printed with its name (`[rasa]`, `[actions]`, `[web]`) in one stream;
the runner's own lines start with `[chuishao]`. The runner waits until all three answer their health
checks, prints "Chuishao is up" and the URLs, and stops all three on SIGINT/SIGTERM/SIGHUP. If a child
dies, it stops the others and exits non-zero with the reason. It needs no terminal: stdin may be
closed, and it runs the same in the background of a script or CI.

Each child runs in its own process group (stopped as a group, so nothing it spawned survives) and
gets SIGTERM if the runner itself dies (Linux `PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Dict, List
from urllib.parse import unquote, urlsplit

import httpx
from pydantic import SecretStr

from bot.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent

RASA_STARTUP_SECONDS = 120.0  # Rasa imports TensorFlow and loads the model before it answers
ACTIONS_STARTUP_SECONDS = 60.0
WEB_STARTUP_SECONDS = 30.0
STOP_GRACE_SECONDS = 10.0
HEALTH_PROBE_TIMEOUT = 2.0

_PR_SET_PDEATHSIG = 1
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Service:
    """One supervised process."""

    name: str
    argv: List[str]
    health_url: str
    port: int
    port_setting: str
    host: str = "127.0.0.1"
    startup_timeout: float = 60.0
    env: Dict[str, str] = field(default_factory=dict)


def connect_host(bind_host: str) -> str:
    """The address to reach a server that listens on `bind_host`."""
    return "127.0.0.1" if bind_host in {"", "0.0.0.0", "::"} else bind_host


def rasa_env(settings: Settings) -> Dict[str, str]:
    """Variables that endpoints.yml, credentials.yml and Rasa itself read.

    Rasa's `${VAR}` substitution fails on an unset variable, so every variable endpoints.yml uses is
    always set here (an unused one, such as the Redis lock store's password, to a harmless default).
    `python -m bot env` prints these for scripts that start Rasa themselves (scripts/shell.sh).
    """
    redis = urlsplit(settings.redis_url or "redis://localhost:6379/1")
    redis_db = redis.path.lstrip("/") or "1"
    return {
        "ACTION_ENDPOINT_URL": str(settings.action_endpoint_url),
        "TRACKER_STORE_URL": settings.tracker_store_url,
        "LOCK_STORE_TYPE": settings.lock_store,
        "LOCK_STORE_HOST": redis.hostname or "localhost",
        "LOCK_STORE_PORT": str(redis.port or 6379),
        "LOCK_STORE_DB": redis_db,
        "LOCK_STORE_PASSWORD": unquote(redis.password or ""),
        "TICKET_LOCK_LIFETIME": str(settings.ticket_lock_lifetime_seconds),
        "RASA_TELEMETRY_ENABLED": "false",
    }


def sqlite_path(url: str, root: Path) -> Path | None:
    """The file of an SQLite URL (relative paths are relative to `root`), else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///") :])
    return path if path.is_absolute() else root / path


def find_model(model_path: Path, root: Path) -> Path | None:
    """The model Rasa would load from MODEL_PATH (a file, or the newest in a folder), if any."""
    path = model_path if model_path.is_absolute() else root / model_path
    if path.is_file():
        return path
    if path.is_dir():
        models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        return models[-1] if models else None
    return None


def default_services(settings: Settings, root: Path = REPO_ROOT) -> List[Service]:
    python = sys.executable
    token = settings.rasa_api_token.get_secret_value()
    internal = connect_host(settings.internal_host)
    return [
        Service(
            name="rasa",
            argv=[
                python,
                "-m",
                "rasa",
                "run",
                "--enable-api",
                # One argument: a token starting with "-" (token_urlsafe makes them) would otherwise
                # be taken for an option by argparse, and Rasa would refuse to start.
                f"--auth-token={token}",
                "--model",
                str(settings.model_path),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
                "--interface",
                settings.internal_host,
                "--port",
                str(settings.rasa_port),
            ],
            health_url=f"http://{internal}:{settings.rasa_port}/",
            port=settings.rasa_port,
            port_setting="RASA_PORT",
            host=settings.internal_host,
            startup_timeout=RASA_STARTUP_SECONDS,
        ),
        Service(
            name="actions",
            argv=[
                python,
                "-m",
                "rasa",
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(settings.action_port),
            ],
            health_url=f"http://{internal}:{settings.action_port}/health",
            port=settings.action_port,
            port_setting="ACTION_PORT",
            host=settings.internal_host,
            startup_timeout=ACTIONS_STARTUP_SECONDS,
            env={"SANIC_HOST": settings.internal_host},  # rasa_sdk's only way to choose the interface
        ),
        Service(
            name="web",
            argv=[python, "-m", "bot", "serve"],
            health_url=f"http://{connect_host(settings.bot_host)}:{settings.bot_port}/health",
            port=settings.bot_port,
            port_setting="BOT_PORT",
            host=settings.bot_host,
            startup_timeout=WEB_STARTUP_SECONDS,
        ),
    ]


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


class Runner:
    """Starts the services, waits for their health checks, and stops them together."""

    def __init__(
        self,
        settings: Settings,
        *,
        services: List[Service] | None = None,
        root: Path = REPO_ROOT,
        out: IO[str] | None = None,
        grace_seconds: float = STOP_GRACE_SECONDS,
        check_model: bool = True,
    ) -> None:
        self.settings = settings
        self.root = root
        self.out = out if out is not None else sys.stdout
        self.grace_seconds = grace_seconds
        self.check_model = check_model
        self.generated_token = False
        if not settings.rasa_api_token.get_secret_value() and settings.is_development:
            # A token for this run only: Rasa's API must never be open, not even on a laptop.
            self.settings = settings.copy(update={"rasa_api_token": SecretStr(secrets.token_urlsafe(24))})
            self.generated_token = True
        if not self.settings.internal_api_token.get_secret_value() and settings.is_development:
            # Likewise for the web app's internal API (action server -> handoff service).
            self.settings = self.settings.copy(
                update={"internal_api_token": SecretStr(secrets.token_urlsafe(24))}
            )
        self.services = services if services is not None else default_services(self.settings, root)
        self.processes: Dict[str, subprocess.Popen] = {}
        self.demo_lines: List[str] = []
        self._readers: List[threading.Thread] = []
        self._write_lock = threading.Lock()
        self._stop_signal: int | None = None
        self._wakeup = threading.Event()

    # -- output ------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._write(f"[chuishao] {line}")

    def _write(self, line: str) -> None:
        with self._write_lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):  # closed or broken stdout: keep supervising regardless
                pass

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        prefix = f"[{name}]"
        keep_colours = _is_terminal(self.out)
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            if not keep_colours:  # Rasa colours its warnings even when nobody reads them on a terminal
                line = _ANSI_ESCAPE.sub("", line)
            self._write(f"{prefix} {line}")
        stream.close()

    # -- lifecycle ----------------------------------------------------------------------------------

    def child_env(self, service: Service) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.to_env())
        env.update(rasa_env(self.settings))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), os.environ.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        # Quieter children: TensorFlow's C++ notices and SQLAlchemy's 2.0 migration warning are noise to
        # whoever runs the system; set these variables to see them again.
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        env.update(service.env)
        return env

    def preflight(self) -> str | None:
        """Why the services cannot start, or None."""
        if self.check_model and find_model(self.settings.model_path, self.root) is None:
            return f"No trained model at {self.settings.model_path} (MODEL_PATH). Train one first: make train"
        for service in self.services:
            family = socket.AF_INET6 if ":" in service.host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((service.host, service.port))
                except OSError:
                    return (
                        f"Port {service.port} ({service.port_setting}) on {service.host} is in use: "
                        f"is Chuishao already running? Stop it or set {service.port_setting}."
                    )
        for url in (self.settings.tracker_store_url, self.settings.database_url):
            path = sqlite_path(url, self.root)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        return None

    def seed_demo_accounts(self) -> str | None:
        """In development with DEMO_ACCOUNTS: migrate the database and (re)create the demo staff
        accounts with fresh passwords, shown by `announce`. Returns why it failed, or None."""
        if not (self.settings.is_development and self.settings.demo_accounts):
            return None
        from bot.deps import open_services
        from bot.seed import describe, seed_demo_accounts

        url = self.settings.database_url
        path = sqlite_path(url, self.root)
        settings = self.settings.copy(update={"database_url": f"sqlite:///{path}"}) if path else self.settings
        try:
            services = open_services(settings, migrate=True)
            try:
                self.demo_lines = describe(
                    seed_demo_accounts(services.tickets, services.session_factory), services.knowledge
                )
            finally:
                services.close()
        except Exception as error:  # the database is unusable: the web app would fail the same way
            return f"Could not prepare the database {url} (DATABASE_URL) for the demo accounts: {error}"
        return None

    def start(self) -> None:
        prctl = _load_prctl()

        def die_with_parent() -> None:  # runs in the child between fork and exec
            if prctl is not None:
                prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

        for service in self.services:
            self.processes[service.name] = subprocess.Popen(
                service.argv,
                cwd=self.root,
                env=self.child_env(service),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            self.say(f"started {service.name} (pid {self.processes[service.name].pid})")
        # Readers start after every fork: preexec_fn is only safe while no other thread runs.
        for service in self.services:
            reader = threading.Thread(
                target=self._pump,
                args=(service.name, self.processes[service.name].stdout),
                name=f"pump-{service.name}",
                daemon=True,
            )
            reader.start()
            self._readers.append(reader)

    def dead_service(self) -> str | None:
        for service in self.services:
            code = self.processes[service.name].poll()
            if code is not None:
                return f"{service.name} exited with code {code}"
        return None

    def wait_until_ready(self) -> str | None:
        """Poll every health check until all answer; the reason for giving up, or None."""
        started = time.monotonic()
        pending = {service.name: service for service in self.services}
        with httpx.Client(timeout=HEALTH_PROBE_TIMEOUT) as client:
            while pending:
                if self._stop_signal is not None:
                    return f"stopped by signal {signal.Signals(self._stop_signal).name} during start-up"
                dead = self.dead_service()
                if dead:
                    return f"{dead} during start-up"
                for name, service in list(pending.items()):
                    try:
                        if client.get(service.health_url).status_code == 200:
                            self.say(
                                f"{name} is ready ({service.health_url}) after "
                                f"{time.monotonic() - started:.0f} s"
                            )
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                    if name in pending and time.monotonic() - started > service.startup_timeout:
                        return (
                            f"{name} did not answer {service.health_url} within "
                            f"{service.startup_timeout:.0f} s"
                        )
                if pending:
                    self._wakeup.wait(0.5)
        return None

    def announce(self) -> None:
        s = self.settings
        rasa = f"http://{connect_host(s.internal_host)}:{s.rasa_port}"
        lines = [
            "Chuishao is up.",
            f"  web app:        http://{connect_host(s.bot_host)}:{s.bot_port}/  (health: /health)",
            f"  REST channel:   POST {rasa}/webhooks/rest/webhook",
            f"  Rasa API:       {rasa}/  (token: RASA_API_TOKEN)",
            f"  action server:  {s.action_server_url}/health  (Rasa calls {s.action_endpoint_url})",
        ]
        if self.generated_token:
            lines.append(f"  development API token for this run: {s.rasa_api_token.get_secret_value()}")
        if self.demo_lines:
            web = f"http://{connect_host(s.bot_host)}:{s.bot_port}"
            lines.append(f"  staff console:  {web}/console  (public 三亮 pages: {web}/departments)")
            lines.append("  demo accounts (new passwords every run; DEMO_ACCOUNTS=false to skip):")
            lines.extend(self.demo_lines)
        lines.append("Stop with Ctrl-C (or SIGTERM).")
        self.say("\n".join(lines))

    def supervise(self) -> int:
        """Block until a signal (exit 0) or a child's death (exit 1)."""
        while True:
            if self._stop_signal is not None:
                self.say(f"received {signal.Signals(self._stop_signal).name}; stopping")
                return 0
            dead = self.dead_service()
            if dead:
                self.say(f"{dead}; stopping the others")
                return 1
            self._wakeup.wait(0.5)

    def stop(self) -> None:
        """SIGTERM every process group, wait up to the grace period, then SIGKILL what is left."""
        running = {name: proc for name, proc in self.processes.items() if proc.poll() is None}
        for proc in running.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for name, proc in running.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop within {self.grace_seconds:.0f} s; killing it")
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGKILL)  # whatever the leader left behind in its group
            proc.wait()
        for reader in self._readers:
            reader.join(timeout=2)

    def request_stop(self, signum: int, _frame: object = None) -> None:
        self._stop_signal = signum
        self._wakeup.set()

    def run(self) -> int:
        """The whole life of the system; returns the exit code."""
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self.request_stop) for sig in handled}
        try:
            problem = self.preflight()
            if problem:
                self.say(problem)
                return 2
            problem = self.seed_demo_accounts()
            if problem:
                self.say(problem)
                return 1
            self.start()
            problem = self.wait_until_ready()
            if problem:
                self.say(f"Chuishao did not start: {problem}")
                return 0 if self._stop_signal is not None else 1
            self.announce()
            return self.supervise()
        finally:
            self.stop()
            self.say("stopped")
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # start_new_session: the child leads a process group whose id is its pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
