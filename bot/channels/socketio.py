"""Chuishao's socket.io channel, for the web widget: Rasa's socketio channel, fixed and made multi-process.

Registered in credentials.yml as `bot.channels.socketio.ChuishaoSocketIOInput`; `name()` stays
"socketio", so the socket.io endpoint stays `/socket.io` and trackers record `socketio` as the input
channel. Compared with `rasa.core.channels.socketio.SocketIOInput` it

- awaits `AsyncServer.enter_room` when it is a coroutine (python-socketio 5.10 and later): Rasa calls it
  without `await`, the socket never joins its session's room, and every bot message is lost;
- gives the socket.io server python-socketio's Redis client manager when REDIS_URL is set, so an emit
  to a session's room from any Rasa process or instance, or from the web app (`bot.channels.socketio_push`),
  reaches the socket wherever it is connected; `get_output_channel()` then works in every process too
  (Rasa's returns None outside the process that owns the socket), so `output_channel=socketio` on Rasa's
  tracker events API reaches widget users whichever instance handles the request;
- sends one `bot_uttered` event per bot message, with the text whole (Rasa splits it on blank lines)
  and the machine-readable payload beside it: `{"text"?, "quick_replies"?: [{"content_type": "text",
  "title", "payload"}], "custom"?: {...}, "attachment"?, "image"?}`. Rasa's own `send_custom_json`
  passes the payload's keys to `emit()` as keyword arguments, which fails on Chuishao's payloads;
- validates what the widget sends, as the REST channel does: a malformed event is logged and dropped,
  an empty message gets a prompt, a long one is truncated with a note, `customData` (the page context)
  must be a JSON object of at most METADATA_MAX_BYTES and reaches the tracker as the message metadata;
- keeps the conversation going when Rasa says nothing: if the turn produced no message within
  REPLY_DEADLINE_SECONDS (a failed or slow custom action), the user gets the polite
  `{"type": "service_unavailable"}` message; while the conversation is paused for a member of staff, a
  short note with `{"type": "handoff_paused"}` instead.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Protocol

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import texts

logger = logging.getLogger(__name__)

DEFAULT_REDIS_CHANNEL = "chuishao-socketio"
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
METADATA_MAX_BYTES = 8 * 1024

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class Emitter(Protocol):
    """What sends an event to a room: an `AsyncServer`, or a write-only `AsyncRedisManager`."""

    async def emit(self, event: str, data: Any = None, **kwargs: Any) -> Any: ...


def redis_manager(redis_url: str, channel: str = DEFAULT_REDIS_CHANNEL, write_only: bool = False) -> Any:
    """python-socketio's Redis client manager; no connection is opened until it is first used."""
    import socketio

    return socketio.AsyncRedisManager(redis_url, channel=channel, write_only=write_only)


def bot_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """One Rasa bot message (text, buttons, custom, ...) as the `bot_uttered` data the widget reads."""
    data: Dict[str, Any] = {}
    text = message.get("text")
    if text:
        data["text"] = str(text).strip()
    buttons = message.get("quick_replies") or message.get("buttons") or []
    if buttons:
        data["quick_replies"] = [
            {"content_type": "text", "title": button.get("title", ""), "payload": button.get("payload", "")}
            for button in buttons
            if isinstance(button, dict)
        ]
    custom = message.get("custom")
    if custom:
        data["custom"] = custom
    for key in ("attachment", "image"):
        if message.get(key):
            data[key] = message[key]
    return data


