"""A WeChat simulator, a fake WeChat API and a fake Rasa, all on 127.0.0.1.

The simulator signs and (safe mode) encrypts requests the way WeChat's servers do, written here from
WeChat's documentation with hashlib and `cryptography`, independently of wechatpy, so a bridge that
signed or encrypted differently from WeChat would fail. The fake Rasa is Chuishao's real REST channel
(`ChuishaoRestInput`) with a scripted agent behind it, so no trained model is needed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import secrets
import socket
import string
import struct
import time
import uuid
import xml.etree.ElementTree as ElementTree
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List

import httpx
import pytest
import redis
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from rasa.core.channels.channel import UserMessage
from sanic import Sanic, response
from sanic.request import Request

from bot.channels.rest import ChuishaoRestInput
from bot.errors import JsonErrorHandler
from bot.routes import wechat as wechat_routes
from bot.wechat.runtime import WeChatRuntime
from bot.wechat.store import MemoryStore, RedisStore, SharedStore

TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
_numbers = itertools.count(1)


# -- WeChat's side: signing and encryption ---------------------------------------------------------


def wechat_signature(*parts: str) -> str:
    """SHA-1 of the parts sorted and concatenated, as WeChat signs callbacks."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _aes(aes_key: str) -> Cipher:
    key = base64.b64decode(aes_key + "=")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def wechat_encrypt(aes_key: str, appid: str, plain: str) -> str:
    """WeChat's safe mode: AES-256-CBC (IV = first 16 key bytes) over random(16) + length (4 bytes,
    network order) + message + appid, PKCS#7-padded to 32 bytes, base64."""
    body = plain.encode("utf-8")
    data = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body + appid.encode("utf-8")
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = _aes(aes_key).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def wechat_decrypt(aes_key: str, appid: str, encrypted: str) -> str:
    decryptor = _aes(aes_key).decryptor()
    data = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    data = data[: -data[-1]]
    length = struct.unpack(">I", data[16:20])[0]
    assert data[20 + length :].decode("utf-8") == appid, "the reply is encrypted for another appid"
    return data[20 : 20 + length].decode("utf-8")


def random_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def random_openid() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "o" + "".join(secrets.choice(alphabet) for _ in range(27))


@dataclass
class Reply:
    """What the bridge answered one request, as WeChat reads it."""

    status: int
    raw: str
    fields: Dict[str, str] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == 200 and self.raw in ("success", "")

    @property
    def content(self) -> str | None:
        return self.fields.get("Content")


