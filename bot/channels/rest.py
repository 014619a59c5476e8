"""Chuishao's REST channel: Rasa's REST webhook, made safe to put in front of users.

Registered in credentials.yml as `bot.channels.rest.ChuishaoRestInput`; `name()` stays "rest", so the
URL stays `/webhooks/rest/webhook`. Compared with `rasa.core.channels.rest.RestInput` it

- validates the body and answers HTTP 400 with `{"error": "<Chinese reason>"}` for a malformed request
  (a programming error of the client), while anything a person could type gets HTTP 200 and an answer:
  an empty message gets a prompt, a message longer than MAX_MESSAGE_CHARS is truncated and the reply
  starts with a note saying so (rejecting it would leave a chat widget or the WeChat bridge with an
  error to translate, for a user who only pasted too much);
- answers within REPLY_DEADLINE_SECONDS: when the deadline passes, when Rasa fails, or when Rasa
  collected nothing to say (a failed custom action is logged by Rasa and then swallowed), the user gets
  a polite message with the custom payload `{"type": "service_unavailable"}`. The message keeps being
  processed in the background (`asyncio.shield`), so the tracker records the whole turn;
- makes Rasa's RemoteAction give up on the action server after ACTION_TIMEOUT_SECONDS instead of 300 s
  (see `limit_remote_action_timeout`), and check the action server's answers against a schema compiled
  once instead of on every call (see `precompile_action_response_schema`);
- honours an `input_channel` field in the body (the WeChat bridge sends "wechat");
- while a member of staff handles the case, Rasa's tracker is paused and Rasa says nothing: instead of
  the service-unavailable message the user then gets a short note with `{"type": "handoff_paused"}`
  (the channel runs inside Rasa and reads the agent's tracker store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Set

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import texts

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
# Sender ids travel unencoded in the paths of Rasa's HTTP API (Sanic 21.12 does not percent-decode
# them), which the handoff service uses to pause and resume a conversation: only URL-safe ids work.
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]+$")
MAX_INPUT_CHANNEL_CHARS = 64
MAX_BODY_BYTES = 256 * 1024
_INPUT_CHANNEL_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
IsPaused = Callable[[str], Awaitable[bool]]


def limit_remote_action_timeout(seconds: float) -> None:
    """Make Rasa's RemoteAction give up on the action server after `seconds` instead of 300.

    `RemoteAction.run` (rasa/core/actions/action.py) calls the action endpoint with
    `timeout=DEFAULT_REQUEST_TIMEOUT`, a name imported from rasa.core.constants into that module and
    looked up in the module's globals at call time. Rasa offers no setting for it: endpoints.yml's
    `action_endpoint` takes none, and `rasa run --request-timeout` is Sanic's request timeout. With
    300 s, a hung action server holds the conversation lock for five minutes while every later message
    of that user waits. Rebinding that one module global is the narrowest change: RemoteAction is its
    only user there, and Rasa's other clients (NLG server, model server) keep their own timeout.

    It is called when the channel is created, inside the Rasa process while Rasa reads
    credentials.yml, never at import time, so importing this module changes nothing.
    """
    import rasa.core.actions.action as rasa_action

    if not hasattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT"):
        logger.warning(
            "rasa.core.actions.action has no DEFAULT_REQUEST_TIMEOUT: this Rasa version is not the one "
            "Chuishao was written for, and the action server timeout stays at Rasa's default."
        )
        return
    rasa_action.DEFAULT_REQUEST_TIMEOUT = seconds
    logger.info("Custom actions time out after %s s.", seconds)


def precompile_action_response_schema() -> None:
    """Validate the action server's answers with a validator built once, not on every custom action.

    `RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`, which first
    checks the schema itself against the JSON Schema meta-schema and builds a new validator: with
    jsonschema 4.17 that takes about 40 ms of CPU per custom action on these machines (py-spy: 27% of
    the Rasa process's time under the bench's load, in the event loop, so every conversation waits).
    This replacement does exactly what `jsonschema.validate` does (same validator class, same
    `best_match` error, and Rasa's text appended to its message), with the schema checked and the
    validator built once: about 0.6 ms per call.

    Called when the channel is created, inside the Rasa process; importing this module changes nothing.
    """
    import rasa.core.actions.action as rasa_action

    remote = getattr(rasa_action, "RemoteAction", None)
    spec = getattr(remote, "action_response_format_spec", None)
    if remote is None or spec is None or not hasattr(remote, "_validate_action_result"):
        logger.warning(
            "rasa.core.actions.action.RemoteAction is not the one Chuishao was written for: the action "
            "server's answers are validated the slow way (jsonschema.validate on every call)."
        )
        return
    if getattr(remote._validate_action_result, "chuishao_precompiled", False):
        return

    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    schema = spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            "Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _validate_action_result.chuishao_precompiled = True  # type: ignore[attr-defined]
    remote._validate_action_result = _validate_action_result


class InvalidWebhookRequest(ValueError):
    """The request body is not what the webhook accepts; `reason` is Chinese, for the client."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class WebhookRequest:
    sender: str
    message: str
    metadata: Dict[str, Any] | None
    input_channel: str
    original_length: int

    @property
    def truncated(self) -> bool:
        return self.original_length > len(self.message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def parse_webhook_request(body: bytes, *, default_channel: str, max_message_chars: int) -> WebhookRequest:
    """Validate the body of a webhook request; raise `InvalidWebhookRequest` with a Chinese reason."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhookRequest(f"请求体过大（超过 {MAX_BODY_BYTES // 1024} KB）。", status=413)
    try:
        data = json.loads(body, parse_constant=_reject_constant) if body else None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidWebhookRequest(texts.ERROR_BODY_NOT_JSON) from None
    if data is None:
        raise InvalidWebhookRequest(texts.ERROR_BODY_NOT_JSON)
    if not isinstance(data, dict):
        raise InvalidWebhookRequest(texts.ERROR_BODY_NOT_OBJECT)

    if "sender" not in data or data["sender"] is None:
        raise InvalidWebhookRequest(texts.ERROR_SENDER_MISSING.format(max_len=MAX_SENDER_CHARS))
    sender = data["sender"]
    if (
        not isinstance(sender, str)
        or len(sender) > MAX_SENDER_CHARS
        or not SENDER_PATTERN.match(sender)
    ):
        raise InvalidWebhookRequest(texts.ERROR_SENDER_INVALID.format(max_len=MAX_SENDER_CHARS))

    if "message" not in data or data["message"] is None:
        raise InvalidWebhookRequest(texts.ERROR_MESSAGE_MISSING)
    message = data["message"]
    if not isinstance(message, str):
        raise InvalidWebhookRequest(texts.ERROR_MESSAGE_INVALID)

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidWebhookRequest(texts.ERROR_METADATA_INVALID)

    input_channel = data.get("input_channel")
    if input_channel is None or input_channel == "":
        input_channel = default_channel
    elif (
        not isinstance(input_channel, str)
        or len(input_channel) > MAX_INPUT_CHANNEL_CHARS
        or not _INPUT_CHANNEL_PATTERN.match(input_channel)
    ):
        raise InvalidWebhookRequest(texts.ERROR_INPUT_CHANNEL_INVALID.format(max_len=MAX_INPUT_CHANNEL_CHARS))

    message = message.strip()
    original_length = len(message)
    return WebhookRequest(
        sender=sender,
        message=message[:max_message_chars],
        metadata=metadata,
        input_channel=input_channel,
        original_length=original_length,
    )


class ChuishaoRestInput(RestInput):
    """Rasa's REST channel with validation, a reply deadline and a short action timeout."""

    def __init__(
        self,
        reply_deadline_seconds: float = 4.5,
        action_timeout_seconds: float | None = None,
        max_message_chars: int = 2000,
    ) -> None:
        """`action_timeout_seconds=None` leaves Rasa's RemoteAction timeout alone (unit tests)."""
        self.reply_deadline_seconds = reply_deadline_seconds
        self.max_message_chars = max_message_chars
        # Turns still running after their deadline; kept so they are not garbage-collected.
        self._background: Set[asyncio.Task] = set()
        if action_timeout_seconds is not None:
            limit_remote_action_timeout(action_timeout_seconds)

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> ChuishaoRestInput:
        """Built by Rasa from credentials.yml; the values come from Chuishao's settings."""
        from bot.settings import get_settings

        settings = get_settings()
        precompile_action_response_schema()
        return cls(
            reply_deadline_seconds=settings.reply_deadline_seconds,
            action_timeout_seconds=settings.action_timeout_seconds,
            max_message_chars=settings.max_message_chars,
        )

    # -- replies of the channel itself -----------------------------------------------------------

    @staticmethod
    def _reply(sender: str, text: str, custom: Dict[str, Any] | None = None) -> Dict[str, Any]:
        message: Dict[str, Any] = {"recipient_id": sender, "text": text}
        if custom is not None:
            message["custom"] = custom
        return message

    def _service_unavailable(self, sender: str) -> Dict[str, Any]:
        return self._reply(sender, texts.SERVICE_UNAVAILABLE, {"type": "service_unavailable"})

    def _paused(self, sender: str) -> Dict[str, Any]:
        return self._reply(sender, texts.HANDOFF_PAUSED, {"type": "handoff_paused"})

    @staticmethod
    def paused_check(app: Any) -> IsPaused:
        """Whether a conversation is paused, read from the Rasa agent's tracker store (in-process)."""

        async def is_paused(sender: str) -> bool:
            agent = getattr(getattr(app, "ctx", None), "agent", None)
            tracker_store = getattr(agent, "tracker_store", None)
            if tracker_store is None:
                return False
            try:
                tracker = await tracker_store.retrieve(sender)
            except Exception:
                logger.warning("Could not read the tracker of %r (paused?)", sender, exc_info=True)
                return False
            return bool(tracker is not None and tracker.is_paused())

        return is_paused

    # -- running a turn ----------------------------------------------------------------------------

    def _keep_in_background(self, task: asyncio.Task, request: WebhookRequest) -> None:
        self._background.add(task)

        def done(finished: asyncio.Task) -> None:
            self._background.discard(finished)
            if finished.cancelled():
                return
            error = finished.exception()
            if error is not None:
                logger.error(
                    "Rasa failed on a message from %r: %s",
                    request.sender,
                    error,
                    exc_info=(type(error), error, error.__traceback__),
                )

        task.add_done_callback(done)

    async def handle_with_deadline(
        self, on_new_message: OnNewMessage, request: WebhookRequest, is_paused: IsPaused | None = None
    ) -> List[Dict[str, Any]]:
        """Run one turn; answer what Rasa said, or a polite message if it said nothing in time.

        A turn that completed silently in a paused conversation (staff have the case) gets the paused note.
        """
        collector = CollectingOutputChannel()
        user_message = UserMessage(
            request.message,
            collector,
            request.sender,
            input_channel=request.input_channel,
            metadata=request.metadata,
        )
        task = asyncio.ensure_future(on_new_message(user_message))
        self._keep_in_background(task, request)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.reply_deadline_seconds)
        except asyncio.TimeoutError:
            logger.warning(
                "No complete reply to %r within %s s; answered that the service is busy, and the "
                "message is still being processed.",
                request.sender,
                self.reply_deadline_seconds,
            )
            return list(collector.messages) + [self._service_unavailable(request.sender)]
        except Exception:  # logged by the task's done callback
            return list(collector.messages) + [self._service_unavailable(request.sender)]

        if not collector.messages:
            if is_paused is not None and await is_paused(request.sender):
                return [self._paused(request.sender)]
            logger.warning(
                "Rasa had nothing to say to %r (a failed custom action?); answered that the service is busy.",
                request.sender,
            )
            return [self._service_unavailable(request.sender)]
        return list(collector.messages)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"chuishao_rest_{id(self)}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                parsed = parse_webhook_request(
                    request.body, default_channel=self.name(), max_message_chars=self.max_message_chars
                )
            except InvalidWebhookRequest as error:
                logger.info("Rejected a webhook request: %s", error.reason)
                return response.json({"error": error.reason}, status=error.status, ensure_ascii=False)

            if not parsed.message:
                return response.json([self._reply(parsed.sender, texts.EMPTY_MESSAGE)], ensure_ascii=False)

            notes = []
            if parsed.truncated:
                notes.append(
                    self._reply(
                        parsed.sender,
                        texts.TRUNCATED_MESSAGE.format(
                            length=parsed.original_length, limit=self.max_message_chars
                        ),
                    )
                )

            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                rasa_stream = self.stream_response(
                    on_new_message, parsed.message, parsed.sender, parsed.input_channel, parsed.metadata
                )

                async def stream(resp: Any) -> None:
                    for note in notes:
                        await resp.write(json.dumps(note, ensure_ascii=False) + "\n")
                    await rasa_stream(resp)

                return response.stream(stream, content_type="text/event-stream")

            replies = await self.handle_with_deadline(on_new_message, parsed, self.paused_check(request.app))
            return response.json(notes + replies, ensure_ascii=False)

        return webhook
