"""HTTP plumbing shared by every hosted provider: pooled clients, timeouts, retries, SSE.

The wire formats (``providers/cloudflare.py``...) only map requests and answers; this module
sends them, synchronously (:meth:`Transport.events`) or on an event loop
(:meth:`Transport.aevents`), and both paths share the same mapping code.

Retries follow the official SDKs: 408, 409, 429, 5xx and connection failures are retried
before any answer byte was used; the wait is ``retry-after-ms``, else ``Retry-After`` when it
is at most 60 s, else exponential backoff with jitter; at most ``max_retries`` times (2 by
default); see ``retries.py``. Once the first event of a stream was read nothing is retried:
its text may already be on screen.
A :class:`~gemma_magics.events.Retrying` event precedes every wait, so the notebook can say so.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity
from httpx_sse import EventSource, ServerSentEvent

from ..config import TRANSPORT_SETTINGS
from ..errors import APIConnectionError, APIError, ConfigError, StreamError
from ..events import Event, Retrying, Sent
from . import bounds
from .bounds import Budget
from .http_clients import async_client, sync_client
from .retries import ano_sleep, no_sleep, policy
from .transport_errors import TransportErrors, _body_text, _once_if_big, _scrubbed
from .wire import HttpCall, StreamParser, WireFormat, load_json

DEFAULT_MAX_RETRIES = 2
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TransportSettings:
    """How patient a provider's calls are. Set per provider in the config file
    (``[providers.NAME] max_retries = 4``), for all in ``[settings]``, or with
    ``GEMMA_MAGICS_MAX_RETRIES``, ``GEMMA_MAGICS_CONNECT_TIMEOUT``, ``GEMMA_MAGICS_READ_TIMEOUT``,
    ``GEMMA_MAGICS_TOTAL_TIMEOUT`` (the whole call, retries included; by default sized to
    ``max_tokens``, see ``bounds.py``).
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    total_timeout: float | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TransportSettings:
        values: dict[str, Any] = {}
        for name in TRANSPORT_SETTINGS:
            raw = settings.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw) if name == "max_retries" else float(raw)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"setting {name}={raw!r} is not a number", fix=f"give {name} a number"
                ) from None
            if value < 0 or (name != "max_retries" and value == 0):
                raise ConfigError(f"setting {name}={raw!r} must be positive")
            values[name] = value
        return cls(**values)

    @property
    def timeout(self) -> httpx.Timeout:
        # read: the longest silence between two bytes of an answer, not the whole answer
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


#: An open answer: the response, and either its SSE events or, for a whole (non-streamed)
#: answer, the events it was already read into.
Opened = tuple[httpx.Response, "Iterator[ServerSentEvent] | list[Event]"]
AsyncOpened = tuple[httpx.Response, "AsyncIterator[ServerSentEvent] | list[Event]"]


# -- sending -------------------------------------------------------------------------------


