"""Every error body shape in providers.md, read into one :class:`~gemma_magics.errors.APIError`.

Shapes: OpenAI ``{"error": {"message", "type", "code"}}`` (also Ollama, llama-server, vLLM),
OpenRouter ``{"error": {"code": 429, "message", "metadata"}}``, AIML API's flat
``{"message", "statusCode", ...}``, Google AI Studio's array ``[{"error": {...}}]``,
Cloudflare's envelope ``{"errors": [{"message", "code"}], "success": false}``, FastAPI's
``{"detail": ...}``, and anything else (an HTML error page, plain text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    error_class_for_status,
)
from .retries import retry_after_s
from .wire import one_line

# Workers AI error codes (providers.md's table) → class. The code wins over the HTTP status:
# 3036/4006 arrive as 429 but retrying them is pointless, and 10000 may come as 401 or 403.
CLOUDFLARE_CODES: dict[int, type[APIError]] = {
    5006: BadRequestError,
    5007: BadRequestError,
    5004: BadRequestError,
    3003: BadRequestError,
    10000: AuthenticationError,
    5018: PermissionDeniedError,
    3041: PermissionDeniedError,
    5016: PermissionDeniedError,
    3023: PermissionDeniedError,
    3042: NotFoundError,
    7003: NotFoundError,
    3007: RequestTimeoutError,
    3008: RequestTimeoutError,
    3006: PayloadTooLargeError,
    3040: RateLimitError,
    3036: QuotaExceededError,
    4006: QuotaExceededError,
}
CLOUDFLARE_FIXES: dict[int, str] = {
    5007: "check the model id (%gemma models cloudflare)",
    3042: "check the model id (%gemma models cloudflare)",
    7003: "check CLOUDFLARE_ACCOUNT_ID and the model id",
    5016: "accept the model's licence once: send it the prompt 'agree'",
    3041: "accept the model's licence once: send it the prompt 'agree'",
    3023: "the Cloudflare account is blocked from Workers AI; check the dashboard",
    5018: "the model is private to another account",
    3040: "Workers AI is at capacity; retry in a moment",
    3036: "the daily free allocation is used up: wait until 00:00 UTC or upgrade the plan",
    4006: "the daily free allocation is used up: wait until 00:00 UTC or upgrade the plan",
}
# Codes other services put in bodies that change the meaning of a status.
QUOTA_CODES = {"insufficient_quota", "quota_exceeded"}


def details(body: str) -> tuple[str, str | int | None]:
    """(the provider's own message, its error code) from an error body of any shape."""
    try:
        data: Any = json.loads(body) if body.strip() else None
    except ValueError:
        return one_line(body), None
    if isinstance(data, list):  # Google AI Studio
        data = data[0] if data else None
    if not isinstance(data, Mapping):
        return one_line(body), None
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):  # Cloudflare
        first = errors[0]
        return one_line(first.get("message") or first), first.get("code")
    error = data.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        if code is None or isinstance(code, int):
            code = error.get("status") or code  # Google names the status, OpenRouter numbers it
        return one_line(error.get("message") or json.dumps(error)), code
    if isinstance(error, str):
        return one_line(error), data.get("code")
    if data.get("message"):  # AIML API's flat object
        return one_line(data["message"]), data.get("code")
    if data.get("detail"):
        detail = data["detail"]
        return one_line(detail if isinstance(detail, str) else json.dumps(detail)), None
    return one_line(body), None


def api_error(
    provider: str,
    status: int | None,
    body: str,
    headers: Mapping[str, str],
    *,
    style: str = "openai",
) -> APIError:
    """The right :class:`APIError` subclass for an error answer, with a one-line message."""
    message, code = details(body)
    if not message:
        message = f"empty error body (HTTP {status})" if status else "empty error"
    code_int = _as_int(code)
    cls: type[APIError]
    fix = None
    if style in ("cloudflare", "dataoorts") and code_int in CLOUDFLARE_CODES:
        cls = CLOUDFLARE_CODES[code_int]
        # the advice names Workers AI things (account id, plan): Cloudflare's alone
        fix = CLOUDFLARE_FIXES.get(code_int) if style == "cloudflare" else None
    elif isinstance(code, str) and code.lower() in QUOTA_CODES:
        cls = QuotaExceededError
    else:
        cls = error_class_for_status(status)
    if status == 402 and style == "openrouter":
        fix = "out of OpenRouter credits: add credits at openrouter.ai/settings/credits"
    if style == "google" and "developer instruction" in message.lower():
        fix = "this model takes no system prompt here; it is folded into the first user turn"
    err = cls(message, provider=provider, status=status, code=code, fix=fix,
              retry_after=retry_after_s(headers))
    should_retry = headers.get("x-should-retry", "").lower()
    if should_retry in ("true", "false") and cls is not QuotaExceededError:
        err.retryable = should_retry == "true"  # the server's explicit word wins, as in the SDKs
    return err


def _as_int(code: Any) -> int | None:
    try:
        return int(code)
    except (TypeError, ValueError):
        return None
