"""The web widget in real headless Chromium, against the real system (`python -m bot run`).

Open the portal, ask the Class II device question, see the answer card, ask a follow-up, receive a staff
reply pushed from another process (with the staff member's name, department and number), reload and see
the whole history, then the same at phone width. Screenshots go to artifacts/browser/. Chromium may only
reach 127.0.0.1: any other host fails to resolve, and the page's resource entries are checked too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.conftest import ROOT, System, require_model, start_system, stop_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser]

QUESTION = "二类医疗器械经营备案变更法人要什么材料"
FOLLOW_UP = "多久能办好"
REDIS_URL = "redis://127.0.0.1:6379/13"
ARTIFACTS = ROOT / "artifacts" / "browser"
WAIT = 45


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    paths = chromium_paths()
    if paths is None:
        if os.environ.get("CHUISHAO_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium or chromedriver is missing: run make browser-deps")
        pytest.skip("Chromium or chromedriver is missing (make browser-deps)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chuishao-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--lang=zh-CN",
        # Nothing but this machine: any other host name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def widget_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    require_model()
    running = start_system(tmp_path_factory.mktemp("widget"), REDIS_URL=REDIS_URL)
    yield running
    stop_system(running)


def shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for(driver: Any, condition: Any, what: str, timeout: float = WAIT) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        shot(driver, f"failed-{what}")
        raise AssertionError(f"timed out waiting for {what}") from None


def cards(driver: Any) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#chuishao-widget .cs-answer")


def ask(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    textarea = "#chuishao-widget textarea"
    box = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, textarea), "input box")
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def outside_requests(driver: Any) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.split("://", 1)[-1].startswith("127.0.0.1")]


def test_widget_answers_keeps_history_and_shows_staff(browser: Any, widget_system: System) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{widget_system.bot_url}/portal")
    assert "菏泽市优化营商环境" in driver.title
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-launcher"), "launcher").click()
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-status").text == "在线", "connection")

    ask(driver, QUESTION)
    wait_for(driver, lambda d: len(cards(d)) >= 1, "answer card")
    card = cards(driver)[0].text
    assert "医疗器械" in card and "申请材料" in card
    shot(driver, "1-answer-card")

    ask(driver, FOLLOW_UP)
    wait_for(driver, lambda d: len(cards(d)) >= 2, "follow-up card")
    assert "办理时限" in cards(driver)[1].text
    shot(driver, "2-follow-up")

    # A staff reply pushed from another process (the web app, here this test) through Redis.
    from bot.channels.socketio_push import SocketIOPush, staff_reply_message

    session = driver.execute_script("return JSON.parse(localStorage.getItem('chuishao-widget')).sessionId")
    staff = staff_reply_message(
        "您好，我是负责医疗器械备案的工作人员，材料可在线提交。",
        ticket_id="HZ-20261126-0001",
        staff_name="张明",
        staff_number="HZ-SJ-0012",
        department="hz-amr",
        department_name="菏泽市市场监督管理局",
        message_id=1,
    )

    async def push() -> bool:
        pusher = SocketIOPush(REDIS_URL)
        try:
            return (await pusher.push(session, staff)).delivered
        finally:
            await pusher.close()

    assert asyncio.run(push())
    reply = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".cs-staff"), "staff reply")
    assert "张明" in reply.text and "菏泽市市场监督管理局" in reply.text and "HZ-SJ-0012" in reply.text
    shot(driver, "3-staff-reply")

    driver.refresh()
    wait_for(driver, lambda d: len(cards(d)) == 2, "history after reload")
    history = driver.find_element(By.CSS_SELECTOR, "#chuishao-widget").text
    for expected in (QUESTION, FOLLOW_UP, "张明", "工号 HZ-SJ-0012"):
        assert expected in history
    same = driver.execute_script("return JSON.parse(localStorage.getItem('chuishao-widget')).sessionId")
    assert same == session
    shot(driver, "4-after-reload")

    driver.set_window_size(390, 844)
    width = driver.execute_script("return document.querySelector('#chuishao-widget .cs-panel').offsetWidth")
    assert width <= 390
    shot(driver, "5-phone-width")

    assert outside_requests(driver) == []
    css = driver.execute_script(
        "return Array.from(document.styleSheets)"
        ".map(s => Array.from(s.cssRules).map(r => r.cssText).join('')).join('')"
    )
    assert "fonts.googleapis" not in css and "alipayobjects" not in css
    assert Path(ARTIFACTS / "4-after-reload.png").is_file()
