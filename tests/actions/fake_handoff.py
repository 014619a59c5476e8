"""A fake handoff service implementing the internal API of docs/handoff.md, for httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx

from actions.clients.handoff import HandoffClient, HandoffSettings

TOKEN = "internal-test-token"
DEPARTMENT_NAMES = {
    "hz-xzsp": "菏泽市行政审批服务局",
    "hz-chuishao": "菏泽市企业吹哨办",
    "sd-yjj": "山东省药品监督管理局",
}
REQUIRED = (
    "idempotency_key",
    "conversation_id",
    "channel",
    "company_name",
    "contact_name",
    "mobile",
    "question",
    "department",
    "transcript",
)


class FakeHandoffService:
    """Idempotent ticket creation, per-conversation listing and feedback; `down` refuses connections."""

    def __init__(self) -> None:
        self.down = False
        self.status_override: int | None = None
        self.by_key: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.posts = 0
        self.feedback: list[tuple[str, dict[str, Any]]] = []
        self.replies: dict[str, dict[str, Any]] = {}

    def client(self, timeout: float = 1.0) -> HandoffClient:
        settings = HandoffSettings(base_url="http://handoff.test", token=TOKEN, timeout=timeout)
        return HandoffClient(settings, transport=httpx.MockTransport(self.handle))

    def ticket(self, key: str) -> dict[str, Any]:
        return self.by_key[key]

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "未授权"})
        if self.status_override is not None:
            return httpx.Response(self.status_override, json={"error": "服务异常"})
        path = request.url.path
        if request.method == "POST" and path == "/api/internal/tickets":
            return self._create(json.loads(request.content))
        if request.method == "GET" and path.startswith("/api/internal/conversations/"):
            sender = path.split("/")[4]
            tickets = [
                dict(t, latest_reply=self.replies.get(t["id"]))
                for t in self.by_key.values()
                if t["conversation_id"] == sender
            ]
            return httpx.Response(200, json={"tickets": list(reversed(tickets))})
        if request.method == "POST" and path.endswith("/feedback"):
            ticket_id = path.split("/")[4]
            body = json.loads(request.content)
            owner = next((t for t in self.by_key.values() if t["id"] == ticket_id), None)
            if owner is None or owner["conversation_id"] != body.get("conversation_id"):
                return httpx.Response(404, json={"error": "未找到该工单"})
            self.feedback.append((ticket_id, body))
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404, json={"error": "未找到该地址"})

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        self.posts += 1
        missing = [field for field in REQUIRED if not body.get(field)]
        if missing:
            return httpx.Response(400, json={"error": f"缺少字段：{'、'.join(missing)}"})
        key = body["idempotency_key"]
        if key in self.by_key:
            return httpx.Response(200, json={"ticket": self._public(self.by_key[key])})
        self.requests.append(body)
        ticket = {
            "id": f"HZ-20261126-{len(self.by_key) + 1:04d}",
            "conversation_id": body["conversation_id"],
            "department": body["department"],
            "department_name": DEPARTMENT_NAMES.get(body["department"], body["department"]),
            "status": "new",
            "due": "2026-12-17T09:00:00+00:00",
            "reply_due": "2026-12-01T09:00:00+00:00",
            "first_response_due": "2026-11-27T09:00:00+00:00",
            "created_at": "2026-11-26T02:00:00+00:00",
        }
        self.by_key[key] = ticket
        return httpx.Response(201, json={"ticket": self._public(ticket)})

    @staticmethod
    def _public(ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if k != "conversation_id"}


def ticket_request(key: str = "key-1", conversation: str = "conv-1", **fields: Any) -> dict[str, Any]:
    request = {
        "idempotency_key": key,
        "conversation_id": conversation,
        "channel": "rest",
        "company_name": "菏泽某某药业有限公司",
        "credit_code": None,
        "contact_name": "张三",
        "mobile": "13800138000",
        "question": "药品经营许可证换证一个月没有结果",
        "procedure_id": None,
        "department": "hz-xzsp",
        "transcript": [{"role": "user", "text": "转人工", "at": "2026-11-26T02:00:00+00:00"}],
    }
    request.update(fields)
    return request
