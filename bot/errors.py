"""JSON error responses with a Chinese reason; a stack trace goes to the log, never to the client."""

from __future__ import annotations

from typing import Any, Dict

from sanic import response
from sanic.exceptions import MethodNotSupported, NotFound, SanicException
from sanic.handlers import ErrorHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import texts


def error_body(status: int, reason: str) -> Dict[str, Any]:
    return {"error": reason, "status": status}


class JsonErrorHandler(ErrorHandler):
    """Answers every error as `{"error": "<Chinese reason>", "status": <code>}`."""

    def default(self, request: Request | None, exception: BaseException) -> HTTPResponse:
        if request is not None:
            self.log(request, exception)  # logs unexpected errors with their traceback
        status = getattr(exception, "status_code", 500) if isinstance(exception, SanicException) else 500
        headers = getattr(exception, "headers", None) or {}
        return response.json(
            error_body(status, self._reason(request, exception, status)),
            status=status,
            headers=headers,
            ensure_ascii=False,
        )

    @staticmethod
    def _reason(request: Request | None, exception: BaseException, status: int) -> str:
        public = getattr(exception, "public_reason", None)  # a reason written for the client (bot.deps)
        if isinstance(public, str) and public:
            return public
        if isinstance(exception, NotFound):
            return texts.ERROR_NOT_FOUND.format(path=request.path if request is not None else "")
        if isinstance(exception, MethodNotSupported):
            return texts.ERROR_METHOD_NOT_ALLOWED.format(method=request.method if request is not None else "")
        if status == 400:
            return texts.ERROR_BAD_REQUEST
        if status >= 500:
            return texts.ERROR_INTERNAL
        return texts.ERROR_GENERIC.format(status=status)