class WeChatSimulator:
    """Sends what WeChat's servers send to an Official Account's server URL."""

    _msg_ids = itertools.count(int(time.time()) * 1000)

    def __init__(
        self, base_url: str, token: str, appid: str, aes_key: str = "", account: str = "gh_test"
    ) -> None:
        self.url = base_url + "/wechat"
        self.token = token
        self.appid = appid
        self.aes_key = aes_key
        self.account = account

    # messages, as WeChat's XML
    def text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self._xml(openid, "text", f"<Content><![CDATA[{content}]]></Content>", msg_id)

    def voice(self, openid: str, recognition: str | None) -> str:
        extra = "<MediaId><![CDATA[media1]]></MediaId><Format><![CDATA[amr]]></Format>"
        if recognition is not None:
            extra += f"<Recognition><![CDATA[{recognition}]]></Recognition>"
        return self._xml(openid, "voice", extra)

    def image(self, openid: str) -> str:
        extra = "<PicUrl><![CDATA[http://127.0.0.1/pic.jpg]]></PicUrl><MediaId><![CDATA[media2]]></MediaId>"
        return self._xml(openid, "image", extra)

    def event(self, openid: str, event: str, create_time: int | None = None) -> str:
        created = create_time or int(time.time())
        return (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event></xml>"
        )

    def _xml(self, openid: str, msg_type: str, extra: str, msg_id: int | None = None) -> str:
        msg_id = msg_id or next(self._msg_ids)
        return (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{extra}<MsgId>{msg_id}</MsgId></xml>"
        )

    # requests
    def signed_query(self, token: str | None = None) -> Dict[str, str]:
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        return {
            "signature": wechat_signature(token or self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def request(self, xml: str, *, safe: bool | None = None, token: str | None = None) -> tuple[dict, bytes]:
        """Query and body of one delivery attempt; each attempt gets its own timestamp and nonce."""
        query = self.signed_query(token)
        safe = bool(self.aes_key) if safe is None else safe
        if not safe:
            return query, xml.encode("utf-8")
        encrypted = wechat_encrypt(self.aes_key, self.appid, xml)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = wechat_signature(
            token or self.token, query["timestamp"], query["nonce"], encrypted
        )
        body = (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return query, body.encode("utf-8")

    async def post(
        self, xml: str | bytes, *, safe: bool | None = None, token: str | None = None, raw: bool = False
    ) -> Reply:
        """One attempt; `raw=True` sends `xml` as the body unchanged (signed URL, no encryption)."""
        if raw:
            query, body = self.signed_query(token), xml if isinstance(xml, bytes) else xml.encode("utf-8")
        else:
            query, body = self.request(xml if isinstance(xml, str) else xml.decode(), safe=safe, token=token)
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                self.url, params=query, content=body, headers={"Content-Type": "text/xml"}
            )
        return self.read(answer, query)

    async def post_with_retries(self, xml: str, attempts: int = 3, spacing: float = 0.05) -> List[Reply]:
        """WeChat's retries, replayed concurrently: the later attempts arrive while the first is in flight."""

        async def attempt(number: int) -> Reply:
            await asyncio.sleep(number * spacing)
            return await self.post(xml)

        return list(await asyncio.gather(*(attempt(number) for number in range(attempts))))

    def read(self, answer: httpx.Response, query: Dict[str, str]) -> Reply:
        text = answer.text
        if answer.status_code != 200 or text in ("success", ""):
            return Reply(answer.status_code, text)
        root = ElementTree.fromstring(text)
        if root.find("Encrypt") is not None:
            encrypted = root.findtext("Encrypt") or ""
            expected = wechat_signature(
                self.token, root.findtext("TimeStamp") or "", root.findtext("Nonce") or "", encrypted
            )
            assert root.findtext("MsgSignature") == expected, "the encrypted reply's MsgSignature is wrong"
            root = ElementTree.fromstring(wechat_decrypt(self.aes_key, self.appid, encrypted))
        return Reply(answer.status_code, text, {child.tag: child.text or "" for child in root})


# -- the fake WeChat API ----------------------------------------------------------------------------


class FakeWeChatApi:
    """WeChat's token and customer-service endpoints; records every message the bridge sends."""

    def __init__(self, appid: str, secret: str) -> None:
        self.appid = appid
        self.secret = secret
        self.token_requests = 0
        self.sent: List[Dict[str, Any]] = []
        self.errors: Dict[str, int] = {}  # openid -> errcode to answer
        self.app = Sanic(f"fake_wechat_api_{next(_numbers)}")
        self.app.add_route(self.token, "/cgi-bin/token", methods=["GET"])
        self.app.add_route(self.custom_send, "/cgi-bin/message/custom/send", methods=["POST"])
        self._tokens: set[str] = set()

    async def token(self, request: Request) -> response.HTTPResponse:
        self.token_requests += 1
        if request.args.get("appid") != self.appid or request.args.get("secret") != self.secret:
            return response.json({"errcode": 40013, "errmsg": "invalid appid"})
        token = f"TOKEN-{self.token_requests}-{uuid.uuid4().hex[:8]}"
        self._tokens = {token}  # a new token invalidates the old ones
        return response.json({"access_token": token, "expires_in": 7200})

    async def custom_send(self, request: Request) -> response.HTTPResponse:
        if request.args.get("access_token") not in self._tokens:
            return response.json({"errcode": 40001, "errmsg": "invalid credential"})
        body = request.json
        errcode = self.errors.get(body.get("touser", ""))
        if errcode:
            return response.json(
                {"errcode": errcode, "errmsg": "response out of time limit or subscription is canceled"}
            )
        self.sent.append(body)
        return response.json({"errcode": 0, "errmsg": "ok"})

    def texts_to(self, openid: str) -> List[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == openid and m["msgtype"] == "text"]

    async def wait_for_messages(self, openid: str, count: int, timeout: float = 10.0) -> List[str]:
        deadline = time.monotonic() + timeout
        while len(self.texts_to(openid)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.texts_to(openid)


# -- the fake Rasa ----------------------------------------------------------------------------------

Script = Callable[[UserMessage], List[Dict[str, Any]]]


class FakeRasa:
    """Chuishao's REST channel with a scripted agent; records every turn Rasa would run."""

    def __init__(self, reply_deadline_seconds: float = 4.5) -> None:
        self.turns: List[UserMessage] = []
        self.delay = 0.0
        self.script: Script = lambda message: [{"text": f"收到：{message.text}"}]
        self.channel = ChuishaoRestInput(reply_deadline_seconds=reply_deadline_seconds)
        self.app = Sanic(f"fake_rasa_{next(_numbers)}")
        self.app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix="/webhooks/rest")

    async def on_new_message(self, message: UserMessage) -> None:
        self.turns.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        for reply in self.script(message):
            if "buttons" in reply:
                await message.output_channel.send_text_with_buttons(
                    message.sender_id, reply["text"], reply["buttons"]
                )
            elif "custom" in reply:
                await message.output_channel.send_custom_json(message.sender_id, reply["custom"])
            else:
                await message.output_channel.send_text_message(message.sender_id, reply["text"])


# -- the bridge under test --------------------------------------------------------------------------


def bridge_app(runtime: WeChatRuntime | None) -> Sanic:
    """A web app with only the WeChat blueprint (`create_app` is covered by its own test)."""
    app = Sanic(f"wechat_bridge_{next(_numbers)}", error_handler=JsonErrorHandler(), configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1024 * 1024
    app.ctx.wechat = runtime
    app.blueprint(wechat_routes.blueprint())
    return app


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own in Redis db 15, removed afterwards; skipped without Redis unless
    CHUISHAO_REQUIRE_REDIS=1."""
    if not redis_reachable():
        if os.environ.get("CHUISHAO_REQUIRE_REDIS") == "1":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 (CHUISHAO_REQUIRE_REDIS=1)")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    prefix = f"chuishao-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        keys += list(client.scan_iter(match=f"chuishao:wechatpy:{redis_appid_for(prefix)}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def redis_appid_for(prefix: str) -> str:
    """The appid of a test that uses `prefix`: wechatpy's token keys are named by appid."""
    return "wx" + prefix.split(":")[1]


@pytest.fixture
def redis_appid(redis_prefix: str) -> str:
    return redis_appid_for(redis_prefix)


@pytest.fixture
def redis_store_factory(redis_prefix: str) -> Callable[[], SharedStore]:
    return lambda: RedisStore(TEST_REDIS_URL, prefix=redis_prefix)


@pytest.fixture
async def fake_wechat_api(serve) -> AsyncIterator[tuple[FakeWeChatApi, str]]:
    """The fake WeChat API alone, served; yields it and the WECHAT_API_BASE that points at it."""
    api = FakeWeChatApi(f"wx{uuid.uuid4().hex[:16]}", secrets.token_hex(16))
    async with serve(api.app) as url:
        yield api, url + "/cgi-bin/"


@dataclass
class WeChatWorld:
    """Fake Rasa, fake WeChat API, one or more bridge apps, and a simulator for each."""

    rasa: FakeRasa
    api: FakeWeChatApi
    simulators: List[WeChatSimulator]
    runtimes: List[WeChatRuntime]

    @property
    def wechat(self) -> WeChatSimulator:
        return self.simulators[0]


@pytest.fixture
def wechat_world(make_settings, serve) -> Callable[..., Any]:
    """`async with wechat_world(safe=True, passive_seconds=1.0) as world:` starts everything."""

    @asynccontextmanager
    async def start(
        *,
        safe: bool = False,
        processes: int = 1,
        store_factory: Callable[[], SharedStore] = MemoryStore,
        rasa_up: bool = True,
        **bridge_options: float,
    ) -> AsyncIterator[WeChatWorld]:
        appid = f"wx{uuid.uuid4().hex[:16]}"
        token, secret = secrets.token_hex(8), secrets.token_hex(16)
        aes_key = random_aes_key() if safe else ""
        rasa, api = FakeRasa(), FakeWeChatApi(appid, secret)
        async with AsyncExitStack() as stack:
            rasa_url = await stack.enter_async_context(serve(rasa.app)) if rasa_up else "http://127.0.0.1:9"
            api_url = await stack.enter_async_context(serve(api.app))
            settings = make_settings(
                wechat_token=token,
                wechat_appid=appid,
                wechat_app_secret=secret,
                wechat_aes_key=aes_key,
                wechat_api_base=api_url + "/cgi-bin/",
                rasa_url=rasa_url,
                internal_api_token="test-internal-token",
            )
            simulators, runtimes = [], []
            for _ in range(processes):
                runtime = WeChatRuntime.from_settings(settings, store=store_factory(), **bridge_options)
                assert runtime is not None
                runtimes.append(runtime)
                base = await stack.enter_async_context(serve(bridge_app(runtime)))
                simulators.append(WeChatSimulator(base, token, appid, aes_key))
            yield WeChatWorld(rasa, api, simulators, runtimes)
            for runtime in runtimes:
                await runtime.bridge.drain(timeout=10)

    return start
