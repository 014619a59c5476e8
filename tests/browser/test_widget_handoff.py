"""The issue-4 journey in real headless Chromium against the real system, with Redis (the push path).

Open the portal, ask the Class II device question and a follow-up, hand off ("转人工") and fill the form
in the widget, see the ticket card; a member of staff of the routed department logs in to the console in
a second window, claims the case (the user's next message gets the paused note) and replies; the reply is
pushed (socket.io through Redis) into the widget with the staff member's name, department and number;
after a reload the history and the reply are there, once; staff resolve, and the widget asks for the
outcome and a rating, which reach the ticket. Screenshots go to artifacts/browser/handoff-*.png.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, Iterator

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.e2e.conftest import System, require_model, start_system, stop_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser]

WIDGET = "#chuishao-widget"
QUESTION = "二类医疗器械经营备案变更法人要什么材料"
FOLLOW_UP = "多久能办好"
REDIS_URL = "redis://127.0.0.1:6379/12"  # test_widget.py uses 13
PASSWORD = "widget-pass-1"
STAFF_REPLY = "您好，我是负责医疗器械备案的工作人员，变更法定代表人的材料可以在线提交，今天就能受理。"
WHILE_PAUSED = "我们已经准备好身份证复印件了，还需要别的吗"
WAIT = 45
FORM_ANSWERS = {
    "company_name": "菏泽牡丹医疗器械有限公司",
    "credit_code": "跳过",
    "contact_name": "张三",
    "mobile": "13912345678",
    "description": "变更法定代表人的备案材料准备好了，想确认还缺什么",
    "description_confirmed": "是的",
}
FORM_END = {"handoff_ticket", "handoff_queued", "handoff_failed", "handoff_cancelled"}


@pytest.fixture(scope="module")
def handoff_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    require_model()
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is needed for the push path ({REDIS_URL}): {error}")
    running = start_system(tmp_path_factory.mktemp("widget-handoff"), REDIS_URL=REDIS_URL)
    yield running
    stop_system(running)


def wait_for(driver: Any, condition: Any, what: str, timeout: float = WAIT) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        screenshot(driver, f"handoff-failed-{what.replace(' ', '-')}")
        raise AssertionError(f"timed out waiting for {what}") from None


def stored(driver: Any) -> Dict[str, Any]:
    """The widget's own record of the conversation (localStorage), with every message's payload."""
    return json.loads(driver.execute_script("return localStorage.getItem('chuishao-widget')") or "{}")


def last_bot_payload(driver: Any) -> Dict[str, Any] | None:
    history = stored(driver).get("history") or []
    return history[-1].get("custom") if history and history[-1].get("role") == "bot" else None


def ask(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"{WIDGET} textarea"), "input box")
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def click_button(driver: Any, title: str) -> None:
    from selenium.webdriver.common.by import By

    def last_with_title(d: Any) -> Any:
        found = [b for b in d.find_elements(By.CSS_SELECTOR, f"{WIDGET} .cs-button") if b.text == title]
        return found[-1] if found else False

    wait_for(driver, last_with_title, f"button {title}").click()


def next_prompt(driver: Any, after: int) -> Dict[str, Any]:
    """Wait until the turn after history entry `after` ends with a form prompt or the form's result."""

    def settled(d: Any) -> Dict[str, Any] | bool:
        history = stored(d).get("history") or []
        if len(history) <= after or history[-1].get("role") != "bot":
            return False
        custom = history[-1].get("custom") or {}
        return custom if custom.get("type") in FORM_END | {"handoff_form"} else False

    return wait_for(driver, settled, "the next form prompt")


def staff_session(url: str, username: str) -> Dict[str, str]:
    """Log in through the JSON API; the Secure session cookie is sent by hand over plain http."""
    answer = httpx.post(f"{url}/api/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {
        "Cookie": f"chuishao_session={answer.cookies['chuishao_session']}",
        "X-CSRF-Token": answer.json()["csrf_token"],
    }