class ChuishaoSocketIOOutput(OutputChannel):
    """Emits each bot message as one `bot_uttered` event to the conversation's room."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, emitter: Emitter, bot_message_evt: str = "bot_uttered", namespace: str | None = None):
        self.emitter = emitter
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.sent = 0  # messages emitted through this channel (one channel per user message)

    async def emit(self, recipient_id: str, data: Dict[str, Any]) -> None:
        if not data:
            return
        await self.emitter.emit(self.bot_message_evt, data=data, room=recipient_id, namespace=self.namespace)
        self.sent += 1

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self.emit(recipient_id, bot_message(message))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.emit(recipient_id, bot_message({"text": text}))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.emit(recipient_id, bot_message({"text": text, "buttons": buttons}))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.emit(recipient_id, bot_message({"text": text, "quick_replies": quick_replies}))

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        await self.emit(recipient_id, {"custom": json_message})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.emit(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}})

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: str, attachment: Dict[str, Any], **kwargs: Any
    ) -> None:
        await self.emit(recipient_id, {"attachment": attachment})

    async def send_elements(
        self, recipient_id: str, elements: Iterable[Dict[str, Any]], **kwargs: Any
    ) -> None:
        for element in elements:
            payload = {"template_type": "generic", "elements": element}
            await self.emit(recipient_id, {"attachment": {"type": "template", "payload": payload}})


def parse_metadata(raw: Any) -> Dict[str, Any]:
    """The page context the widget sends (`customData`): a JSON object, or a JSON string of one."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if len(raw.encode("utf-8")) > METADATA_MAX_BYTES:
            raise ValueError("metadata too large")
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise ValueError("metadata is not an object")
    if len(json.dumps(raw, ensure_ascii=False).encode("utf-8")) > METADATA_MAX_BYTES:
        raise ValueError("metadata too large")
    return raw


