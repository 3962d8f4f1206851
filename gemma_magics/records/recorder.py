"""Turns a call's stream of events into its :class:`~gemma_magics.records.log.Record`.

The metric definitions live here and only here, for every path (cell, API, compare,
panel). Times are the events' own ``at`` stamps, taken where each event was produced (the
local model's worker thread included), never when a consumer got to it:

- ``timestamp``: when the call was sent (:class:`Sent`), not when it was planned or consumed;
- ``latency_s``: from just before the request is sent to the last byte of the answer;
- ``ttft_s``: from the same start to the first non-empty ANSWER text delta (a thinking
  model's reasoning does not count: it is what the user waits through);
- ``ttfr_s``: from the same start to the first non-empty reasoning delta (thinking models);
- ``tokens_per_s``: ``completion_tokens / (latency_s - first token)``, the decode rate, where
  the first token is the earlier of the first reasoning and the first answer token
  (completion_tokens count both); NaN when everything arrived in one piece (nothing to time);
- ``reasoning_tokens``: the provider's ``completion_tokens_details.reasoning_tokens``, else
  the reasoning text counted like the answer;
- ``e2e_tokens_per_s``: ``completion_tokens / latency_s``;
- usage: the provider's when present and non-zero, else counted with the Gemma tokenizer;
- ``cost_usd``: tokens × the catalog price, NaN when a price is unknown;
  ``billed_cost_usd`` beside it: what the provider reported it billed, where it does.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..catalog.models import ModelInfo
from ..config import scrub
from ..errors import APIError, GemmaError
from ..events import (
    ErrorEvent,
    Finish,
    ReasoningDelta,
    Retrying,
    Sent,
    StructuredOutput,
    TextDelta,
    ToolCall,
    Usage,
)
from ..safe_text import well_formed
from . import tokens
from .log import STATUS_ERROR, STATUS_INTERRUPTED, STATUS_OK, Record

#: Longer texts get an estimated token count (``usage_source`` says so), not a counted one.
COUNT_MAX_CHARS = 1 << 20


class Recorder:
    """Accumulates one call's events; :meth:`finish` produces the record."""

    def __init__(self, record: Record, model: ModelInfo, counted_prompt: str,
                 known_secrets: Callable[[], list[str]] = list):
        self.record = record
        self._known_secrets = known_secrets  # the session's keys, read when a retry is redacted
        self.model = model
        self._counted_prompt = counted_prompt
        self.parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.tool_calls: list[ToolCall] = []
        self.structured: Any = None
        self.usage: Usage | None = None
        self.error: Exception | None = None
        self.start = time.perf_counter()
        self.first_text_at: float | None = None
        self.first_reasoning_at: float | None = None
        self.last_at: float | None = None  # the latest provider event's production stamp
        self.end: float | None = None
        self._sent = False
        self._quick = False  # estimate token counts rather than wait for the tokenizer

    @property
    def text(self) -> str:
        # an emoji split between two frames arrives as two lone surrogates: join them back
        return well_formed("".join(self.parts))

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def restart_clock(self) -> None:
        """The call starts now (it was planned earlier, or waited for a slot): the clock and
        the record's timestamp start here; a provider's :class:`Sent` moves both later."""
        self.start = time.perf_counter()
        self.record.timestamp = _iso(time.time())

    def add(self, event: Any) -> None:
        kind = type(event)
        at = getattr(event, "at", None)
        if at is not None and self._sent:
            self.last_at = at
        if kind is TextDelta:
            if event.text:
                if self.first_text_at is None:
                    self.first_text_at = at if at is not None else time.perf_counter()
                self.parts.append(event.text)
        elif kind is ReasoningDelta:
            if event.text:
                if self.first_reasoning_at is None:
                    self.first_reasoning_at = at if at is not None else time.perf_counter()
                self.reasoning_parts.append(event.text)
        elif kind is Usage:
            if event.completion_tokens or event.prompt_tokens:
                self.usage = event
            if event.billed_cost_usd is not None:
                self.record.billed_cost_usd = event.billed_cost_usd
        elif kind is Sent:
            if not self._sent:  # retries keep the first send as the start
                self._sent = True
                self.start = event.at
                self.last_at = event.at
                self.record.timestamp = _iso(event.wall)
        elif kind is Finish:
            self.record.finish_reason = event.reason
        elif kind is ToolCall:
            self.tool_calls.append(event)
        elif kind is StructuredOutput:
            self.structured = event.value
        elif kind is Retrying:
            self.record.retries += 1
            scrub_error(event.error, self._known_secrets())  # its notice is shown next
        elif kind is ErrorEvent:
            self.error = event.error

    def finish(self, *, interrupted: bool = False, secrets: list[str] = ()) -> Record:
        """Fill timing, usage, cost and status; idempotent."""
        if self.end is None:
            # the last byte: the provider's last event, as stamped where it was produced (on
            # Ctrl-C, now: the call lasted until it was stopped)
            last = self.last_at if not interrupted else None
            self.end = last if last is not None else time.perf_counter()
        rec = self.record
        rec.response = self.text
        rec.reasoning = self.reasoning or None
        if self.structured is not None and not rec.response:
            rec.response = json.dumps(self.structured, ensure_ascii=False)
        if self.tool_calls:
            rec.tool_calls = json.dumps(
                [{"name": c.name, "arguments": c.arguments} for c in self.tool_calls],
                ensure_ascii=False,
            )
        rec.latency_s = self.end - self.start
        if self.first_text_at is not None:
            rec.ttft_s = self.first_text_at - self.start
        if self.first_reasoning_at is not None:
            rec.ttfr_s = self.first_reasoning_at - self.start
        # Ctrl-C means "stop now": no second-long tokenizer load for an interrupted call
        self._quick = interrupted and not tokens.loaded()
        self._fill_usage()
        completion = rec.completion_tokens
        if completion and rec.latency_s and rec.latency_s > 0:
            rec.e2e_tokens_per_s = completion / rec.latency_s
            first = min((t for t in (rec.ttft_s, rec.ttfr_s) if t is not None), default=0.0)
            decode = rec.latency_s - first
            # an answer sent whole has no decode phase to time
            streamed = len(self.parts) + len(self.reasoning_parts) > 1
            rec.tokens_per_s = completion / decode if decode > 0 and streamed else math.nan
        rec.cost_usd = self.model.cost(rec.prompt_tokens, rec.completion_tokens)
        if interrupted:
            rec.status = STATUS_INTERRUPTED
            rec.error = "interrupted by the user"
            rec.error_type = "KeyboardInterrupt"
        elif self.error is not None:
            rec.status = STATUS_ERROR
            scrub_error(self.error, secrets)  # what the notebook shows and raises, too
            rec.error = scrub(str(self.error), secrets)
            rec.error_type = type(self.error).__name__
        else:
            rec.status = STATUS_OK
        return rec

    def _fill_usage(self) -> None:
        self._fill_tokens()
        rec = self.record
        if not self.reasoning_parts:
            rec.reasoning_tokens = self.usage.reasoning_tokens if self.usage else None
        elif self.usage is not None and self.usage.reasoning_tokens is not None:
            rec.reasoning_tokens = self.usage.reasoning_tokens
        else:
            rec.reasoning_tokens, _ = self._count(self.reasoning)

    def _fill_tokens(self) -> None:
        rec = self.record
        usage = self.usage
        if usage is not None and usage.completion_tokens:
            rec.prompt_tokens = usage.prompt_tokens
            rec.completion_tokens = usage.completion_tokens
            rec.total_tokens = usage.total_tokens or (
                (usage.prompt_tokens or 0) + usage.completion_tokens
            )
            rec.usage_source = usage.source
            if rec.prompt_tokens is None:
                rec.prompt_tokens, _ = self._count(self._counted_prompt, add_bos=True)
            return
        if not rec.response and self.error is not None and usage is None:
            rec.prompt_tokens, rec.usage_source = self._count(self._counted_prompt, add_bos=True)
            rec.completion_tokens = 0
            rec.total_tokens = rec.prompt_tokens
            return
        prompt_n, source = self._count(self._counted_prompt, add_bos=True)
        completion_n, _ = self._count(rec.response)
        if self.reasoning_parts:  # thinking is generated output too
            completion_n += self._count(self.reasoning)[0]
        if usage is not None and usage.prompt_tokens:
            prompt_n = usage.prompt_tokens  # the provider's prompt count is still right
        rec.prompt_tokens, rec.completion_tokens = prompt_n, completion_n
        rec.total_tokens = prompt_n + completion_n
        rec.usage_source = source


    def _count(self, text: str, *, add_bos: bool = False) -> tuple[int, str]:
        # a multi-megabyte text takes the tokenizer tens of seconds: estimated instead
        if self._quick or len(text) > COUNT_MAX_CHARS:
            return tokens.estimate(text) + (1 if add_bos and text else 0), "estimated"
        return tokens.count(text, add_bos=add_bos)


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat()


def scrub_error(error: BaseException, secrets: list[str]) -> None:
    """Redact every known key from an error's message, in place. A provider redacts its own
    key; this catches any other one (a proxy echoing an upstream key, say).

    A provider's error also drops the traceback it was raised with: those frames hold the
    raw answer bytes (a key a server echoed, say), which ``%xmode Verbose`` would print.
    Raised again, it starts from there; its one-line message is the diagnosis."""
    if isinstance(error, APIError):
        error.__traceback__ = None
    if not isinstance(error, GemmaError) or not secrets:
        return
    clean = scrub(error.message, secrets)
    if clean != error.message:
        error.message = clean
        error.args = (clean,)


def error_of(exc: BaseException) -> GemmaError:
    """Any exception from a provider as a GemmaError (unexpected ones keep their type name)."""
    if isinstance(exc, GemmaError):
        return exc
    return GemmaError(f"{type(exc).__name__}: {exc}")
