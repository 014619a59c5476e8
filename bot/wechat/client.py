"""wechatpy's API client, pointed at WECHAT_API_BASE, with timeouts and one access_token owner.

wechatpy 1.8.18 is synchronous (requests): `WeChatApi` runs its calls in a thread so the event loop
keeps serving WeChat's callbacks. Each call to WeChat's token endpoint invalidates the token other
processes hold (after a short grace period), so with Redis configured the token lives in wechatpy's
`RedisStorage` and a Redis lock makes one process fetch it while the others wait and reuse it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, ContextManager, Dict

import redis
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from bot.settings import Settings

logger = logging.getLogger(__name__)

API_TIMEOUT_SECONDS = 5.0
TOKEN_LOCK_SECONDS = 30.0
REDIS_PREFIX = "chuishao:wechatpy"

# errcode of the customer-service message API when the user's last message is over 48 hours old.
ERRCODE_WINDOW_CLOSED = 45015


class _DefaultTimeoutAdapter(HTTPAdapter):
    """wechatpy's token request passes no timeout to requests; this adapter supplies one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class ChuishaoWeChatClient(WeChatClient):
    """`WeChatClient` whose every URL, the token's included, starts at `api_base`."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base: str,
        session: Any = None,
        token_lock: Callable[[], ContextManager[Any]] | None = None,
        timeout: float = API_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(appid, secret, session=session or MemoryStorage(), timeout=timeout)
        self.API_BASE_URL = api_base.rstrip("/") + "/"
        self._token_lock = token_lock
        # The token each thread last used: calls run in executor threads that share this client.
        self._used = threading.local()
        adapter = _DefaultTimeoutAdapter(timeout)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def _fetch(self) -> Dict[str, Any]:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    @property
    def access_token(self) -> str:
        token = super().access_token
        self._used.token = token
        return token

    def fetch_access_token(self) -> Dict[str, Any]:
        """Fetch a new token, unless another caller stored a newer one than this thread used."""
        if self._token_lock is None:
            return self._fetch()
        with self._token_lock():
            current = self.session.get(self.access_token_key)
            if current and current != getattr(self._used, "token", None):
                self.expires_at = None  # the storage's TTL now says when it expires
                return {"access_token": current}
            return self._fetch()


def build_client(settings: Settings) -> ChuishaoWeChatClient:
    """The API client for the configured account; shares its token through Redis when configured."""
    session = None
    token_lock = None
    if settings.redis_url:
        connection = redis.Redis.from_url(
            settings.redis_url, socket_timeout=API_TIMEOUT_SECONDS, socket_connect_timeout=API_TIMEOUT_SECONDS
        )
        session = RedisStorage(connection, prefix=f"{REDIS_PREFIX}:{settings.wechat_appid}")
        lock_name = f"{REDIS_PREFIX}:{settings.wechat_appid}:token-lock"

        def token_lock() -> ContextManager[Any]:
            return connection.lock(lock_name, timeout=TOKEN_LOCK_SECONDS, blocking_timeout=TOKEN_LOCK_SECONDS)

    return ChuishaoWeChatClient(
        settings.wechat_appid,
        settings.wechat_app_secret.get_secret_value(),
        api_base=settings.wechat_api_base,
        session=session,
        token_lock=token_lock,
    )


class SendError(Exception):
    """A customer-service message was not sent; `errcode` is WeChat's (None: no answer from WeChat)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def window_closed(self) -> bool:
        return self.errcode == ERRCODE_WINDOW_CLOSED


class WeChatApi:
    """The few API calls the bridge makes, awaitable."""

    def __init__(self, client: ChuishaoWeChatClient) -> None:
        self.client = client

    async def send_text(self, openid: str, text: str) -> None:
        """Send a customer-service text message; raise `SendError` when WeChat did not take it."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.client.message.send_text, openid, text)
        except WeChatClientException as error:
            raise SendError(error.errcode, str(error.errmsg)) from error
        except Exception as error:  # noqa: BLE001 - requests/redis errors: WeChat was not reached
            raise SendError(None, f"{type(error).__name__}: {error}") from error
