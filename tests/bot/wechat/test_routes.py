"""/wechat through the WeChat simulator: what a WeChat user would see, and what Rasa is asked."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot import texts as common_texts
from bot.app import create_app
from bot.wechat import texts
from bot.wechat.formatting import utf8_len

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>oAAAA</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oAAAA</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""


# -- URL verification and configuration --------------------------------------------------------


async def test_url_verification_echoes_echostr_only_with_the_right_signature(wechat_world) -> None:
    async with wechat_world() as world:
        wechat = world.wechat
        async with httpx.AsyncClient(timeout=10) as client:
            good = await client.get(wechat.url, params={**wechat.signed_query(), "echostr": "8514693757"})
            bad = await client.get(
                wechat.url, params={**wechat.signed_query("wrong"), "echostr": "8514693757"}
            )
            unsigned = await client.get(wechat.url, params={"echostr": "1"})
    assert (good.status_code, good.text) == (200, "8514693757")
    assert bad.status_code == 403 and bad.json()["error"] == texts.ERROR_BAD_SIGNATURE
    assert unsigned.status_code == 403


async def test_unconfigured_bridge_answers_503_with_a_chinese_reason(make_settings, serve) -> None:
    app = create_app(
        make_settings(internal_api_token="test-internal-token")
    )  # WECHAT_TOKEN empty; also checks the blueprint is registered
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as client:
        get = await client.get(base + "/wechat", params={"echostr": "1"})
        post = await client.post(base + "/wechat", content=b"<xml/>")
    for answer in (get, post):
        assert answer.status_code == 503
        assert answer.json()["error"] == texts.ERROR_NOT_CONFIGURED


# -- conversations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
async def test_text_is_one_rasa_turn_of_the_openids_conversation_and_a_passive_reply(
    wechat_world, safe
) -> None:
    async with wechat_world(safe=safe) as world:
        world.rasa.script = lambda m: [
            {"text": "二类医疗器械备案变更需要以下材料：……"},
            {"custom": {"type": "procedure_answer", "aspect": "materials"}},
        ]
        reply = await world.wechat.post(
            world.wechat.text("oUser0000000000000000000001", "二类医疗器械备案要带什么材料")
        )
    assert reply.status == 200
    assert reply.fields["MsgType"] == "text"
    assert reply.content == "二类医疗器械备案变更需要以下材料：……"
    assert reply.fields["ToUserName"] == "oUser0000000000000000000001"
    assert reply.fields["FromUserName"] == "gh_test"
    [turn] = world.rasa.turns
    assert turn.sender_id == "wechat:oUser0000000000000000000001"
    assert turn.text == "二类医疗器械备案要带什么材料"
    assert turn.input_channel == "wechat"
    assert world.api.sent == []


async def test_concurrent_retries_make_one_turn_and_every_attempt_gets_the_same_reply(wechat_world) -> None:
    async with wechat_world(safe=True) as world:
        world.rasa.delay = 0.4
        openid = "oRetry00000000000000000001"
        replies = await world.wechat.post_with_retries(
            world.wechat.text(openid, "社保登记怎么办"), attempts=3
        )
    assert len(world.rasa.turns) == 1
    assert [reply.content for reply in replies] == ["收到：社保登记怎么办"] * 3
    assert world.api.sent == []


async def test_slow_answer_is_success_now_and_one_customer_service_message_later(wechat_world) -> None:
    async with wechat_world(passive_seconds=0.5) as world:
        world.rasa.delay = 1.2
        openid = "oSlow000000000000000000001"
        replies = await world.wechat.post_with_retries(
            world.wechat.text(openid, "食品经营许可多久能办好"), attempts=3
        )
        assert all(reply.success for reply in replies), replies
        sent = await world.api.wait_for_messages(openid, 1)
        await asyncio.sleep(0.3)  # nothing else may follow
    assert len(world.rasa.turns) == 1
    assert sent == ["收到：食品经营许可多久能办好"]
    assert world.api.texts_to(openid) == sent
    assert world.api.token_requests == 1


async def test_long_answer_is_split_within_wechats_limit_and_the_rest_follows(wechat_world) -> None:
    paragraphs = [f"第{n}条：" + "申请材料须加盖公章并提交原件核验。" * 12 for n in range(1, 9)]
    async with wechat_world(remainder_delay_seconds=0.0) as world:
        world.rasa.script = lambda m: [{"text": "\n".join(paragraphs)}]
        openid = "oLong000000000000000000001"
        reply = await world.wechat.post(world.wechat.text(openid, "材料"))
        await asyncio.sleep(0.5)
        rest = world.api.texts_to(openid)
    parts = [reply.content] + rest
    assert len(parts) >= 2
    assert all(utf8_len(part) <= 2048 for part in parts)
    assert "\n".join(parts) == "\n".join(paragraphs)  # nothing lost, nothing cut mid-paragraph


async def test_buttons_become_numbered_options_and_a_digit_sends_the_payload(wechat_world) -> None:
    buttons = [
        {"title": "第二类医疗器械经营备案", "payload": '/ask_procedure{"procedure_id": "med-2"}'},
        {"title": "第三类医疗器械经营许可", "payload": '/ask_procedure{"procedure_id": "med-3"}'},
    ]
    async with wechat_world() as world:
        world.rasa.script = lambda m: (
            [{"text": "您要办理的是哪一项？", "buttons": buttons}, {"custom": {"type": "clarify"}}]
            if m.text == "我想变更法人"
            else [{"text": f"收到：{m.text}"}]
        )
        openid = "oButton0000000000000000001"
        first = await world.wechat.post(world.wechat.text(openid, "我想变更法人"))
        second = await world.wechat.post(world.wechat.text(openid, "２"))
        third = await world.wechat.post(world.wechat.text(openid, "2"))
    assert first.content == (
        "您要办理的是哪一项？\n\n回复数字选择：\n1. 第二类医疗器械经营备案\n2. 第三类医疗器械经营许可"
    )
    assert [turn.text for turn in world.rasa.turns] == [
        "我想变更法人",
        '/ask_procedure{"procedure_id": "med-3"}',
        "2",  # the options were answered; a later digit is just a digit
    ]
    assert second.content == '收到：/ask_procedure{"procedure_id": "med-3"}'
    assert third.content == "收到：2"


async def test_subscribe_greets_voice_uses_recognition_images_ask_for_text(wechat_world) -> None:
    async with wechat_world(safe=True) as world:
        wechat, openid = world.wechat, "oMedia000000000000000000001"
        greeting = await wechat.post(wechat.event(openid, "subscribe"))
        voice = await wechat.post(wechat.voice(openid, "营业执照怎么办"))
        unrecognised = await wechat.post(wechat.voice(openid, None))
        image = await wechat.post(wechat.image(openid))
        unknown = await wechat.post(wechat._xml(openid, "hologram", "<Data>x</Data>"))
        unsubscribe = await wechat.post(wechat.event(openid, "unsubscribe"))
    assert greeting.content == texts.GREETING
    assert voice.content == "收到：营业执照怎么办"
    assert unrecognised.content == texts.VOICE_NOT_RECOGNISED
    assert image.content == texts.PLEASE_TYPE
    assert unknown.content == texts.PLEASE_TYPE
    assert unsubscribe.success
    assert [turn.text for turn in world.rasa.turns] == ["营业执照怎么办"]


async def test_a_retried_event_greets_once(wechat_world) -> None:
    async with wechat_world() as world:
        xml = world.wechat.event("oEvent000000000000000000001", "subscribe", create_time=1764000000)
        replies = await world.wechat.post_with_retries(xml)
    assert [reply.content for reply in replies] == [texts.GREETING] * 3


async def test_rasa_down_gets_a_polite_chinese_text(wechat_world) -> None:
    async with wechat_world(rasa_up=False) as world:
        reply = await world.wechat.post(world.wechat.text("oDown000000000000000000001", "你好"))
    assert reply.content == common_texts.SERVICE_UNAVAILABLE


# -- bad input ---------------------------------------------------------------------------------


async def test_wrong_signature_is_403_and_nothing_is_processed(wechat_world) -> None:
    async with wechat_world(safe=True) as world:
        wechat = world.wechat
        wrong_url = await wechat.post(
            wechat.text("oBad0000000000000000000001", "你好"), token="not-the-token"
        )
        query, body = wechat.request(wechat.text("oBad0000000000000000000001", "你好"))
        query["msg_signature"] = "0" * 40  # the URL signature is right, the message signature is not
        async with httpx.AsyncClient(timeout=10) as client:
            wrong_msg = await client.post(wechat.url, params=query, content=body)
    assert wrong_url.status == 403
    assert wrong_msg.status_code == 403 and wrong_msg.json()["error"] == texts.ERROR_BAD_SIGNATURE
    assert world.rasa.turns == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, texts.ERROR_FORBIDDEN_XML),
        (EXTERNAL_ENTITY, texts.ERROR_FORBIDDEN_XML),
        ("<xml><MsgType>text</MsgType>", texts.ERROR_BAD_XML),
        ("not xml at all", texts.ERROR_BAD_XML),
        ("<root><MsgType>text</MsgType></root>", texts.ERROR_BAD_XML),
        ("<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime></xml>", texts.ERROR_BAD_XML),
        (
            "<xml><ToUserName>gh</ToUserName><FromUserName><a>1</a></FromUserName>"
            "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>3</MsgId></xml>",
            texts.ERROR_BAD_XML,
        ),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "truncated",
        "not-xml",
        "wrong-root",
        "no-type",
        "nested-openid",
    ],
)
async def test_hostile_or_malformed_xml_is_400_and_never_reaches_rasa(wechat_world, body, reason) -> None:
    async with wechat_world() as world:
        reply = await world.wechat.post(body, raw=True)
    assert reply.status == 400
    assert reason in reply.raw
    assert world.rasa.turns == []


async def test_hostile_xml_inside_the_encrypted_envelope_is_400(wechat_world) -> None:
    async with wechat_world(safe=True) as world:
        reply = await world.wechat.post(BILLION_LAUGHS)  # encrypted and correctly signed
    assert reply.status == 400
    assert texts.ERROR_FORBIDDEN_XML in reply.raw
    assert world.rasa.turns == []


async def test_oversized_body_is_413(wechat_world) -> None:
    async with wechat_world() as world:
        content = "长" * 30000  # about 90 KB
        reply = await world.wechat.post(world.wechat.text("oBig0000000000000000000001", content))
    assert reply.status == 413
    assert "请求体过大" in reply.raw
    assert world.rasa.turns == []


# -- several web-app processes, one Redis --------------------------------------------------------


async def test_retries_spread_over_two_processes_make_one_turn(wechat_world, redis_store_factory) -> None:
    async with wechat_world(processes=2, store_factory=redis_store_factory) as world:
        world.rasa.delay = 0.4
        first, second = world.simulators
        xml = first.text("oTwo0000000000000000000001", "税务登记")
        replies = await asyncio.gather(first.post(xml), second.post(xml), second.post(xml))
    assert len(world.rasa.turns) == 1
    assert [reply.content for reply in replies] == ["收到：税务登记"] * 3
