"""Error bodies of OpenAI-compatible services, which differ by service."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

_OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
DEFAULT_MESSAGES = {
    400: "Bad request", 401: "Incorrect or missing API key", 402: "Payment required",
    403: "Forbidden", 404: "Not found", 408: "Request timed out", 409: "Conflict",
    413: "Request too large", 429: "Rate limit exceeded", 500: "Internal server error",
    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
}


def default_message(status: int) -> str:
    return DEFAULT_MESSAGES.get(status, f"HTTP {status}")


def openai_error(status: int, message: str, code: int | str | None = None) -> dict[str, Any]:
    kind, default_code = _OPENAI_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None,
                      "code": code if code is not None else default_code}}


def error_body(style: str, status: int, message: str | None = None,
               code: int | str | None = None, path: str = "") -> Any:
    """The JSON error body ``style`` ("openai", "openrouter", "aimlapi", "google") sends."""
    message = message or default_message(status)
    if style == "openrouter":
        return {"error": {"code": code if isinstance(code, int) else status,
                          "message": message, "metadata": {}}}
    if style == "aimlapi":
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"message": message, "path": path, "requestId": str(uuid.uuid4()),
                "statusCode": str(status), "timestamp": now.isoformat().replace("+00:00", "Z")}
    if style == "google":
        return [{"error": {"code": status, "message": message,
                           "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}]
    return openai_error(status, message, code)


def error_frame(style: str, message: str, code: int | str | None = None) -> dict[str, Any]:
    """Payload of a mid-stream ``data: {"error": ...}`` frame (HTTP status already 200)."""
    if style == "openrouter":
        return {"object": "chat.completion.chunk",
                "error": {"code": code if code is not None else 502, "message": message},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    return {"error": {"message": message, "type": "server_error", "param": None,
                      "code": code}}
