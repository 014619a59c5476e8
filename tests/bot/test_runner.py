"""The process runner, with small fake services in place of Rasa, the action server and the web app."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, List

import httpx
import pytest

from bot.runner import Runner, Service, default_services, find_model, rasa_env

REPO_ROOT = Path(__file__).resolve().parents[2]

FAKE_SERVICE = textwrap.dedent(
    '''
    """A stand-in service: prints, serves GET /health, and reacts to SIGTERM as told."""
    import argparse, http.server, os, signal, subprocess, sys, threading, time

    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("port", type=int)
    parser.add_argument("--ready-after", type=float, default=0)
    parser.add_argument("--die-after", type=float)
    parser.add_argument("--exit-code", type=int, default=3)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchild-pidfile")
    parser.add_argument("--never-ready", action="store_true")
    args = parser.parse_args()

    print(f"hello from {args.name}", flush=True)
    print(f"a warning from {args.name}", file=sys.stderr, flush=True)
    print(f"stdin is closed: {sys.stdin.read() == ''}", flush=True)

    def on_term(signum, frame):
        print("bye", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else on_term)
    if args.grandchild_pidfile:
        child = subprocess.Popen(["sleep", "300"])
        with open(args.grandchild_pidfile, "w") as f:
            f.write(str(child.pid))
    if args.die_after is not None:
        threading.Timer(args.die_after, lambda: os._exit(args.exit_code)).start()
    if args.never_ready:
        while True:
            time.sleep(1)
    time.sleep(args.ready_after)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    http.server.HTTPServer(("127.0.0.1", args.port), Health).serve_forever()
    '''
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Output(io.StringIO):
    """What the runner printed; thread-safe enough for reading while it writes."""

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.getvalue():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.getvalue()}")
            time.sleep(0.05)


@pytest.fixture
def fake_service(tmp_path: Path) -> Callable[..., Service]:
    script = tmp_path / "fake_service.py"
    script.write_text(FAKE_SERVICE, encoding="utf-8")

    def make(name: str, *flags: str, startup_timeout: float = 20) -> Service:
        port = free_port()
        return Service(
            name=name,
            argv=[sys.executable, str(script), name, str(port), *flags],
            health_url=f"http://127.0.0.1:{port}/health",
            port=port,
            port_setting=f"{name.upper()}_PORT",
            startup_timeout=startup_timeout,
        )

    return make


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists": count it as dead
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def send_when(out: Output, text: str, sig: int) -> threading.Thread:
    """Send `sig` to this process once `text` was printed (the runner's handler is installed then)."""

    def wait_and_signal() -> None:
        out.wait_for(text)
        os.kill(os.getpid(), sig)

    thread = threading.Thread(target=wait_and_signal, daemon=True)
    thread.start()
    return thread


def test_runs_prefixes_output_and_stops_cleanly_on_sigterm(make_settings, fake_service, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    services = [
        fake_service("rasa", "--ready-after", "1", "--grandchild-pidfile", str(pidfile)),
        fake_service("actions"),
        fake_service("web"),
    ]
    out = Output()
    runner = Runner(make_settings(), services=services, out=out, root=tmp_path, check_model=False)
    send_when(out, "Chuishao is up", signal.SIGTERM)

    code = runner.run()

    printed = out.getvalue()
    assert code == 0, printed
    for name in ("rasa", "actions", "web"):
        assert f"[{name}] hello from {name}" in printed
        assert f"[{name}] a warning from {name}" in printed  # stderr joins the same stream
        assert f"[{name}] stdin is closed: True" in printed
        assert f"[{name}] bye" in printed  # stopped with SIGTERM, and said so
        assert f"[chuishao] {name} is ready" in printed
        assert runner.processes[name].poll() is not None
    assert "[chuishao] Chuishao is up." in printed
    assert printed.index("Chuishao is up") > printed.index("[chuishao] rasa is ready")
    assert "received SIGTERM; stopping" in printed
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(grandchild), "the process group of a child was not stopped"
    for service in services:  # every port is free again (for a server, which reuses TIME_WAIT ports)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", service.port))


def test_child_death_stops_the_others_and_exits_non_zero(make_settings, fake_service, tmp_path):
    services = [fake_service("rasa"), fake_service("actions", "--die-after", "1.5", "--exit-code", "3")]
    out = Output()
    runner = Runner(make_settings(), services=services, out=out, root=tmp_path, check_model=False)

    code = runner.run()

    printed = out.getvalue()
    assert code == 1, printed
    assert "Chuishao is up" in printed
    assert "[chuishao] actions exited with code 3; stopping the others" in printed
    assert "[rasa] bye" in printed
    assert all(process.poll() is not None for process in runner.processes.values())


def test_child_death_during_start_up_is_reported(make_settings, fake_service, tmp_path):
    services = [
        fake_service("rasa", "--never-ready"),
        fake_service("actions", "--die-after", "0.2", "--exit-code", "2", "--never-ready"),
    ]
    out = Output()
    runner = Runner(make_settings(), services=services, out=out, root=tmp_path, check_model=False)

    assert runner.run() == 1
    assert "Chuishao did not start: actions exited with code 2 during start-up" in out.getvalue()
    assert "Chuishao is up" not in out.getvalue()


def test_a_service_that_never_answers_fails_the_start(make_settings, fake_service, tmp_path):
    services = [fake_service("rasa", "--never-ready", startup_timeout=1)]
    out = Output()
    runner = Runner(make_settings(), services=services, out=out, root=tmp_path, check_model=False)

    assert runner.run() == 1
    assert f"rasa did not answer {services[0].health_url} within 1 s" in out.getvalue()
    assert runner.processes["rasa"].poll() is not None


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(make_settings, fake_service, tmp_path):
    services = [fake_service("rasa", "--ignore-term")]
    out = Output()
    runner = Runner(
        make_settings(), services=services, out=out, root=tmp_path, check_model=False, grace_seconds=1
    )
    send_when(out, "Chuishao is up", signal.SIGINT)

    started = time.monotonic()
    assert runner.run() == 0
    assert time.monotonic() - started < 15
    assert "rasa did not stop within 1 s; killing it" in out.getvalue()
    assert runner.processes["rasa"].returncode == -signal.SIGKILL


def test_busy_port_is_refused_before_starting_anything(make_settings, fake_service, tmp_path):
    service = fake_service("rasa")
    out = Output()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", service.port))
        taken.listen()
        runner = Runner(make_settings(), services=[service], out=out, root=tmp_path, check_model=False)
        assert runner.run() == 2
    assert f"Port {service.port} (RASA_PORT) on 127.0.0.1 is in use" in out.getvalue()
    assert runner.processes == {}


def test_missing_model_is_refused_with_advice(make_settings, tmp_path):
    out = Output()
    runner = Runner(make_settings(model_path=tmp_path / "models"), services=[], out=out, root=tmp_path)
    assert runner.run() == 2
    assert "No trained model" in out.getvalue() and "make train" in out.getvalue()


def test_find_model_takes_a_file_or_the_newest_in_a_folder(tmp_path):
    models = tmp_path / "models"
    assert find_model(Path("models"), tmp_path) is None
    models.mkdir()
    assert find_model(Path("models"), tmp_path) is None
    old, new = models / "old.tar.gz", models / "new.tar.gz"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (1, 1))
    assert find_model(Path("models"), tmp_path) == new
    assert find_model(old, tmp_path) == old


def test_child_environment_carries_settings_and_rasa_variables(make_settings, tmp_path):
    settings = make_settings(action_timeout_seconds=2, tracker_store_url="sqlite:///var/t.db")
    runner = Runner(settings, root=tmp_path)
    rasa, actions, web = runner.services

    env = runner.child_env(actions)

    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path)
    assert env["ACTION_ENDPOINT_URL"] == f"http://127.0.0.1:{settings.action_port}/webhook"
    assert env["TICKET_LOCK_LIFETIME"] == "60"
    assert env["ACTION_TIMEOUT_SECONDS"] == "2.0"
    assert env["TRACKER_STORE_URL"] == "sqlite:///var/t.db"
    assert env["LOCK_STORE_TYPE"] == "in_memory"
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["RASA_API_TOKEN"] == "test-token"
    assert env["SANIC_HOST"] == "127.0.0.1"  # rasa_sdk's interface
    assert "SANIC_HOST" not in runner.child_env(web)


