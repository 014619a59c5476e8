"""Two Rasa instances sharing Redis: a staff reply reaches a widget user whose socket is on the other one.

Rasa's own socketio channel cannot do this (`get_output_channel()` is None outside the process holding
the socket). Both instances run our channel with REDIS_URL; the widget user connects to instance A; then
(1) the web app's push (`SocketIOPush`, from this test process, which runs no socket.io server) and
(2) Rasa's tracker-events API on instance B with `output_channel=socketio` both reach the socket on A.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import httpx
import pytest
import redis

from bot.channels.socketio_push import SocketIOPush, staff_reply_message
from bot.runner import default_services, rasa_env
from bot.settings import Settings
from tests.e2e.conftest import ROOT, free_port, model_path, require_model
from tests.e2e.test_socketio_rasa import Widget

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/14"
STARTUP_SECONDS = 240
TOKEN = "two-instances-test-token"


def start_rasa(tmp: Path, name: str) -> Tuple[subprocess.Popen, str, Path]:
    port = free_port()
    settings = Settings(
        _env_file=None,
        chuishao_env="test",
        rasa_api_token=TOKEN,
        internal_api_token="two-instances-internal",
        rasa_port=port,
        action_port=free_port(),  # nothing listens there: this test needs no custom action
        redis_url=REDIS_URL,
        lock_store="redis",
        tracker_store_url=f"sqlite:///{tmp}/tracker.db",  # one tracker store for both, as in production
        model_path=model_path(),
    )
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.__fields__}
    env.update(settings.to_env())
    env.update(rasa_env(settings))
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    rasa = next(s for s in default_services(settings, ROOT) if s.name == "rasa")
    log = tmp / f"rasa-{name}.log"
    process = subprocess.Popen(
        rasa.argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w", encoding="utf-8"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}", log


def wait_until_up(instances: List[Tuple[subprocess.Popen, str, Path]]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    waiting = list(instances)
    while waiting:
        process, url, log = waiting[0]
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
            pytest.fail(f"Rasa at {url} did not start (exit code {process.poll()}):\n{tail}")
        try:
            if httpx.get(f"{url}/webhooks/socketio/", timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, str]]:
    require_model()
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"this test needs Redis on 127.0.0.1:6379: {error}")
    tmp = tmp_path_factory.mktemp("two-instances")
    instances = [start_rasa(tmp, "a"), start_rasa(tmp, "b")]  # both load the model at the same time
    try:
        wait_until_up(instances)
        yield instances[0][1], instances[1][1]
    finally:
        for process, _, _ in instances:
            stop(process)


async def test_staff_reply_reaches_a_socket_on_the_other_instance(two_instances: Tuple[str, str]) -> None:
    url_a, url_b = two_instances
    widget = Widget()
    session = await widget.open(url_a)

    # (1) The web app's push: this process has no socket.io server, only Redis.
    push = SocketIOPush(REDIS_URL)
    staff = staff_reply_message(
        "您好，变更法定代表人需提交备案变更申请表和新法定代表人身份证明。",
        ticket_id="HZ-20261126-0042",
        staff_name="张明",
        staff_number="HZ-SJ-0012",
        department="hz-amr",
        department_name="菏泽市市场监督管理局",
        message_id=42,
    )
    result = await push.push(session, staff)
    await push.close()
    assert result.delivered, result.error
    assert result.listeners >= 1
    assert await widget.next_event(15) == staff

    # (2) Rasa's API on instance B, which does not hold the socket.
    answer = httpx.post(
        f"{url_b}/conversations/{session}/tracker/events",
        params={"output_channel": "socketio", "execute_side_effects": "true", "token": TOKEN},
        json=[
            {"event": "bot", "text": "工作人员已接单，请稍候。", "data": {"custom": {"type": "staff_note"}}}
        ],
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    got = await widget.next_event(15)
    assert got == {"text": "工作人员已接单，请稍候。", "custom": {"type": "staff_note"}}
    await widget.close()
