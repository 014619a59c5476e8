"""Staff replies to WeChat users through the fake WeChat API, as the handoff service calls them."""

from __future__ import annotations

from bot.db.models import Ticket, TicketMessage
from bot.handoff.delivery import DeliveryRegistry
from bot.wechat import texts
from bot.wechat.client import ERRCODE_WINDOW_CLOSED, WeChatApi, build_client
from bot.wechat.delivery import WeChatDelivery

OPENID = "oStaff00000000000000000001"
DEPARTMENTS = {"hz-scjg": "菏泽市市场监督管理局"}


def ticket(conversation: str = f"wechat:{OPENID}") -> Ticket:
    return Ticket(id="HZ-20261126-0001", conversation_id=conversation, channel="wechat")


def staff_message(text: str) -> TicketMessage:
    return TicketMessage(
        id=7, text=text, direction="out", staff_name="王敏", staff_department="hz-scjg", staff_number="HZ0371"
    )


def delivery_for(make_settings, api, base: str) -> WeChatDelivery:
    settings = make_settings(
        wechat_token="t",
        wechat_appid=api.appid,
        wechat_app_secret=api.secret,
        wechat_api_base=base,
        internal_api_token="test-internal-token",
    )
    return WeChatDelivery(WeChatApi(build_client(settings)), department_name=DEPARTMENTS.get)


async def test_staff_reply_reaches_the_user_with_name_department_and_number(
    make_settings, fake_wechat_api
) -> None:
    api, base = fake_wechat_api
    registry = DeliveryRegistry()
    registry.register("wechat", delivery_for(make_settings, api, base))
    result = await registry.deliver(ticket(), staff_message("您好，变更备案请携带营业执照原件。"))
    assert result.status == "delivered" and result.error is None
    assert api.texts_to(OPENID) == [
        "【菏泽市市场监督管理局 王敏（工号HZ0371）回复】\n您好，变更备案请携带营业执照原件。"
    ]


async def test_bot_message_after_resolve_goes_out_as_is(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    message = TicketMessage(id=8, text="您的问题解决了吗？", direction="bot")
    result = await delivery_for(make_settings, api, base).deliver(ticket(), message)
    assert result.status == "delivered"
    assert api.texts_to(OPENID) == ["您的问题解决了吗？"]


async def test_closed_48_hour_window_is_a_failure_staff_can_read(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    api.errors[OPENID] = ERRCODE_WINDOW_CLOSED
    result = await delivery_for(make_settings, api, base).deliver(ticket(), staff_message("您好"))
    assert result.status == "failed"
    assert result.error == texts.FAILED_WINDOW_CLOSED
    assert api.sent == []


async def test_other_errcodes_are_reported_with_the_code(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    api.errors[OPENID] = 45047
    result = await delivery_for(make_settings, api, base).deliver(ticket(), staff_message("您好"))
    assert result.status == "failed" and "45047" in result.error


async def test_a_long_reply_arrives_whole_in_parts(make_settings, fake_wechat_api) -> None:
    api, base = fake_wechat_api
    text = "\n".join(f"第{n}项材料：营业执照副本复印件一份，加盖公章。" * 6 for n in range(1, 15))
    result = await delivery_for(make_settings, api, base).deliver(ticket(), staff_message(text))
    parts = api.texts_to(OPENID)
    assert result.status == "delivered"
    assert len(parts) > 1 and all(len(part.encode()) <= 2048 for part in parts)
    assert "\n".join(parts).endswith(text)


async def test_not_a_wechat_conversation_or_no_api_fails_without_sending(
    make_settings, fake_wechat_api
) -> None:
    api, base = fake_wechat_api
    wrong = await delivery_for(make_settings, api, base).deliver(ticket("web-123"), staff_message("您好"))
    unconfigured = await WeChatDelivery(None).deliver(ticket(), staff_message("您好"))
    assert wrong.status == "failed" and "web-123" in wrong.error
    assert unconfigured.error == texts.FAILED_NOT_CONFIGURED
    assert api.sent == []