def session_id_or_new(data: Any) -> str:
    """The session id the widget asks for (kept across reloads), or a new one if it sent none or junk."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(requested, str) and SESSION_ID_PATTERN.match(requested):
        return requested
    return uuid.uuid4().hex


class ChuishaoSocketIOInput(InputChannel):
    """The socket.io channel of the web widget (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        session_persistence: bool = True,
        socketio_path: str = "/socket.io",
        metadata_key: str = "customData",
        redis_url: str | None = None,
        redis_channel: str = DEFAULT_REDIS_CHANNEL,
        reply_deadline_seconds: float = 4.5,
        max_message_chars: int = 2000,
    ) -> None:
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.session_persistence = session_persistence
        self.socketio_path = socketio_path
        self.metadata_key = metadata_key
        self.redis_url = redis_url
        self.redis_channel = redis_channel
        self.reply_deadline_seconds = reply_deadline_seconds
        self.max_message_chars = max_message_chars
        self.sio: Any = None  # the AsyncServer, once `blueprint()` built it in this process
        self.app: Sanic | None = None
        self._write_only: Any = None
        self._background: set[asyncio.Task] = set()

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> ChuishaoSocketIOInput:
        """Built by Rasa from credentials.yml; REDIS_URL and the limits come from Chuishao's settings."""
        from bot.settings import get_settings

        credentials = credentials or {}
        settings = get_settings()
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=_as_bool(credentials.get("session_persistence", True)),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "customData"),
            redis_url=settings.redis_url,
            redis_channel=credentials.get("redis_channel") or DEFAULT_REDIS_CHANNEL,
            reply_deadline_seconds=settings.reply_deadline_seconds,
            max_message_chars=settings.max_message_chars,
        )

    # -- output ------------------------------------------------------------------------------------

    def get_output_channel(self) -> OutputChannel | None:
        """The socket server of this process; in any other process, a Redis emitter (when configured)."""
        if self.sio is not None:
            return ChuishaoSocketIOOutput(self.sio, self.bot_message_evt, self.namespace)
        if self.redis_url:
            if self._write_only is None:
                self._write_only = redis_manager(self.redis_url, self.redis_channel, write_only=True)
            return ChuishaoSocketIOOutput(self._write_only, self.bot_message_evt, self.namespace)
        logger.warning(
            "The socketio output channel is unavailable in this process and REDIS_URL is not set: "
            "set REDIS_URL when several Rasa processes serve the widget."
        )
        return None

    # -- server --------------------------------------------------------------------------------------

    def make_server(self) -> Any:
        from socketio import AsyncServer

        manager = redis_manager(self.redis_url, self.redis_channel) if self.redis_url else None
        # cors_allowed_origins=[] leaves origins to Sanic, as Rasa does: the widget is served by the web
        # app on another port and connects with the websocket transport, which CORS does not govern.
        return AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=manager)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        sio = self.make_server()
        channel = self

        class _Blueprint(SocketBlueprint):
            def register(self, app: Sanic, options: Dict[str, Any]) -> None:
                channel.app = app  # to read the tracker (paused?) when a turn says nothing
                super().register(app, options)

        webhook = _Blueprint(sio, self.socketio_path, f"chuishao_socketio_{id(self)}", __name__)
        self.sio = sio
        namespace = self.namespace

        @webhook.listener("after_server_start")
        async def start_redis_listener(_app: Sanic, _loop: Any) -> None:
            # python-socketio subscribes to Redis lazily, on the first client connection, so the
            # first replies published before the subscription completes were lost (a widget stuck at
            # "连接中"). Subscribe when the server starts instead, long before the first client.
            if not sio.manager_initialized:
                sio.manager_initialized = True
                sio.manager.initialize()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "redis": bool(self.redis_url)})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: Dict, auth: Dict | None = None) -> bool:
            logger.debug("socket.io client %s connected", sid)
            return True

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            session_id = session_id_or_new(data)
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=namespace)
                if inspect.isawaitable(joined):  # a coroutine since python-socketio 5.10
                    await joined
            # The socket is in this process: answer it directly, not through the Redis queue.
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace, ignore_queue=True)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            await self.handle_user_message(sid, data, on_new_message)

        return webhook

    # -- one user message --------------------------------------------------------------------------

    async def handle_user_message(self, sid: str, data: Any, on_new_message: OnNewMessage) -> None:
        if not isinstance(data, dict):
            logger.info("Dropped a socket.io message that is not an object from %s", sid)
            return
        if self.session_persistence:
            sender_id = data.get("session_id")
            if not isinstance(sender_id, str) or not SESSION_ID_PATTERN.match(sender_id):
                logger.info("Dropped a socket.io message without a valid session_id from %s", sid)
                return
        else:
            sender_id = sid
        message = data.get("message", "")
        if not isinstance(message, str):
            logger.info("Dropped a socket.io message whose text is not a string from %s", sid)
            return
        try:
            metadata = parse_metadata(data.get(self.metadata_key))
        except ValueError as error:
            logger.info("Ignored the metadata of a socket.io message from %s: %s", sid, error)
            metadata = {}

        output = ChuishaoSocketIOOutput(self.sio, self.bot_message_evt, self.namespace)
        message = message.strip()
        if not message:
            await output.emit(sender_id, {"text": texts.EMPTY_MESSAGE})
            return
        if len(message) > self.max_message_chars:
            note = texts.TRUNCATED_MESSAGE.format(length=len(message), limit=self.max_message_chars)
            await output.emit(sender_id, {"text": note})
            message = message[: self.max_message_chars]
            output.sent = 0  # the note is not an answer

        user_message = UserMessage(
            message, output, sender_id, input_channel=self.name(), metadata=metadata or None
        )
        await self.run_turn(user_message, output, on_new_message)

    async def run_turn(
        self, user_message: UserMessage, output: ChuishaoSocketIOOutput, on_new_message: OnNewMessage
    ) -> None:
        """Let Rasa handle the message; say something if it said nothing within the deadline."""
        task = asyncio.ensure_future(on_new_message(user_message))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        failed = False
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.reply_deadline_seconds)
        except asyncio.TimeoutError:
            pass
        except Exception:
            failed = True
            logger.exception("Rasa failed on a socket.io message from %r", user_message.sender_id)
        if output.sent:
            return
        if not failed and task.done() and await self.is_paused(user_message.sender_id):
            await output.emit(
                user_message.sender_id,
                {"text": texts.HANDOFF_PAUSED, "custom": {"type": "handoff_paused"}},
            )
            return
        logger.warning(
            "No reply to %r within %s s; told the user the service is busy.",
            user_message.sender_id,
            self.reply_deadline_seconds,
        )
        await output.emit(
            user_message.sender_id,
            {"text": texts.SERVICE_UNAVAILABLE, "custom": {"type": "service_unavailable"}},
        )

    async def is_paused(self, sender_id: str) -> bool:
        """Whether Rasa's tracker of this conversation is paused (a member of staff has the case)."""
        agent = getattr(getattr(self.app, "ctx", None), "agent", None) if self.app else None
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return False
        try:
            tracker = await agent.tracker_store.retrieve(sender_id)
        except Exception:  # a tracker store failure is logged by Rasa; fall back to "busy"
            return False
        return bool(tracker is not None and tracker.is_paused())


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
