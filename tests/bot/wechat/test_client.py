"""wechatpy's client against the fake WeChat API: base URL, token ownership, error codes."""

from __future__ import annotations

import asyncio

import pytest

from bot.wechat.client import ERRCODE_WINDOW_CLOSED, SendError, WeChatApi, build_client

OPENID = "oClient00000000000000000001"


def settings_for(make_settings, api, base: str, **values: object):
    return make_settings(
        wechat_token="t",
        wechat_appid=api.appid,
        wechat_app_secret=api.secret,
        wechat_api_base=base,
        internal_api_token="test-internal-token",
        **values,
    )


async def test_messages_go_to_the_configured_api_base_with_one_token(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    client = WeChatApi(build_client(settings_for(make_settings, api, base)))
    await client.send_text(OPENID, "第一条")
    await client.send_text(OPENID, "第二条")
    assert api.texts_to(OPENID) == ["第一条", "第二条"]
    assert api.token_requests == 1


async def test_processes_sharing_redis_fetch_the_token_once(
    make_settings, fake_wechat_api, redis_prefix, redis_appid
) -> None:
    api, base = fake_wechat_api
    api.appid = redis_appid  # wechatpy's token keys are named by appid; the fixture removes them
    settings = settings_for(make_settings, api, base, redis_url="redis://127.0.0.1:6379/15")
    processes = [WeChatApi(build_client(settings)) for _ in range(3)]
    await asyncio.gather(*(p.send_text(OPENID, f"消息{n}") for n, p in enumerate(processes * 2)))
    assert api.token_requests == 1  # a second fetch would have invalidated the first token
    assert sorted(api.texts_to(OPENID)) == sorted(f"消息{n}" for n in range(6))


async def test_closed_48_hour_window_is_reported_as_such(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    api.errors[OPENID] = ERRCODE_WINDOW_CLOSED
    client = WeChatApi(build_client(settings_for(make_settings, api, base)))
    with pytest.raises(SendError) as raised:
        await client.send_text(OPENID, "您好")
    assert raised.value.window_closed
    assert api.sent == []


async def test_unreachable_api_is_a_send_error_without_errcode(make_settings) -> None:
    settings = make_settings(
        wechat_appid="wx1",
        wechat_app_secret="s",
        wechat_api_base="http://127.0.0.1:9/cgi-bin/",
        internal_api_token="test-internal-token",
    )
    with pytest.raises(SendError) as raised:
        await WeChatApi(build_client(settings)).send_text(OPENID, "您好")
    assert raised.value.errcode is None and not raised.value.window_closed
