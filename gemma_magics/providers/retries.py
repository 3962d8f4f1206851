"""When a failed request is sent again, and after how long (the official SDKs' policy).

Retried: 408, 409, 429 and 5xx answers and connection failures, i.e. every
:class:`~gemma_magics.errors.APIError` whose ``retryable`` is true, and only before any of
the answer was used (``transport.py`` makes sure of that). Not retried: Cloudflare's daily
allocation (3036/4006) and other quota errors. The wait: ``retry-after-ms``, else
``Retry-After`` (seconds or an HTTP date) when at most 60 s, else exponential backoff with
jitter (0.5 s, 1 s, 2 s... up to 8 s, plus up to 0.5 s).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import tenacity

from ..errors import APIError
from ..events import Retrying

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0
BACKOFF_JITTER_S = 0.5
RETRY_AFTER_LIMIT_S = 60.0  # a longer Retry-After is ignored in favour of backoff, as the SDKs


class wait_retry_after(tenacity.wait.wait_base):  # noqa: N801 (tenacity's naming)
    """The server's ``Retry-After`` when it is at most 60 s, else exponential backoff."""

    def __init__(self) -> None:
        self.backoff = tenacity.wait_exponential_jitter(
            multiplier=BACKOFF_START_S, max=BACKOFF_MAX_S, jitter=BACKOFF_JITTER_S
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(error, "retry_after", None)
        if after is not None and 0 <= after <= RETRY_AFTER_LIMIT_S:
            return float(after)
        return self.backoff(retry_state)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, APIError) and bool(error.retryable)


def policy(max_retries: int, pending: list[Retrying]) -> dict[str, Any]:
    """tenacity arguments. tenacity decides whether and how long to wait; the wait itself is
    done by the caller after it has yielded the :class:`Retrying` event that announces it."""

    def announce(state: tenacity.RetryCallState) -> None:
        pending.append(
            Retrying(state.attempt_number, state.next_action.sleep, state.outcome.exception())
        )

    return {
        "stop": tenacity.stop_after_attempt(max_retries + 1),
        "wait": wait_retry_after(),
        "retry": tenacity.retry_if_exception(is_retryable),
        "before_sleep": announce,
        "reraise": True,
    }


def no_sleep(_seconds: float) -> None:
    """tenacity's sleep, replaced: the transport sleeps itself, after announcing the wait."""
    return None


async def ano_sleep(_seconds: float) -> None:
    return None


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