def test_every_variable_of_endpoints_yml_is_set(make_settings):
    lines = (REPO_ROOT / "endpoints.yml").read_text(encoding="utf-8").splitlines()
    settings_lines = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{(\w+)\}", settings_lines))
    assert used and used <= set(rasa_env(make_settings()))


def test_redis_lock_store_variables_come_from_redis_url(make_settings):
    env = rasa_env(make_settings(lock_store="redis", redis_url="redis://:s%40cret@cache:6380/4"))
    assert env["LOCK_STORE_TYPE"] == "redis"
    assert (env["LOCK_STORE_HOST"], env["LOCK_STORE_PORT"]) == ("cache", "6380")
    assert (env["LOCK_STORE_DB"], env["LOCK_STORE_PASSWORD"]) == ("4", "s@cret")


def test_default_services_use_the_settings(make_settings):
    settings = make_settings(bot_port=free_port(), model_path="models/chuishao.tar.gz")
    rasa, actions, web = default_services(settings)

    assert rasa.argv[1:4] == ["-m", "rasa", "run"]
    assert "--auth-token=test-token" in rasa.argv
    for flag, value in [
        ("--model", "models/chuishao.tar.gz"),
        ("--port", str(settings.rasa_port)),
        ("--credentials", "credentials.yml"),
        ("--endpoints", "endpoints.yml"),
    ]:
        assert rasa.argv[rasa.argv.index(flag) + 1] == value
    assert "--enable-api" in rasa.argv
    assert rasa.health_url == f"http://127.0.0.1:{settings.rasa_port}/"
    assert rasa.startup_timeout == 120
    assert actions.argv[-2:] == ["--port", str(settings.action_port)]
    assert actions.health_url == f"http://127.0.0.1:{settings.action_port}/health"
    assert web.argv[-2:] == ["bot", "serve"]
    assert web.health_url == f"http://127.0.0.1:{settings.bot_port}/health"


