"""`GET /wechat` (WeChat's URL verification) and `POST /wechat` (messages, plain and safe mode).

Order of checks on a message: the URL signature (403, nothing processed), the body size (413), the
XML's shape with defusedxml before wechatpy parses anything (400: no DTD, entity or external
reference is ever expanded), then in safe mode the message signature and decryption, and the same
XML check on the decrypted text. When WECHAT_TOKEN is empty the bridge is not configured and both
routes answer 503 with a Chinese reason.
"""

from __future__ import annotations

import binascii
import logging
import re
import time
from typing import Any

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.wechat import texts
from bot.wechat.delivery import WeChatDelivery
from bot.wechat.runtime import WeChatRuntime

logger = logging.getLogger(__name__)

# WeChat's messages are a few hundred bytes; encrypted ones about a third more.
MAX_BODY_BYTES = 64 * 1024
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason, "status": status}, status=status, ensure_ascii=False)


def _check_xml(raw: bytes | str) -> None:
    """Refuse anything but a plain XML document whose root is <xml>, before any parser expands it."""
    try:
        root = safe_xml.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadRequest(400, texts.ERROR_FORBIDDEN_XML) from None
    except (safe_xml.ParseError, ValueError, TypeError):
        raise BadRequest(400, texts.ERROR_BAD_XML) from None
    if root.tag != "xml":
        raise BadRequest(400, texts.ERROR_BAD_XML)


def _check_url_signature(runtime: WeChatRuntime, request: Request) -> tuple[str, str]:
    signature, timestamp, nonce = (request.args.get(name) for name in ("signature", "timestamp", "nonce"))
    if not signature or not timestamp or not nonce:
        raise BadRequest(403, texts.ERROR_MISSING_PARAMS)
    try:
        check_signature(runtime.token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise BadRequest(403, texts.ERROR_BAD_SIGNATURE) from None
    return timestamp, nonce


def _decrypt(runtime: WeChatRuntime, request: Request, body: bytes, timestamp: str, nonce: str) -> str:
    if runtime.crypto is None:
        raise BadRequest(400, texts.ERROR_NO_AES_KEY)
    msg_signature = request.args.get("msg_signature")
    if not msg_signature:
        raise BadRequest(403, texts.ERROR_MISSING_PARAMS)
    try:
        return runtime.crypto.decrypt_message(body, msg_signature, timestamp, nonce)
    except InvalidSignatureException:
        raise BadRequest(403, texts.ERROR_BAD_SIGNATURE) from None
    except KeyError:  # no <Encrypt> element
        raise BadRequest(400, texts.ERROR_BAD_XML) from None
    except (InvalidAppIdException, ValueError, TypeError, binascii.Error, UnicodeDecodeError, IndexError):
        raise BadRequest(400, texts.ERROR_DECRYPT) from None


def _parse(raw: bytes | str) -> BaseMessage:
    """wechatpy's message, with the fields the bridge relies on checked."""
    _check_xml(raw)
    try:
        message = parse_message(raw)
        source, target, _key = message.source, message.target, (message.id, message.time)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise BadRequest(400, texts.ERROR_BAD_XML) from None
    if not isinstance(source, str) or not _OPENID.match(source) or not isinstance(target, str):
        raise BadRequest(400, texts.ERROR_BAD_XML)
    for name in ("Content", "Recognition", "Event"):
        if message._data.get(name) is not None and not isinstance(message._data[name], str):
            raise BadRequest(400, texts.ERROR_BAD_XML)
    return message


def _department_name(app: Sanic, code: str) -> str:
    """The department's name for the 三亮 line, once the handoff service is up; else its code."""
    tickets = getattr(app.ctx, "tickets", None)
    return (tickets.department_name(code) if tickets is not None else None) or code


def _runtime(request: Request) -> WeChatRuntime | None:
    return getattr(request.app.ctx, "wechat", None)


def blueprint() -> Blueprint:
    routes = Blueprint("wechat")

    @routes.listener("before_server_start")
    async def start(app: Sanic, _loop: Any) -> None:
        if not hasattr(app.ctx, "wechat"):  # tests may install their own runtime
            app.ctx.wechat = WeChatRuntime.from_settings(app.ctx.settings)
        deliveries = getattr(app.ctx, "deliveries", None)
        if app.ctx.wechat is not None and deliveries is not None:
            # Staff replies to tickets opened from WeChat go out through the customer-service API.
            deliveries.register(
                "wechat", WeChatDelivery(app.ctx.wechat.api, lambda code: _department_name(app, code))
            )

    @routes.listener("after_server_stop")
    async def stop(app: Sanic, _loop: Any) -> None:
        runtime = getattr(app.ctx, "wechat", None)
        if runtime is not None:
            await runtime.close()

    @routes.get("/wechat")
    async def verify(request: Request) -> HTTPResponse:
        """WeChat's URL verification: echo `echostr` when the signature is right."""
        runtime = _runtime(request)
        if runtime is None:
            return _error(503, texts.ERROR_NOT_CONFIGURED)
        try:
            _check_url_signature(runtime, request)
        except BadRequest as error:
            return _error(error.status, error.reason)
        return response.text(request.args.get("echostr", ""))

    @routes.post("/wechat")
    async def receive(request: Request) -> HTTPResponse:
        received_at = time.monotonic()
        runtime = _runtime(request)
        if runtime is None:
            return _error(503, texts.ERROR_NOT_CONFIGURED)
        try:
            timestamp, nonce = _check_url_signature(runtime, request)
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                raise BadRequest(413, texts.ERROR_BODY_TOO_LARGE.format(limit=MAX_BODY_BYTES // 1024))
            encrypted = request.args.get("encrypt_type", "raw").lower() == "aes"
            if encrypted:
                _check_xml(body)
                plain = _decrypt(runtime, request, body, timestamp, nonce)
                message = _parse(plain)
            else:
                message = _parse(body)
        except BadRequest as error:
            logger.info("Refused a WeChat callback: %s", error.reason)
            return _error(error.status, error.reason)

        text = await runtime.bridge.handle(message, received_at)
        if text is None:
            return response.text("success")
        # Content goes into a CDATA section, which a literal "]]>" would end early.
        reply = TextReply(message=message, content=text.replace("]]>", "]]]]><![CDATA[>")).render()
        if encrypted:
            reply = runtime.crypto.encrypt_message(reply, nonce, timestamp)  # type: ignore[union-attr]
        return response.text(reply, content_type="application/xml; charset=utf-8")

    return routes
