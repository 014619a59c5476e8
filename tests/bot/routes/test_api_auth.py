"""Login, logout, session cookie flags, CSRF refusal and the login rate limit, through the API."""

from __future__ import annotations

from bot.auth.sessions import COOKIE
from tests.bot.routes.conftest import PASSWORD


def session_cookie_header(answer) -> str:
    return next(h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))


async def test_login_returns_the_sanliang_identity_and_a_hardened_cookie(web):
    web.add_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")

    answer = await web.client.post("/api/login", json={"username": "scjg1", "password": PASSWORD})

    assert answer.status_code == 200
    body = answer.json()
    assert body["user"] | {"id": 0} == {
        "id": 0,
        "username": "scjg1",
        "name": "王晓明",
        "department": "hz-scjg",
        "department_name": "菏泽市市场监督管理局",
        "number": "SCJG-0101",
        "role": "staff",
    }
    assert len(body["csrf_token"]) >= 32
    cookie = session_cookie_header(answer).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" in cookie  # CHUISHAO_ENV=test: only development goes without


async def test_development_cookie_is_not_secure(web):
    web.app.ctx.settings = web.app.ctx.settings.copy(update={"chuishao_env": "development"})
    web.add_user("scjg1", "hz-scjg")
    answer = await web.client.post("/api/login", json={"username": "scjg1", "password": PASSWORD})
    assert "secure" not in session_cookie_header(answer).lower()


async def test_wrong_password_and_unknown_user_look_the_same(web):
    web.add_user("scjg1", "hz-scjg")
    wrong = await web.client.post("/api/login", json={"username": "scjg1", "password": "nope-nope"})
    unknown = await web.client.post("/api/login", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"] == "用户名或密码错误。"


async def test_login_needs_a_json_body(web):
    form = await web.client.post("/api/login", data={"username": "a", "password": "b"})
    assert form.status_code == 415
    assert "JSON" in form.json()["error"]
    broken = await web.client.post(
        "/api/login", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    typed = await web.client.post("/api/login", json={"username": 1, "password": ["x"]})
    assert typed.status_code == 400


async def test_unsafe_requests_without_the_csrf_token_are_refused(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    ticket = await web.create_ticket()

    missing = await staff.post(f"/api/tickets/{ticket['id']}/claim", json={}, csrf=False)
    wrong = await staff.post(
        f"/api/tickets/{ticket['id']}/claim", json={}, csrf=False, headers={"X-CSRF-Token": "forged"}
    )
    for answer in (missing, wrong):
        assert answer.status_code == 403
        assert "CSRF" in answer.json()["error"]
    # Nothing happened, and reading needs no token.
    detail = await staff.get(f"/api/tickets/{ticket['id']}")
    assert detail.json()["ticket"]["status"] == "new"
    assert (await staff.act(ticket["id"], "claim")).status_code == 200


async def test_logout_ends_the_session_on_the_server(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    assert (await staff.get("/api/me")).status_code == 200

    refused = await staff.post("/api/logout", json={}, csrf=False)
    assert refused.status_code == 403
    answer = await staff.post("/api/logout", json={})
    assert answer.status_code == 200

    # The old cookie is worthless now, even if the browser kept it.
    after = await staff.get("/api/me")
    assert after.status_code == 401


async def test_five_failures_lock_the_login_with_429(web):
    web.add_user("scjg1", "hz-scjg")
    for _ in range(5):
        answer = await web.client.post("/api/login", json={"username": "scjg1", "password": "wrong-pass"})
        assert answer.status_code == 401

    locked = await web.client.post("/api/login", json={"username": "scjg1", "password": PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["error"] == "登录失败次数过多，请 15 分钟后再试。"
    # Another account from the same address is not locked out by it.
    web.add_user("scjg2", "hz-scjg")
    other = await web.client.post("/api/login", json={"username": "scjg2", "password": PASSWORD})
    assert other.status_code == 200


async def test_deactivated_account_loses_its_session(web):
    staff = await web.as_user("scjg1", "hz-scjg")
    from bot.db.engine import session_scope
    from bot.db.models import User

    with session_scope(web.app.ctx.session_factory) as session:
        session.get(User, staff.user["id"]).active = False

    assert (await staff.get("/api/tickets")).status_code == 401
    again = await web.client.post("/api/login", json={"username": "scjg1", "password": PASSWORD})
    assert again.status_code == 401
