"""The issue-3 handoff journey through the real system (Rasa, action server, web app) on PostgreSQL.

One system is started for the module, with HANDOFF_URL pointing at a second web app (`python -m bot
serve`, same database and tokens) that the tests stop and start: the action server's handoff service
can then be taken down while Rasa and the staff-facing web app keep running. Staff work through the
system's own web app and its JSON API; the enterprise talks to Rasa's REST channel, or to the WeChat
bridge of the system's web app (a fake WeChat API on 127.0.0.1 receives what is sent to the user).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List

import httpx
import pytest

from bot.db.migrate import upgrade
from knowledge import KnowledgeBase
from tests.e2e.conftest import (
    PROBLEMS,
    ROOT,
    Reply,
    System,
    _system_env,
    free_port,
    new_sender,
    require_model,
    start_system,
    stop_system,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

TICKET_ID = re.compile(r"^HZ-\d{8}-\d{4}$")
PASSWORD = "journey-pass-1"
QUESTION = "二类医疗器械经营备案变更法人要什么材料"
PROCEDURE = "md2-operating-record-change"
STAFF_REPLY = "您好，变更法定代表人需提交变更备案表、新法定代表人身份证明和任职文件，可在线提交。"
NO_MATCH_QUESTION = "厂区门口的道路被占用了，找谁反映"
WHILE_PAUSED = "我们已经准备好身份证复印件了，还需要别的吗"
# The outbox retries every 15 s, with a 15 s back-off after a failure (actions/clients/outbox.py).
OUTBOX_WAIT_SECONDS = 90
FORM_ANSWERS = {
    "company_name": "菏泽牡丹医疗器械有限公司",
    "credit_code": "跳过",
    "contact_name": "张三",
    "mobile": "13912345678",
    "description": "二类医疗器械经营备案变更法定代表人，窗口说材料不全，不知道还缺什么",
    "description_confirmed": "是的",
    "department_confirmed": "确认",
}


@dataclass
class HandoffApp:
    """The web app the action server posts tickets to (HANDOFF_URL); stopped and started by tests."""

    env: Dict[str, str]
    log: Path
    url: str
    process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("a", encoding="utf-8"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, f"the handoff web app exited:\n{self.output()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the handoff web app did not answer /health within 60 s"
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


@dataclass
class WeChatAccount:
    """The Official Account the system is configured with; its fake API listens on `api_port`."""

    api_port: int
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    appid: str = field(default_factory=lambda: f"wx{secrets.token_hex(8)}")
    secret: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class Journey:
    system: System
    handoff: HandoffApp
    env: Dict[str, str]
    wechat: WeChatAccount

    def add_user(self, username: str, department: str, role: str, name: str, number: str) -> None:
        """`python -m bot users add` against the system's DATABASE_URL, password on stdin."""
        done = subprocess.run(
            [sys.executable, "-m", "bot", "users", "add", username, "--department", department,
             "--role", role, "--name", name, "--number", number],
            cwd=ROOT,
            env=self.env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def problems(self, system_mark: int, handoff_mark: int) -> List[str]:
        time.sleep(0.5)
        lines = self.system.output_since(system_mark).splitlines()
        lines += self.handoff.output()[handoff_mark:].splitlines()
        return [line for line in lines if PROBLEMS.search(line)]


class Staff:
    """A staff member's JSON API session on the system's web app.

    Outside development the session cookie is Secure, which an HTTP client keeps off plain http, so
    the cookie is sent by hand, as a browser on localhost would.
    """

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        answer = httpx.post(f"{url}/api/login", json={"username": username, "password": PASSWORD}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.user = answer.json()["user"]
        self.headers = {
            "Cookie": f"chuishao_session={answer.cookies['chuishao_session']}",
            "X-CSRF-Token": answer.json()["csrf_token"],
        }

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=self.headers, timeout=30)

    def post(self, path: str, body: Dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body or {}, headers=self.headers, timeout=30)


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> Iterator[Journey]:
    require_model()
    tmp = tmp_path_factory.mktemp("handoff-journey")
    database_url = postgres_server.create()
    upgrade(database_url)  # before two web apps start on it
    handoff_port = free_port()
    journey_wechat = WeChatAccount(free_port())
    overrides = {
        "DATABASE_URL": database_url,
        "RASA_API_TOKEN": secrets.token_urlsafe(24),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(24),
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": str(free_port()),
        "BOT_PORT": str(free_port()),
        "HANDOFF_URL": f"http://127.0.0.1:{handoff_port}",
        "WECHAT_TOKEN": journey_wechat.token,
        "WECHAT_APPID": journey_wechat.appid,
        "WECHAT_APP_SECRET": journey_wechat.secret,
        "WECHAT_API_BASE": f"http://127.0.0.1:{journey_wechat.api_port}/cgi-bin/",
    }
    env = _system_env(tmp, overrides)
    handoff = HandoffApp(
        {**env, "BOT_PORT": str(handoff_port)}, tmp / "handoff-app.log", f"http://127.0.0.1:{handoff_port}"
    )
    handoff.start()
    system = None
    try:
        system = start_system(tmp, **overrides)
        yield Journey(system, handoff, env, journey_wechat)
    finally:
        if system is not None:
            stop_system(system)
        handoff.stop()
        postgres_server.drop(database_url)


def form_prompt(reply: Reply) -> str | None:
    """The slot the handoff form asks for in this reply, if any."""
    found = reply.payloads("handoff_form")
    return found[-1]["slot"] if found else None


def fill_form(
    system: System, sender: str, first: Reply, answers: Dict[str, str], *, stop_on_invalid: bool = False
) -> tuple[Reply, List[str]]:
    """Answer the form's prompts until it submits (or refuses an answer, with `stop_on_invalid`);
    returns the last reply and the slots asked, in order."""
    asked: List[str] = []
    reply = first
    for _ in range(12):
        slot = form_prompt(reply)
        if slot is None or (stop_on_invalid and reply.payloads("handoff_invalid")):
            return reply, asked
        assert reply.texts, f"a prompt without text: {reply.body}"
        asked.append(slot)
        reply = system.send(sender, answers[slot])
        assert reply.status == 200
    pytest.fail(f"the form kept asking: {asked}")


def test_handoff_claim_reply_resolve_feedback_and_status(journey: Journey) -> None:
    system = journey.system
    mark, handoff_mark = system.mark(), len(journey.handoff.output())
    sender = new_sender()

    answer = system.send(sender, QUESTION)
    assert answer.payload("procedure_answer")["aspect"] == "materials"

    start = system.send(sender, "转人工")
    assert start.texts and form_prompt(start) == "company_name", start.body
    reply, asked = fill_form(
        system, sender, start, {**FORM_ANSWERS, "mobile": "12345"}, stop_on_invalid=True
    )
    # The invalid mobile number is refused with a reason, and asked again.
    assert asked[-1] == "mobile", asked
    assert reply.payload("handoff_invalid")["slot"] == "mobile"
    assert form_prompt(reply) == "mobile"
    reply, more = fill_form(system, sender, reply, FORM_ANSWERS)
    asked += more
    # Only what was missing is asked: the question itself was already in the conversation.
    assert asked[:4] == ["company_name", "credit_code", "contact_name", "mobile"]
    assert "description" not in asked and asked[-1] == "department_confirmed"

    ticket = reply.payload("handoff_ticket")["ticket"]
    assert TICKET_ID.match(ticket["id"]), ticket
    assert dt.datetime.fromisoformat(ticket["due"]) > dt.datetime.now(dt.timezone.utc)
    assert any(ticket["id"] in text for text in reply.texts)
    # Routed to the department of the procedure in context.
    knowledge = KnowledgeBase.load()
    department = ticket["department"]
    assert department == knowledge.department_of(knowledge.procedure(PROCEDURE)).code
    other = "hz-tax" if department != "hz-tax" else "hz-rsj"

    journey.add_user("journey-staff", department, "staff", "王晓明", "JR-0101")
    journey.add_user("journey-other", other, "staff", "李四", "JR-0202")
    staff = Staff(system.bot_url, "journey-staff")
    outsider = Staff(system.bot_url, "journey-other")

    queue = staff.get("/api/tickets").json()["tickets"]
    assert ticket["id"] in [t["id"] for t in queue]
    detail = staff.get(f"/api/tickets/{ticket['id']}").json()["ticket"]
    assert detail["company_name"] == FORM_ANSWERS["company_name"]
    assert detail["mobile"] == FORM_ANSWERS["mobile"] and detail["contact_name"] == "张三"
    assert detail["conversation_id"] == sender and detail["channel"] == "rest"
    assert ticket["department_name"] == detail["department_name"] != department
    assert detail["procedure"]["id"] == PROCEDURE
    assert QUESTION in detail["question"]
    assert any(line["text"] == QUESTION for line in detail["transcript"])
    assert outsider.get(f"/api/tickets/{ticket['id']}").status_code == 404
    assert ticket["id"] not in [t["id"] for t in outsider.get("/api/tickets").json()["tickets"]]
    assert outsider.post(f"/api/tickets/{ticket['id']}/claim").status_code == 404

    assert staff.post(f"/api/tickets/{ticket['id']}/claim").status_code == 200
    paused = system.send(sender, WHILE_PAUSED)
    assert paused.payloads() == [{"type": "handoff_paused"}], paused.body
    assert len(paused.texts) == 1

    replied = staff.post(f"/api/tickets/{ticket['id']}/reply", {"text": STAFF_REPLY})
    assert replied.status_code == 200, replied.text
    messages_url = f"{system.bot_url}/api/conversations/{sender}/messages"
    polled = httpx.get(messages_url, timeout=30).json()
    out = [m for m in polled["messages"] if m["direction"] == "out"]
    assert [m["text"] for m in out] == [STAFF_REPLY]
    assert out[0]["ticket"] == ticket["id"]
    assert out[0]["staff"]["name"] == "王晓明" and out[0]["staff"]["number"] == "JR-0101"
    assert out[0]["staff"]["department"] == department and out[0]["staff"]["department_name"]
    messages = staff.get(f"/api/tickets/{ticket['id']}").json()["ticket"]["messages"]
    assert WHILE_PAUSED in [m["text"] for m in messages if m["direction"] == "in"]

    assert staff.post(f"/api/tickets/{ticket['id']}/resolve", {"note": "已电话告知"}).status_code == 200
    cursor = polled["cursor"]
    later = httpx.get(messages_url, params={"after": cursor}, timeout=30).json()
    bot_texts = [m["text"] for m in later["messages"] if m["direction"] == "bot"]
    assert any(ticket["id"] in text and "解决" in text for text in bot_texts), later

    rating = system.send(sender, "已解决")
    assert rating.payload("feedback_request")["ask"] == "rating", rating.body
    saved = system.send(sender, "5")
    assert saved.payload("feedback_saved")["saved"] is True, saved.body
    resolved = staff.get(f"/api/tickets/{ticket['id']}").json()["ticket"]
    assert resolved["status"] == "resolved"
    assert resolved["outcome_solved"] is True and resolved["rating"] == 5

    status = system.send(sender, "我的工单怎么样了").payload("ticket_status")
    shown = {t["id"]: t for t in status["tickets"]}
    assert shown[ticket["id"]]["status"] == "resolved"
    assert shown[ticket["id"]]["latest_reply"]["text"] == STAFF_REPLY
    assert shown[ticket["id"]]["latest_reply"]["staff"]["number"] == "JR-0101"
    stranger = system.send(new_sender(), "我的工单怎么样了")
    assert stranger.payload("ticket_status")["tickets"] == []
    assert not any(ticket["id"] in text or STAFF_REPLY in text for text in stranger.texts)

    assert journey.problems(mark, handoff_mark) == []


def test_handoff_while_the_service_is_down_is_delivered_once_later(journey: Journey) -> None:
    system = journey.system
    sender = new_sender()
    journey.handoff.stop()
    try:
        mark, handoff_mark = system.mark(), len(journey.handoff.output())
        # A question the knowledge base cannot answer: an honest "not found" and the offer of a person.
        offer = system.send(sender, NO_MATCH_QUESTION)
        assert "department" in offer.payload("handoff_offer"), offer.body
        assert not offer.payloads("procedure_answer")
        start = system.send(sender, "好的")
        reply, asked = fill_form(system, sender, start, FORM_ANSWERS)
        assert "company_name" in asked and "mobile" in asked
        queued = reply.payload("handoff_queued")
        assert queued["department"]
        assert not reply.payloads("handoff_ticket")
        assert any("自动提交" in text for text in reply.texts)
    finally:
        journey.handoff.start()

    deadline = time.monotonic() + OUTBOX_WAIT_SECONDS
    delivered = re.compile(r"Outbox: (\S+) delivered as ticket (HZ-\d{8}-\d{4})")
    while not delivered.findall(system.output_since(mark)):
        assert time.monotonic() < deadline, "the outbox did not deliver the saved request in time"
        time.sleep(1)
    ((key, ticket_id),) = delivered.findall(system.output_since(mark))

    journey.add_user("outbox-staff", queued["department"], "staff", "赵六", "JR-0303")
    staff = Staff(system.bot_url, "outbox-staff")
    # One more delivery round (15 s) must not send it again.
    time.sleep(16)
    assert len(delivered.findall(system.output_since(mark))) == 1
    mine = [t for t in staff.get("/api/tickets").json()["tickets"] if t["conversation_id"] == sender]
    assert [t["id"] for t in mine] == [ticket_id]
    assert mine[0]["company_name"] == FORM_ANSWERS["company_name"]

    status = system.send(sender, "我的工单怎么样了").payload("ticket_status")
    assert [t["id"] for t in status["tickets"]] == [ticket_id]
    assert journey.problems(mark, handoff_mark) == []


@asynccontextmanager
async def serve_on(app: Any, port: int) -> AsyncIterator[None]:
    """Run a Sanic app on `port` of 127.0.0.1 in the test's event loop."""
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def test_wechat_user_hands_off_and_gets_the_staff_reply_and_rates_it(journey: Journey) -> None:
    """The same journey from WeChat: passive replies, numbered options answered with a digit, and staff
    replies and the feedback question through the customer-service API (a fake WeChat API here)."""
    from bot.texts import HANDOFF_PAUSED
    from tests.bot.wechat.conftest import FakeWeChatApi, WeChatSimulator, random_openid

    system = journey.system
    mark, handoff_mark = system.mark(), len(journey.handoff.output())
    api = FakeWeChatApi(journey.wechat.appid, journey.wechat.secret)
    wechat = WeChatSimulator(system.bot_url, journey.wechat.token, journey.wechat.appid)
    openid = random_openid()

    async def say(text: str) -> str:
        """What the user reads after sending `text`: the passive reply, or what came through the API."""
        before = len(api.texts_to(openid))
        reply = await wechat.post(wechat.text(openid, text))
        assert reply.status == 200, reply.raw
        if reply.content:
            return reply.content
        return "\n".join((await api.wait_for_messages(openid, before + 1, timeout=15))[before:])

    async with serve_on(api.app, journey.wechat.api_port):
        answer = await say(QUESTION)
        assert "材料" in answer and "医疗器械" in answer, answer
        assert "企业名称" in await say("转人工")
        await say(FORM_ANSWERS["company_name"])
        await say("跳过")
        await say("张三")
        confirm = await say(FORM_ANSWERS["mobile"])
        assert "回复数字选择" in confirm and "1. " in confirm, confirm
        department_prompt = await say("1")  # 是，就这样提交
        assert "回复数字选择" in department_prompt, department_prompt
        done = await say("1")  # 确认
        found = re.search(r"HZ-\d{8}-\d{4}", done)
        assert found, done
        ticket_id = found.group(0)

        knowledge = KnowledgeBase.load()
        department = knowledge.department_of(knowledge.procedure(PROCEDURE))
        await asyncio.to_thread(
            journey.add_user, "wechat-staff", department.code, "staff", "孙七", "JR-0404"
        )
        staff = await asyncio.to_thread(Staff, system.bot_url, "wechat-staff")
        path = f"/api/tickets/{ticket_id}"
        detail = (await asyncio.to_thread(staff.get, path)).json()["ticket"]
        assert detail["channel"] == "wechat" and detail["conversation_id"] == f"wechat:{openid}"

        assert (await asyncio.to_thread(staff.post, f"{path}/claim")).status_code == 200
        assert HANDOFF_PAUSED in await say(WHILE_PAUSED)
        before = len(api.texts_to(openid))
        replied = await asyncio.to_thread(staff.post, f"{path}/reply", {"text": STAFF_REPLY})
        assert replied.status_code == 200, replied.text
        sent = (await api.wait_for_messages(openid, before + 1))[before:]
        assert len(sent) == 1 and STAFF_REPLY in sent[0], sent
        assert "孙七" in sent[0] and "JR-0404" in sent[0] and department.name in sent[0]

        before = len(api.texts_to(openid))
        assert (await asyncio.to_thread(staff.post, f"{path}/resolve")).status_code == 200
        question = (await api.wait_for_messages(openid, before + 1))[before:]
        assert len(question) == 1 and ticket_id in question[0] and "解决了吗" in question[0], question
        rating = await say("已解决")
        assert "打分" in rating and "回复数字选择" in rating, rating
        # The user types the score itself: 5 must mean 5 points, whatever the options' order.
        await say("5")

        resolved = (await asyncio.to_thread(staff.get, path)).json()["ticket"]
        assert resolved["outcome_solved"] is True and resolved["rating"] == 5
        out = [m for m in resolved["messages"] if m["direction"] == "out"]
        assert [m["delivery_status"] for m in out] == ["delivered"]

        status = await say("我的工单怎么样了")
        assert ticket_id in status and STAFF_REPLY in status, status
    assert journey.problems(mark, handoff_mark) == []
