"""Talk to Chuishao through Rasa's REST channel and reduce each reply to a :class:`Prediction`."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from eval.metrics import ANSWER, CLARIFY, ERROR, HANDOFF, NONE, Prediction

WEBHOOK_PATH = "/webhooks/rest/webhook"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def new_sender_id(prefix: str = "eval") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def require_loopback(url: str) -> None:
    """Refuse to send load or evaluation traffic anywhere but this machine."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"{url}: only 127.0.0.1 / localhost is allowed, got host {host!r}")


def _payload(message: Any) -> dict | None:
    if not isinstance(message, dict):
        return None
    custom = message.get("custom")
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            return None
    return custom if isinstance(custom, dict) else None


def parse_rest_response(messages: Any) -> Prediction:
    """The REST channel's reply (a list of messages) as a Prediction.

    A ``procedure_answer`` payload wins over a ``clarify``, which wins over a ``handoff_offer``;
    a reply without any of them is ``none``. A reply that is not a list, or whose payload lacks
    the ids the contract promises, is an ``error``.
    """
    if not isinstance(messages, list):
        return Prediction(kind=ERROR, note=f"reply is not a list: {type(messages).__name__}")
    payloads = [p for p in (_payload(m) for m in messages) if p is not None]
    by_type: dict[str, dict] = {}
    for payload in payloads:
        if isinstance(payload.get("type"), str):
            by_type.setdefault(payload["type"], payload)
    text = " ".join(m.get("text", "") for m in messages if isinstance(m, dict) and m.get("text"))[:120]

    if "procedure_answer" in by_type:
        payload = by_type["procedure_answer"]
        procedure = payload.get("procedure")
        pid = procedure.get("id") if isinstance(procedure, dict) else None
        if not isinstance(pid, str) or not pid:
            return Prediction(kind=ERROR, note="procedure_answer without procedure.id")
        aspect = payload.get("aspect")
        return Prediction(kind=ANSWER, procedure=pid, aspect=aspect if isinstance(aspect, str) else None,
                          note=text)
    if "clarify" in by_type:
        candidates = by_type["clarify"].get("candidates")
        if not isinstance(candidates, list):
            return Prediction(kind=ERROR, note="clarify without a candidates list")
        ids = tuple(c["id"] for c in candidates if isinstance(c, dict) and isinstance(c.get("id"), str))
        return Prediction(kind=CLARIFY, candidates=ids, note=text)
    if "handoff_offer" in by_type:
        return Prediction(kind=HANDOFF, note=text)
    return Prediction(kind=NONE, note=text)


class RestClient:
    """A small synchronous client for ``{base_url}/webhooks/rest/webhook``."""

    def __init__(self, base_url: str, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        require_loopback(base_url)
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout)

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def is_up(self) -> bool:
        try:
            return self._client.get(f"{self.base_url}/").is_success
        except httpx.HTTPError:
            return False

    def send(self, sender: str, text: str) -> Prediction:
        try:
            response = self._client.post(
                f"{self.base_url}{WEBHOOK_PATH}", json={"sender": sender, "message": text}
            )
        except httpx.HTTPError as exc:
            return Prediction(kind=ERROR, note=f"{type(exc).__name__}: {exc}")
        if not response.is_success:
            return Prediction(kind=ERROR, note=f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return Prediction(kind=ERROR, note="reply is not JSON")
        return parse_rest_response(body)