class Transport(TransportErrors):
    """Sends one provider's :class:`HttpCall` objects and turns the answers into events."""

    def __init__(self, wire: WireFormat, settings: TransportSettings | None = None):
        self.wire = wire
        self.settings = settings or TransportSettings()

    @property
    def provider(self) -> str:
        return self.wire.provider

    def budget(self, max_tokens: int | None) -> Budget:
        """A call's size and time allowance (``bounds.py``)."""
        return Budget.for_call(self.provider, max_tokens, self.settings.read_timeout,
                               self.settings.total_timeout)

    def _request(self, client: httpx.Client | httpx.AsyncClient, call: HttpCall,
                 budget: Budget) -> httpx.Request:
        headers = {"Accept": "text/event-stream" if call.stream else "application/json",
                   **call.headers}
        if call.api_key is not None:
            headers["Authorization"] = f"Bearer {call.api_key.reveal()}"
        return client.build_request(
            "POST", call.url, json=call.body, headers=headers,
            timeout=bounds.timeout(self.settings.timeout, budget),
        )

    # sync ----------------------------------------------------------------------------------
    def events(self, call: HttpCall, budget: Budget | None = None) -> Iterator[Event]:
        """Send ``call`` (retrying as allowed) and yield the answer's events, reading no more
        than ``budget`` allows (by default: the body's ``max_tokens``)."""
        budget = budget or self.budget(_max_tokens(call))
        response, frames = yield from self._open(call, budget)
        try:
            if isinstance(frames, list):  # a whole answer, already read and checked
                yield from frames
                return
            parser = self.wire.stream_parser()
            try:
                for sse in frames:
                    yield from parser.feed(sse.data, sse.event)
                    if parser.done:
                        for _ in frames:  # read to the end so the connection is reused
                            pass
                        break
            except httpx.HTTPError as exc:
                raise self._broken(exc, budget) from None
            yield from self._ended(parser)
        finally:
            response.close()

    def _open(self, call: HttpCall, budget: Budget) -> Generator[Event, None, Opened]:
        client = sync_client()
        pending: list[Retrying] = []
        opened = None
        yield Sent()
        for attempt in tenacity.Retrying(**policy(self.settings.max_retries, pending), sleep=no_sleep):
            if pending:
                retry = pending.pop()
                yield retry
                time.sleep(min(retry.wait_s, max(0.0, budget.remaining_s())))
            with attempt:
                budget.check_time()
                budget.restart()  # a new attempt reads a new answer
                opened = self._attempt(client, call, budget)
        return opened

    def _attempt(self, client: httpx.Client, call: HttpCall, budget: Budget) -> Opened:
        """One try, up to the first stream event (or the whole answer, read and checked):
        everything that fails in here is before any answer was used, so it may be retried."""
        request = self._request(client, call, budget)
        try:
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise self._unreachable(exc, call, budget=budget) from None
            return self._answer(response, call, budget)
        except APIError as err:
            raise _once_if_big(err, request) from None

    def _answer(self, response: httpx.Response, call: HttpCall, budget: Budget) -> Opened:
        try:
            self._refuse_redirect(response, call)
            if not response.is_success:
                body = _scrubbed(_body_text(bounds.read_all(response, budget)), call)
                raise self.wire.error(response.status_code, body, response.headers)
            if not _is_sse(response):
                whole = self._whole(bounds.read_all(response, budget), call)
                return response, (iter(whole) if _are_frames(whole) else whole)
            frames = bounds.iter_sse(response, budget)
            first = next(frames, None)
            if first is None:
                raise self._empty_stream(budget)
            return response, itertools.chain([first], frames)
        except httpx.HTTPError as exc:
            response.close()
            raise self._unreachable(exc, call, answered=True, budget=budget) from None
        except BaseException:
            response.close()
            raise

    # async ---------------------------------------------------------------------------------
    async def aevents(self, call: HttpCall, budget: Budget | None = None
                      ) -> AsyncIterator[Event]:
        """The async twin of :meth:`events`."""
        budget = budget or self.budget(_max_tokens(call))
        client = await async_client()
        pending: list[Retrying] = []
        opened = None
        yield Sent()
        async for attempt in tenacity.AsyncRetrying(
            **policy(self.settings.max_retries, pending), sleep=ano_sleep
        ):
            if pending:
                retry = pending.pop()
                yield retry
                await asyncio.sleep(min(retry.wait_s, max(0.0, budget.remaining_s())))
            with attempt:
                budget.check_time()
                budget.restart()
                opened = await self._aattempt(client, call, budget)
        response, frames = opened
        try:
            if isinstance(frames, list):  # a whole answer, already read and checked
                for event in frames:
                    yield event
                return
            parser = self.wire.stream_parser()
            try:
                async for sse in frames:
                    for event in parser.feed(sse.data, sse.event):
                        yield event
                    if parser.done:
                        async for _ in frames:  # read to the end so the connection is reused
                            pass
                        break
            except httpx.HTTPError as exc:
                raise self._broken(exc, budget) from None
            for event in self._ended(parser):
                yield event
        finally:
            if not isinstance(frames, list):
                await frames.aclose()
            await response.aclose()

    async def _aattempt(self, client: httpx.AsyncClient, call: HttpCall, budget: Budget
                        ) -> AsyncOpened:
        request = self._request(client, call, budget)
        try:
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise self._unreachable(exc, call, budget=budget) from None
            return await self._aanswer(response, call, budget)
        except APIError as err:
            raise _once_if_big(err, request) from None

    async def _aanswer(self, response: httpx.Response, call: HttpCall, budget: Budget
                       ) -> AsyncOpened:
        try:
            self._refuse_redirect(response, call)
            if not response.is_success:
                body = _scrubbed(_body_text(await bounds.aread_all(response, budget)), call)
                raise self.wire.error(response.status_code, body, response.headers)
            if not _is_sse(response):
                whole = self._whole(await bounds.aread_all(response, budget), call)
                return response, (_replay(whole) if _are_frames(whole) else whole)
            frames = bounds.aiter_sse(response, budget)
            try:
                first = await frames.__anext__()
            except StopAsyncIteration:
                raise self._empty_stream(budget) from None
            return response, _prepend(first, frames)
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._unreachable(exc, call, answered=True, budget=budget) from None
        except BaseException:
            await response.aclose()
            raise

    # shared --------------------------------------------------------------------------------
    def _whole(self, raw: bytes, call: HttpCall) -> list[Event] | list[ServerSentEvent]:
        """A whole answer's events; its errors (HTTP 200 with ``success: false``) raise here,
        inside the attempt, so a retryable one is retried like an error status.

        A stream under the wrong Content-Type (a proxy relabelled it) comes back as its SSE
        events, for the stream parser."""
        text = _body_text(raw)
        if not text.strip():
            raise APIConnectionError(
                "the provider sent an empty answer", provider=self.provider, status=200,
                fix="retry; if it persists the service is misbehaving",
            )
        if call.stream and _looks_like_sse(text):
            relabelled = httpx.Response(200, headers={"content-type": "text/event-stream"},
                                        content=raw)
            frames = list(EventSource(relabelled).iter_sse())
            if not frames:
                raise self._empty_stream()
            return frames
        return self.wire.answer(load_json(_scrubbed(text, call), "answer", self.provider))

    def _ended(self, parser: StreamParser) -> list[Event]:
        if not parser.finished:
            raise StreamError(
                "the stream ended before the answer was complete",
                provider=self.provider, fix="the partial answer was kept; retry for the rest",
            )
        return parser.end()

def _max_tokens(call: HttpCall) -> int | None:
    """The answer's size limit as the body asks for it (every wire format names it so)."""
    value = call.body.get("max_tokens", call.body.get("max_completion_tokens"))
    return value if isinstance(value, int) else None


async def _prepend(first: ServerSentEvent, rest: AsyncIterator[ServerSentEvent]):
    yield first
    try:
        async for sse in rest:
            yield sse
    finally:
        await rest.aclose()


async def _replay(frames: list[ServerSentEvent]):
    for sse in frames:
        yield sse


def _are_frames(whole: list[Any]) -> bool:
    return bool(whole) and isinstance(whole[0], ServerSentEvent)


def _is_sse(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


def _looks_like_sse(text: str) -> bool:
    """Whether a body is an SSE stream whatever its Content-Type said (JSON never starts
    with an SSE field or comment)."""
    head = text.lstrip()[:6]
    return head.startswith(("data:", "event:", ":", "id:"))