def test_development_run_gets_a_generated_token(make_settings, tmp_path):
    runner = Runner(make_settings(chuishao_env="development", rasa_api_token=""), root=tmp_path)
    token = runner.settings.rasa_api_token.get_secret_value()
    assert len(token) >= 24 and runner.generated_token
    assert f"--auth-token={token}" in runner.services[0].argv


def test_a_token_starting_with_a_dash_reaches_rasa_as_one_argument(make_settings):
    import argparse

    from rasa.cli.arguments.run import add_server_arguments  # the parser `rasa run` uses

    rasa, _, _ = default_services(make_settings(rasa_api_token="-starts-with-a-dash"))
    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    parsed, _ = parser.parse_known_args(rasa.argv[4:])
    assert parsed.auth_token == "-starts-with-a-dash"


# -- the runner as its own process: no terminal, signals, and its own death ---------------------------

DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from bot.runner import Runner, Service
    from bot.settings import Settings

    script, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    services = [
        Service(name=f"svc{i}", argv=[sys.executable, script, f"svc{i}", str(port)],
                health_url=f"http://127.0.0.1:{port}/health", port=port, port_setting="X_PORT")
        for i, port in enumerate(ports)
    ]
    runner = Runner(Settings(_env_file=None, chuishao_env="test", rasa_api_token="t", internal_api_token="i"),
                    services=services, root=Path.cwd(), check_model=False)
    sys.exit(runner.run())
    """
)


@pytest.fixture
def start_driver(tmp_path: Path) -> Callable[[], tuple]:
    (tmp_path / "fake_service.py").write_text(FAKE_SERVICE, encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    started: List[subprocess.Popen] = []

    def start() -> tuple:
        log = tmp_path / f"driver-{len(started)}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                str(tmp_path / "driver.py"),
                str(tmp_path / "fake_service.py"),
                str(free_port()),
                str(free_port()),
            ],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as from a script in the background: no terminal
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while "Chuishao is up" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        pids = [int(line.split("(pid ")[1].rstrip(")")) for line in text.splitlines() if "(pid " in line]
        return process, log, pids

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_background_runner_stops_everything_on_a_signal(start_driver, sig):
    process, log, pids = start_driver()

    process.send_signal(sig)

    assert process.wait(timeout=20) == 0, log.read_text()
    assert f"received {signal.Signals(sig).name}; stopping" in log.read_text()
    assert not any(pid_alive(pid) for pid in pids)


def test_children_die_with_a_killed_runner(start_driver):
    process, log, pids = start_driver()

    process.kill()  # no chance to clean up: the children get SIGTERM from the kernel
    process.wait()

    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in pids)


# -- the command line --------------------------------------------------------------------------------


def run_cli(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO_ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_run_without_a_model_says_how_to_get_one(tmp_path):
    done = run_cli("run", env={"MODEL_PATH": str(tmp_path / "none"), "RASA_PORT": str(free_port())})
    assert done.returncode == 2
    assert "No trained model" in done.stdout


def test_cli_refuses_unsafe_production_settings():
    done = run_cli(
        "serve",
        env={"CHUISHAO_ENV": "production", "RASA_API_TOKEN": "changeme", "INTERNAL_API_TOKEN": "changeme"},
    )
    assert done.returncode == 2
    assert "RASA_API_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_cli_env_prints_shell_exports():
    done = run_cli("env", env={"ACTION_PORT": "6123"})
    assert done.returncode == 0
    assert "export ACTION_ENDPOINT_URL=http://127.0.0.1:6123/webhook" in done.stdout.splitlines()
    shell = subprocess.run(
        ["bash", "-c", done.stdout + '\necho "$LOCK_STORE_PASSWORD|$TRACKER_STORE_URL"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == "|sqlite:///var/rasa-tracker.db"


def test_cli_serve_answers_health_and_stops_on_sigterm():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=REPO_ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO_ROOT),
            "BOT_PORT": str(port),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.json()["status"] == "degraded"
        process.terminate()
        assert process.wait(timeout=10) == 0
        output = process.stdout.read()
        assert "Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()
