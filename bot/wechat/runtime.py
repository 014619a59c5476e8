"""Everything the /wechat route needs, built once per web-app process from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from wechatpy.crypto import WeChatCrypto

from bot.settings import Settings
from bot.wechat.bridge import WeChatBridge
from bot.wechat.client import WeChatApi, build_client
from bot.wechat.store import MemoryStore, RedisStore, SharedStore

logger = logging.getLogger(__name__)

# Rasa's REST channel answers within REPLY_DEADLINE_SECONDS; this margin covers the HTTP round trip.
RASA_TIMEOUT_MARGIN_SECONDS = 5.0


@dataclass
class WeChatRuntime:
    token: str
    crypto: WeChatCrypto | None
    bridge: WeChatBridge
    api: WeChatApi | None
    store: SharedStore
    http: httpx.AsyncClient

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: SharedStore | None = None, **bridge_options: float
    ) -> WeChatRuntime | None:
        """None when WECHAT_TOKEN is empty: the bridge is not configured and /wechat says so."""
        token = settings.wechat_token.get_secret_value()
        if not token:
            return None
        aes_key = settings.wechat_aes_key.get_secret_value()
        crypto = None
        if aes_key:
            try:
                crypto = WeChatCrypto(token, aes_key, settings.wechat_appid)
            except (AssertionError, ValueError) as error:  # wechatpy asserts a 32-byte key
                raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from error
        api = None
        if settings.wechat_appid and settings.wechat_app_secret.get_secret_value():
            api = WeChatApi(build_client(settings))
        else:
            logger.warning(
                "WECHAT_APPID / WECHAT_APP_SECRET are not set: answers slower than WeChat's 5 s and staff "
                "replies cannot reach WeChat users"
            )
        if store is None:
            store = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
        http = httpx.AsyncClient()
        bridge = WeChatBridge(
            rasa_url=str(settings.rasa_url),
            http=http,
            store=store,
            api=api,
            rasa_timeout_seconds=settings.reply_deadline_seconds + RASA_TIMEOUT_MARGIN_SECONDS,
            **bridge_options,
        )
        return cls(token=token, crypto=crypto, bridge=bridge, api=api, store=store, http=http)

    async def close(self, drain_seconds: float = 10.0) -> None:
        """Let answers on their way go out, then close the connections."""
        await self.bridge.drain(timeout=drain_seconds)
        await self.http.aclose()
        await self.store.close()
