"""The bot web app: health JSON, the home page, and JSON errors in Chinese."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from sanic import Sanic, response

import bot
import bot.health
from bot.app import create_app

CJK = re.compile(r"[\u4e00-\u9fff]")


def fake_dependency(name: str, path: str, *, delay: float = 0.0, status: int = 200) -> Sanic:
    app = Sanic(name)

    @app.get(path)
    async def answer(request):
        await asyncio.sleep(delay)
        return response.json({"status": "ok"}, status=status)

    return app


async def test_health_reports_both_services_up(make_settings, serve):
    rasa = fake_dependency("fake_rasa_up", "/")
    actions = fake_dependency("fake_actions_up", "/health")
    async with serve(rasa) as rasa_url, serve(actions) as actions_url:
        settings = make_settings(rasa_url=rasa_url, action_endpoint_url=f"{actions_url}/webhook")
        async with serve(create_app(settings)) as url, httpx.AsyncClient() as client:
            answer = await client.get(f"{url}/health")

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["version"] == bot.__version__
    assert body["services"]["rasa"]["ok"] is True
    assert body["services"]["rasa"]["url"] == f"{rasa_url}/"
    assert body["services"]["action_server"]["ok"] is True
    assert body["services"]["action_server"]["url"] == f"{actions_url}/health"


async def test_health_reports_services_down_without_failing(make_settings, serve):
    settings = make_settings()  # nothing listens on these free ports
    async with serve(create_app(settings)) as url, httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/health")

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "degraded"
    for service in ("rasa", "action_server"):
        assert body["services"][service]["ok"] is False
        assert body["services"][service]["error"]


async def test_health_gives_up_quickly_on_a_hanging_service(make_settings, serve, monkeypatch):
    monkeypatch.setattr(bot.health, "PROBE_TIMEOUT_SECONDS", 0.3)
    hanging = fake_dependency("fake_rasa_hanging", "/", delay=5)
    failing = fake_dependency("fake_actions_failing", "/health", status=500)
    async with serve(hanging) as rasa_url, serve(failing) as actions_url:
        settings = make_settings(rasa_url=rasa_url, action_endpoint_url=f"{actions_url}/webhook")
        async with serve(create_app(settings)) as url, httpx.AsyncClient() as client:
            started = time.monotonic()
            answer = await client.get(f"{url}/health")
            elapsed = time.monotonic() - started

    assert elapsed < 2
    services = answer.json()["services"]
    assert services["rasa"] == {**services["rasa"], "ok": False, "error": "no answer within 0.3 s"}
    assert services["action_server"]["error"] == "HTTP 500"


async def test_home_page_is_chinese_with_links(make_settings, serve):
    settings = make_settings()
    async with serve(create_app(settings)) as url, httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="zh-CN">' in page
    assert "吹哨" in page and "菏泽" in page
    assert 'href="/health"' in page
    assert f"{settings.rasa_url}/webhooks/rest/webhook" in page


@pytest.mark.parametrize(
    "method, path, status, reason",
    [
        ("GET", "/no-such-page", 404, "未找到该地址：/no-such-page"),
        ("POST", "/health", 405, "该地址不支持 POST 请求。"),
        ("DELETE", "/", 405, "该地址不支持 DELETE 请求。"),
    ],
)
async def test_errors_are_json_in_chinese(make_settings, serve, method, path, status, reason):
    async with serve(create_app(make_settings())) as url, httpx.AsyncClient() as client:
        answer = await client.request(method, f"{url}{path}")

    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error": reason, "status": status}


async def test_unexpected_error_is_json_without_stack_trace(make_settings, serve):
    app = create_app(make_settings())

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("secret internals")

    async with serve(app) as url, httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/boom")

    assert answer.status_code == 500
    assert answer.json() == {"error": "服务器内部错误，请稍后再试。", "status": 500}
    assert "Traceback" not in answer.text and "secret internals" not in answer.text


async def test_bad_request_is_json_in_chinese(make_settings, serve):
    async with serve(create_app(make_settings())) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /health HTTP/1.1\r\nthis is not a header\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()

    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"application/json" in head
    assert CJK.search(json.loads(body)["error"])


def test_apps_can_be_built_many_times(make_settings):
    settings = make_settings()
    names = {create_app(settings).name for _ in range(3)}
    assert len(names) == 3
