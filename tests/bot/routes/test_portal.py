"""The demo portal page and the widget's files: served locally, nothing from another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from bot.app import create_app
from bot.routes.portal import WIDGET_DIR

WIDGET_SOURCES = Path(__file__).resolve().parents[3] / "bot" / "widget"
CDN = re.compile(r"fonts\.googleapis|fonts\.gstatic|alicdn\.com|alipayobjects\.com|jsdelivr|unpkg\.com|cdnjs")


async def test_portal_embeds_the_widget_with_one_script_tag(make_settings, serve) -> None:
    settings = make_settings(widget_server_url="https://chat.example.gov.cn", internal_api_token="t" * 20)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{url}/portal")
        assert page.status_code == 200
        assert "菏泽市优化营商环境 · 企业服务" in page.text
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert len(scripts) == 1
        assert 'data-server-url="https://chat.example.gov.cn"' in scripts[0]
        assert "data-title=" in scripts[0] and "data-greeting=" in scripts[0]
        assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # every asset from this app

        src = re.search(r'src="([^"]+)"', scripts[0]).group(1)
        script = await client.get(f"{url}{src}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        style = await client.get(f"{url}/widget/chuishao-widget.css")
        assert style.status_code == 200
        for asset in (script.text, style.text):
            assert not CDN.search(asset)
        assert "@font-face" not in style.text or "url(http" not in style.text


async def test_portal_defaults_to_the_rasa_url(make_settings, serve) -> None:
    settings = make_settings(internal_api_token="t" * 20)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{url}/portal")
    assert f'data-server-url="{settings.rasa_url}"' in page.text


def test_committed_widget_build_matches_its_sources() -> None:
    """bot/static/widget/ is committed; rebuild it (scripts/build-widget.sh) after editing bot/widget/."""
    digest = hashlib.sha256()
    files = ["package.json", "package-lock.json", "build.mjs"]
    files += [f"src/{p.name}" for p in sorted((WIDGET_SOURCES / "src").iterdir(), key=lambda p: p.name)]
    for name in files:
        digest.update(name.encode())
        digest.update((WIDGET_SOURCES / name).read_bytes())
    built = (WIDGET_DIR / "SOURCE").read_text(encoding="utf-8").strip()
    assert built == digest.hexdigest()[:16], "the widget build is stale: run scripts/build-widget.sh"
    assert f"source {built}" in (WIDGET_DIR / "chuishao-widget.js").read_text(encoding="utf-8")[:200]
