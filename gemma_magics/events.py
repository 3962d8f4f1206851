"""The typed events every provider's stream is turned into.

Everything above ``providers/`` sees only these, whatever the wire format was.

Every event carries ``at``: the ``time.perf_counter()`` reading taken when it was created,
in the thread that produced it (the local model's worker thread included). The metrics
(see :mod:`gemma_magics.records.recorder`) are computed from these stamps, never from when a
consumer (an event loop, a display) got round to the event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

UsageSource = Literal["provider", "counted", "estimated"]


def _stamp() -> Any:
    """The production-time field of every event (not compared, not shown)."""
    return field(default_factory=time.perf_counter, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Sent:
    """The request leaves now: the clock for ``ttft_s`` and ``latency_s`` starts here.

    Providers emit it after local preparation (loading a model, tokenizing), once per call
    (again on a retry). ``wall`` is the same moment on the wall clock: the record's
    ``timestamp``.
    """

    at: float = _stamp()
    wall: float = field(default_factory=time.time, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text, in order."""

    text: str
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's thinking, in order: never part of the answer text."""

    text: str
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a function call; ``arguments`` is always a dict."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. Providers may send several; the last non-empty one wins.

    ``billed_cost_usd``: the cost the provider says it billed for the call, where it says
    (OpenRouter's ``usage.cost``, AIML's ``meta.usage.usd_spent``)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    source: UsageSource = "provider"
    #: Of ``completion_tokens``, those spent thinking (``completion_tokens_details``).
    reasoning_tokens: int | None = None
    billed_cost_usd: float | None = None
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class Finish:
    """The answer ended normally; ``reason`` as the provider named it ("stop", "length"...)."""

    reason: str | None = None
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """A provider returned a JSON object directly (Workers AI JSON mode)."""

    value: Any
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should see that is not answer text: "loading model…", a retry."""

    message: str
    level: Literal["info", "warning"] = "info"
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class Retrying:
    """A request failed before any answer arrived and will be sent again after ``wait_s``."""

    attempt: int
    wait_s: float
    error: Exception
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The call failed; ``error`` is a :class:`~gemma_magics.errors.GemmaError`.

    Always the last event of a stream.
    """

    error: Exception
    at: float = _stamp()


@dataclass(frozen=True, slots=True)
class Done:
    """Emitted by :func:`gemma_magics.stream` after the call was recorded; carries the result."""

    completion: Any  # gemma_magics.api.Completion
    at: float = _stamp()


Event = (
    Sent | TextDelta | ReasoningDelta | ToolCall | Usage | Finish | StructuredOutput | Notice | Retrying
    | ErrorEvent | Done
)