def add_staff(system: System, department: str) -> None:
    """The account, created with the service `python -m bot users add` uses, on the system's database."""
    from bot.deps import open_services
    from bot.settings import Settings

    database_url = f"sqlite:///{system.log.parent / 'chuishao.db'}"
    services = open_services(Settings(_env_file=None, database_url=database_url))
    try:
        services.tickets.create_user("widget-staff", PASSWORD, department, "staff", "王晓明", "WS-0101")
    finally:
        services.close()


def test_widget_handoff_ticket_and_pushed_staff_reply(chromium_driver: Any, handoff_system: System) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver = chromium_driver
    system = handoff_system
    mark = system.mark()
    driver.get(f"{system.bot_url}/portal")
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-launcher"), "launcher").click()
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-status").text == "在线", "connection")

    def cards(d: Any) -> list:
        return d.find_elements(By.CSS_SELECTOR, "#chuishao-widget .cs-answer")

    ask(driver, QUESTION)
    wait_for(driver, lambda d: len(cards(d)) >= 1, "answer card")
    assert "申请材料" in cards(driver)[0].text and "医疗器械" in cards(driver)[0].text
    ask(driver, FOLLOW_UP)
    wait_for(driver, lambda d: len(cards(d)) >= 2, "follow-up card")
    assert "办理时限" in cards(driver)[1].text
    screenshot(driver, "handoff-1-answers")

    asked = []
    before = len(stored(driver)["history"])
    ask(driver, "转人工")
    prompt = next_prompt(driver, before + 1)
    while prompt["type"] == "handoff_form":
        slot = prompt["slot"]
        assert slot not in asked, f"{slot} asked twice: {asked}"
        asked.append(slot)
        before = len(stored(driver)["history"])
        if slot == "department_confirmed":
            screenshot(driver, "handoff-2-department")
            click_button(driver, "确认")
        else:
            ask(driver, FORM_ANSWERS[slot])
        prompt = next_prompt(driver, before + 1)
    assert asked[:4] == ["company_name", "credit_code", "contact_name", "mobile"], asked
    assert prompt["type"] == "handoff_ticket", prompt
    ticket = prompt["ticket"]
    assert re.fullmatch(r"HZ-\d{8}-\d{4}", ticket["id"])
    card = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"{WIDGET} .cs-ticket"), "ticket")
    assert ticket["id"] in card.text and "答复期限" in card.text
    screenshot(driver, "handoff-3-ticket")

    add_staff(system, ticket["department"])
    headers = staff_session(system.bot_url, "widget-staff")  # for reading what the console does not show
    api = f"{system.bot_url}/api/tickets/{ticket['id']}"
    detail = httpx.get(api, headers=headers, timeout=30).json()["ticket"]
    assert detail["channel"] == "socketio" and detail["company_name"] == FORM_ANSWERS["company_name"]
    # The ticket card names the department (not its code) under its title.
    assert card.find_element(By.CSS_SELECTOR, ".CardTitle-subtitle").text == detail["department_name"]

    # The member of staff works in the console, in a second window.
    widget_window = driver.current_window_handle
    driver.switch_to.new_window("window")
    console_window = driver.current_window_handle
    driver.get(f"{system.bot_url}/console/login")
    wait_for(driver, ec.presence_of_element_located((By.ID, "username")), "console login").send_keys(
        "widget-staff"
    )
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, ec.element_to_be_clickable((By.LINK_TEXT, ticket["id"])), "console queue").click()
    wait_for(driver, ec.element_to_be_clickable((By.ID, "claim")), "case page").click()
    wait_for(driver, ec.text_to_be_present_in_element((By.TAG_NAME, "main"), "已认领"), "claimed")

    # While staff have the case the bot does not answer: a short note says who will.
    driver.switch_to.window(widget_window)
    before = len(stored(driver)["history"])
    ask(driver, WHILE_PAUSED)
    wait_for(driver, lambda d: (last_bot_payload(d) or {}).get("type") == "handoff_paused", "paused note")
    assert [m.get("role") for m in stored(driver)["history"][before:]] == ["user", "bot"]

    # The case page shows what the user wrote meanwhile; the reply carries the 三亮 identity.
    driver.switch_to.window(console_window)
    driver.refresh()
    wait_for(driver, ec.text_to_be_present_in_element((By.ID, "messages"), WHILE_PAUSED), "paused message")
    driver.find_element(By.ID, "reply-text").send_keys(STAFF_REPLY)
    driver.find_element(By.ID, "reply").click()
    sent = time.monotonic()
    wait_for(driver, ec.text_to_be_present_in_element((By.ID, "messages"), STAFF_REPLY), "reply in console")
    signature = f"王晓明（{detail['department_name']}，工号 WS-0101）"
    assert signature in driver.find_element(By.ID, "messages").text
    screenshot(driver, "handoff-console-reply")

    driver.switch_to.window(widget_window)
    staff = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"{WIDGET} .cs-staff"), "reply")
    seconds = time.monotonic() - sent
    assert STAFF_REPLY in staff.text
    assert "王晓明" in staff.text and "工号 WS-0101" in staff.text
    assert detail["department_name"] in staff.text
    # Pushed through Redis, not fetched by the widget's 15 s poll of the messages API.
    messages = httpx.get(api, headers=headers, timeout=30).json()["ticket"]["messages"]
    assert [m["delivery_status"] for m in messages if m["direction"] == "out"] == ["delivered"], messages
    assert seconds < 14, f"the reply took {seconds:.1f} s to appear"  # the widget polls every 15 s
    screenshot(driver, "handoff-4-staff-reply")

    driver.refresh()
    wait_for(driver, lambda d: len(cards(d)) == 2, "history after reload")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{WIDGET} .cs-staff"), "reply again")
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-status").text == "在线", "reconnection")
    time.sleep(2)  # the widget fetches missed staff messages on reconnecting: no duplicate may appear
    history = driver.find_element(By.CSS_SELECTOR, "#chuishao-widget").text
    for expected in (QUESTION, FOLLOW_UP, "转人工", ticket["id"], STAFF_REPLY, "工号 WS-0101"):
        assert expected in history, expected
    assert len(driver.find_elements(By.CSS_SELECTOR, f"{WIDGET} .cs-staff")) == 1
    screenshot(driver, "handoff-5-after-reload")

    # Staff resolve: the bot asks, in the widget, whether it was solved and for a rating; both are stored.
    driver.switch_to.window(console_window)
    wait_for(driver, ec.element_to_be_clickable((By.ID, "resolve")), "resolve button").click()
    wait_for(driver, ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "已办结"), "resolved")
    driver.switch_to.window(widget_window)
    asked_for = lambda d: (last_bot_payload(d) or {}).get("type") == "feedback_request"  # noqa: E731
    wait_for(driver, asked_for, "feedback question")
    question = last_bot_payload(driver)
    assert question == {"type": "feedback_request", "ticket": ticket["id"], "ask": "solved"}
    click_button(driver, "已解决")
    wait_for(driver, lambda d: (last_bot_payload(d) or {}).get("ask") == "rating", "rating question")
    click_button(driver, "5分")
    wait_for(driver, lambda d: (last_bot_payload(d) or {}).get("type") == "feedback_saved", "feedback saved")
    texts = [m.get("text") or "" for m in stored(driver)["history"]]
    assert sum("解决了吗" in text for text in texts) == 1, texts  # asked once, not also by a poll
    resolved = httpx.get(api, headers=headers, timeout=30).json()["ticket"]
    assert resolved["outcome_solved"] is True and resolved["rating"] == 5
    screenshot(driver, "handoff-6-feedback")

    problems = system.problems_since(mark)
    assert problems == []
