"""How much of an answer the client reads, and for how long: a hostile or broken server can
send an endless stream, one enormous frame, a gzip bomb, or one byte a second.

- **size**: at most ``BYTES_PER_TOKEN × max_tokens + SLACK_BYTES`` decoded bytes (after gzip:
  a bomb is bounded by what it expands to), never more than ``MAX_ANSWER_BYTES``. A token
  of an OpenAI-style stream costs ~250 bytes of JSON framing, so the bound is generous for
  any honest answer;
- **time**: an overall deadline per call (``total_timeout``), by default
  ``read_timeout + max_tokens / MIN_TOKENS_PER_S``: the read timeout alone bounds only the
  silence between two bytes.

Either one ends the call as an error naming the cause; the text read until then is kept.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from ..errors import APITimeoutError, StreamError

BYTES_PER_TOKEN = 2048
SLACK_BYTES = 1 << 20
MAX_ANSWER_BYTES = 64 << 20
#: Used when a call sets no max_tokens.
DEFAULT_TOKENS = 8192
#: The slowest decode rate the default deadline allows for.
MIN_TOKENS_PER_S = 5.0


class AnswerTooLargeError(StreamError):
    """The server sent more than any answer of this size could need; reading stopped."""


@dataclass
class Budget:
    """One call's allowance: bytes left to read and the moment it must be over."""

    provider: str
    max_bytes: int
    deadline_s: float
    started: float = 0.0
    read: int = 0
    head: bytes = b""  # the answer's first bytes, to say what it was when it was no answer

    @classmethod
    def for_call(cls, provider: str, max_tokens: int | None, read_timeout: float,
                 total_timeout: float | None) -> Budget:
        tokens = max_tokens or DEFAULT_TOKENS
        size = min(MAX_ANSWER_BYTES, BYTES_PER_TOKEN * tokens + SLACK_BYTES)
        deadline = total_timeout or read_timeout + tokens / MIN_TOKENS_PER_S
        return cls(provider, size, deadline, time.monotonic())

    def restart(self) -> None:
        """A new attempt: its answer is counted from zero (the deadline keeps running)."""
        self.read, self.head = 0, b""

    def remaining_s(self) -> float:
        return self.deadline_s - (time.monotonic() - self.started)

    def check_time(self) -> None:
        if self.remaining_s() <= 0:
            raise self.timed_out()

    def timed_out(self) -> APITimeoutError:
        error = APITimeoutError(
            f"the call was still not over after {self.deadline_s:g} s, the total timeout "
            f"(the server sent {self.read:,} bytes)",
            provider=self.provider,
            fix="set GEMMA_MAGICS_TOTAL_TIMEOUT (or total_timeout in the config file) "
                "higher, or lower max_tokens",
        )
        error.retryable = False  # another attempt would be past the deadline, too
        return error

    def take(self, chunk: bytes) -> bytes:
        if len(self.head) < 64:
            self.head += chunk[: 64 - len(self.head)]
        self.read += len(chunk)
        if self.read > self.max_bytes:
            raise AnswerTooLargeError(
                f"the answer passed {self.max_bytes:,} bytes, more than max_tokens allows: "
                "reading stopped", provider=self.provider,
                fix="the server is misbehaving; the text read so far was kept",
            )
        self.check_time()
        return chunk


def timeout(settings_timeout: httpx.Timeout, budget: Budget) -> httpx.Timeout:
    """The request's timeouts, none longer than what is left of the deadline (a silent
    server is then bounded by it, too)."""
    left = max(0.001, budget.remaining_s())
    read = min(settings_timeout.read or left, left)
    return httpx.Timeout(settings_timeout.connect, read=read, write=read, pool=read)


def read_all(response: httpx.Response, budget: Budget) -> bytes:
    return b"".join(budget.take(chunk) for chunk in response.iter_bytes())


async def aread_all(response: httpx.Response, budget: Budget) -> bytes:
    return b"".join([budget.take(chunk) async for chunk in response.aiter_bytes()])


def iter_sse(response: httpx.Response, budget: Budget) -> Iterator[ServerSentEvent]:
    """``httpx_sse.EventSource.iter_sse``, counting every decoded byte against ``budget``."""
    lines, events = _decoders()
    for chunk in response.iter_bytes():
        yield from _feed(lines, events, budget.take(chunk))
    yield from _feed(lines, events, b"", final=True)


async def aiter_sse(response: httpx.Response, budget: Budget) -> AsyncIterator[ServerSentEvent]:
    lines, events = _decoders()
    async for chunk in response.aiter_bytes():
        for sse in _feed(lines, events, budget.take(chunk)):
            yield sse
    for sse in _feed(lines, events, b"", final=True):
        yield sse


def _decoders() -> tuple[tuple[codecs.IncrementalDecoder, SSELineDecoder], SSEDecoder]:
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return (text, SSELineDecoder()), SSEDecoder()


def _feed(lines, events: SSEDecoder, chunk: bytes, final: bool = False
          ) -> list[ServerSentEvent]:
    text_decoder, line_decoder = lines
    text = text_decoder.decode(chunk, final=final)
    found = line_decoder.decode(text) if text else []
    if final:
        found += line_decoder.flush()
    out = []
    for line in found:
        sse = events.decode(line.rstrip("\n"))
        if sse is not None:
            out.append(sse)
    return out
