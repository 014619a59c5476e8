"""Staff replies to WeChat users, through WeChat's customer-service message API.

Implements `bot.handoff.delivery.Delivery` for tickets whose channel is "wechat". WeChat only lets an
account message a user within 48 hours of the user's last message (errcode 45015 after that); that
and every other refusal is returned as a failed `DeliveryResult` with a Chinese reason, which the
handoff service stores on the message and in the audit log for staff to see.
"""

from __future__ import annotations

import logging
from typing import Callable

from bot.db.models import Ticket, TicketMessage
from bot.handoff.delivery import DeliveryResult
from bot.wechat import texts
from bot.wechat.bridge import SENDER_PREFIX
from bot.wechat.client import SendError, WeChatApi
from bot.wechat.formatting import MAX_TEXT_BYTES, split_text

logger = logging.getLogger(__name__)


def staff_text(message: TicketMessage, department_name: Callable[[str], str] | None = None) -> str:
    """The reply as the user reads it: staff messages carry name, department and number (三亮)."""
    if message.direction != "out" or not message.staff_name:
        return message.text
    department = message.staff_department or ""
    if department and department_name is not None:
        department = department_name(department) or department
    template = texts.STAFF_REPLY if message.staff_number else texts.STAFF_REPLY_NO_NUMBER
    return template.format(
        department=department, name=message.staff_name, number=message.staff_number, text=message.text
    )


class WeChatDelivery:
    """Delivers ticket messages to `wechat:<openid>` conversations."""

    def __init__(self, api: WeChatApi | None, department_name: Callable[[str], str] | None = None) -> None:
        self.api = api
        self.department_name = department_name

    async def deliver(self, ticket: Ticket, message: TicketMessage) -> DeliveryResult:
        conversation = ticket.conversation_id or ""
        if not conversation.startswith(SENDER_PREFIX) or len(conversation) == len(SENDER_PREFIX):
            return DeliveryResult.failed(texts.FAILED_NOT_WECHAT.format(conversation=conversation))
        if self.api is None:
            return DeliveryResult.failed(texts.FAILED_NOT_CONFIGURED)
        openid = conversation[len(SENDER_PREFIX) :]
        chunks = split_text(staff_text(message, self.department_name), MAX_TEXT_BYTES)
        for sent, chunk in enumerate(chunks):
            try:
                await self.api.send_text(openid, chunk)
            except SendError as error:
                logger.warning("Ticket %s: WeChat refused message %s: %s", ticket.id, message.id, error)
                if error.window_closed:
                    reason = texts.FAILED_WINDOW_CLOSED
                elif error.errcode is None:
                    reason = texts.FAILED_UNREACHABLE.format(errmsg=error.errmsg)
                else:
                    reason = texts.FAILED_API_ERROR.format(errcode=error.errcode, errmsg=error.errmsg)
                if sent:
                    reason += texts.FAILED_PARTLY.format(sent=sent, total=len(chunks))
                return DeliveryResult.failed(reason)
        return DeliveryResult.delivered()
