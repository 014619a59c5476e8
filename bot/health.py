"""Health probes of the services the web app depends on: short timeouts, reported, never raised."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict

import httpx

from bot.settings import Settings

PROBE_TIMEOUT_SECONDS = 1.5


async def probe(client: httpx.AsyncClient, url: str, timeout: float | None = None) -> Dict[str, Any]:
    """GET `url`; healthy means a 2xx answer within `timeout` (default PROBE_TIMEOUT_SECONDS)."""
    timeout = PROBE_TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()
    result: Dict[str, Any] = {"url": url}
    try:
        answer = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        result.update(ok=False, error=f"no answer within {timeout} s")
    except httpx.HTTPError as error:
        result.update(ok=False, error=type(error).__name__)
    else:
        result["ok"] = 200 <= answer.status_code < 300
        if not result["ok"]:
            result["error"] = f"HTTP {answer.status_code}"
    result["latency_ms"] = round((time.monotonic() - started) * 1000)
    return result


async def check_dependencies(client: httpx.AsyncClient, settings: Settings) -> Dict[str, Dict[str, Any]]:
    """Probe Rasa (`GET /`) and the action server (`GET /health`) concurrently."""
    rasa, actions = await asyncio.gather(
        probe(client, f"{settings.rasa_url}/"),
        probe(client, f"{settings.action_server_url}/health"),
    )
    return {"rasa": rasa, "action_server": actions}
