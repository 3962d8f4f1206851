"""HTTP plumbing shared by every hosted provider: pooled clients, timeouts, retries, SSE.

The wire formats (``providers/cloudflare.py``...) only map requests and answers; this module
sends them, synchronously (:meth:`Transport.events`) or on an event loop
(:meth:`Transport.aevents`), and both paths share the same mapping code.

Retries follow the official SDKs: 408, 409, 429, 5xx and connection failures are retried
before any answer byte was used; the wait is ``retry-after-ms``, else ``Retry-After`` when it
is at most 60 s, else exponential backoff with jitter; at most ``max_retries`` times (2 by
default). Once a stream has started nothing is retried: its text may already be on screen.
A :class:`~gemma_magics.events.Retrying` event precedes every wait, so the notebook can say so.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity
from httpx_sse import EventSource

from . import __version__
from .errors import APIConnectionError, APIError, APITimeoutError, ConfigError, StreamError
from .events import Event, Retrying
from .providers.error_bodies import RETRY_AFTER_LIMIT_S
from .providers.wire import HttpCall, StreamParser, WireFormat, load_json

DEFAULT_MAX_RETRIES = 2
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 120.0
BACKOFF_START_S = 0.5  # first backoff wait; doubles each retry, plus up to 0.5 s of jitter
BACKOFF_MAX_S = 8.0
USER_AGENT = f"gemma_magics/{__version__}"


@dataclass(frozen=True)
class TransportSettings:
    """How patient a provider's calls are. Set per provider in the config file
    (``[providers.NAME] max_retries = 4``), for all in ``[settings]``, or with
    ``GEMMA_MAGICS_MAX_RETRIES``, ``GEMMA_MAGICS_CONNECT_TIMEOUT``, ``GEMMA_MAGICS_READ_TIMEOUT``.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout: float = DEFAULT_READ_TIMEOUT_S

    NAMES = ("max_retries", "connect_timeout", "read_timeout")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TransportSettings:
        values: dict[str, Any] = {}
        for name in cls.NAMES:
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


# -- pooled clients: one sync client per process, one async client per event loop ---------

_lock = threading.Lock()
_sync: tuple[int, httpx.Client] | None = None
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, Any]] = (
    weakref.WeakKeyDictionary()
)
_HEADERS = {"User-Agent": USER_AGENT}


def sync_client() -> httpx.Client:
    """The process's shared client (a new one after a fork: sockets must not be shared)."""
    global _sync
    with _lock:
        if _sync is None or _sync[0] != os.getpid() or _sync[1].is_closed:
            _sync = (os.getpid(), httpx.Client(headers=_HEADERS))
        return _sync[1]


async def async_client() -> httpx.AsyncClient:
    """The running loop's shared client, closed when ``asyncio.run`` shuts that loop down."""
    loop = asyncio.get_running_loop()
    entry = _async.get(loop)
    if entry is None or entry[0].is_closed:
        client = httpx.AsyncClient(headers=_HEADERS)
        # asyncio.run finalises every live async generator of its loop before closing it;
        # this one's finally clause is therefore a loop-shutdown hook that closes the client.
        closer = _close_at_loop_shutdown(client)
        await closer.__anext__()
        entry = _async[loop] = (client, closer)
    return entry[0]


async def _close_at_loop_shutdown(client: httpx.AsyncClient):
    try:
        yield
    finally:
        await client.aclose()


def close_clients() -> None:
    """Close the process's sync client (also run at interpreter exit)."""
    global _sync
    with _lock:
        if _sync is not None:
            _sync[1].close()
            _sync = None


async def aclose_client() -> None:
    """Close the running loop's async client now rather than at loop shutdown."""
    entry = _async.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry[0].aclose()
        await entry[1].aclose()


atexit.register(close_clients)


# -- retry policy --------------------------------------------------------------------------


class wait_retry_after(tenacity.wait.wait_base):  # noqa: N801 (tenacity's naming)
    """The server's ``Retry-After`` when it is at most 60 s, else exponential backoff."""

    def __init__(self) -> None:
        self.backoff = tenacity.wait_exponential_jitter(
            multiplier=BACKOFF_START_S, max=BACKOFF_MAX_S, jitter=0.5
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(error, "retry_after", None)
        if after is not None and 0 <= after <= RETRY_AFTER_LIMIT_S:
            return float(after)
        return self.backoff(retry_state)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, APIError) and bool(error.retryable)


def _policy(settings: TransportSettings, pending: list[Retrying]) -> dict[str, Any]:
    """tenacity arguments. tenacity decides whether and how long to wait; the wait itself is
    done by the caller after it has yielded the :class:`Retrying` event that announces it."""

    def announce(state: tenacity.RetryCallState) -> None:
        pending.append(
            Retrying(state.attempt_number, state.next_action.sleep, state.outcome.exception())
        )

    return {
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1),
        "wait": wait_retry_after(),
        "retry": tenacity.retry_if_exception(is_retryable),
        "before_sleep": announce,
        "reraise": True,
    }


def _no_sleep(_seconds: float) -> None:
    return None


async def _ano_sleep(_seconds: float) -> None:
    return None


# -- sending -------------------------------------------------------------------------------


class Transport:
    """Sends one provider's :class:`HttpCall` objects and turns the answers into events."""

    def __init__(self, wire: WireFormat, settings: TransportSettings | None = None):
        self.wire = wire
        self.settings = settings or TransportSettings()

    @property
    def provider(self) -> str:
        return self.wire.provider

    def _request(self, client: httpx.Client | httpx.AsyncClient, call: HttpCall) -> httpx.Request:
        headers = {"Accept": "text/event-stream" if call.stream else "application/json",
                   **call.headers}
        if call.api_key is not None:
            headers["Authorization"] = f"Bearer {call.api_key.reveal()}"
        return client.build_request(
            "POST", call.url, json=call.body, headers=headers, timeout=self.settings.timeout
        )

    # sync ----------------------------------------------------------------------------------
    def events(self, call: HttpCall) -> Iterator[Event]:
        """Send ``call`` (retrying as allowed) and yield the answer's events."""
        response = yield from self._open(call)
        try:
            if _is_sse(response):
                parser = self.wire.stream_parser()
                try:
                    for sse in EventSource(response).iter_sse():
                        yield from parser.feed(sse.data, sse.event)
                        if parser.done:
                            break
                except httpx.HTTPError as exc:
                    raise self._broken(exc, parser) from None
                yield from self._ended(parser)
            else:
                yield from self._whole(response.text)
        finally:
            response.close()

    def _open(self, call: HttpCall) -> Generator[Event, None, httpx.Response]:
        client = sync_client()
        pending: list[Retrying] = []
        response = None
        for attempt in tenacity.Retrying(**_policy(self.settings, pending), sleep=_no_sleep):
            if pending:
                retry = pending.pop()
                yield retry
                time.sleep(retry.wait_s)
            with attempt:
                response = self._attempt(client, call)
        return response

    def _attempt(self, client: httpx.Client, call: HttpCall) -> httpx.Response:
        try:
            response = client.send(self._request(client, call), stream=True)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, call) from None
        try:
            if not response.is_success:
                body = _body_text(response.read())
                raise self.wire.error(response.status_code, body, response.headers)
            if not _is_sse(response):
                response.read()  # a whole answer: a cut body is still safe to retry
        except httpx.HTTPError as exc:
            response.close()
            raise self._unreachable(exc, call) from None
        except BaseException:
            response.close()
            raise
        return response

    # async ---------------------------------------------------------------------------------
    async def aevents(self, call: HttpCall) -> AsyncIterator[Event]:
        """The async twin of :meth:`events`."""
        client = await async_client()
        pending: list[Retrying] = []
        response = None
        async for attempt in tenacity.AsyncRetrying(
            **_policy(self.settings, pending), sleep=_ano_sleep
        ):
            if pending:
                retry = pending.pop()
                yield retry
                await asyncio.sleep(retry.wait_s)
            with attempt:
                response = await self._aattempt(client, call)
        try:
            if _is_sse(response):
                parser = self.wire.stream_parser()
                try:
                    async for sse in EventSource(response).aiter_sse():
                        for event in parser.feed(sse.data, sse.event):
                            yield event
                        if parser.done:
                            break
                except httpx.HTTPError as exc:
                    raise self._broken(exc, parser) from None
                for event in self._ended(parser):
                    yield event
            else:
                for event in self._whole(response.text):
                    yield event
        finally:
            await response.aclose()

    async def _aattempt(self, client: httpx.AsyncClient, call: HttpCall) -> httpx.Response:
        try:
            response = await client.send(self._request(client, call), stream=True)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, call) from None
        try:
            if not response.is_success:
                body = _body_text(await response.aread())
                raise self.wire.error(response.status_code, body, response.headers)
            if not _is_sse(response):
                await response.aread()
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._unreachable(exc, call) from None
        except BaseException:
            await response.aclose()
            raise
        return response

    # shared --------------------------------------------------------------------------------
    def _whole(self, text: str) -> list[Event]:
        if not text.strip():
            raise StreamError(
                "the provider sent an empty answer", provider=self.provider, status=200,
                fix="retry; if it persists the service is misbehaving",
            )
        return self.wire.answer(load_json(text, "answer", self.provider))

    def _ended(self, parser: StreamParser) -> list[Event]:
        if not parser.finished:
            raise StreamError(
                "the stream ended before the answer was complete",
                provider=self.provider, fix="the partial answer was kept; retry for the rest",
            )
        return parser.end()

    def _broken(self, exc: httpx.HTTPError, parser: StreamParser) -> StreamError:
        if isinstance(exc, httpx.TimeoutException):
            what = f"no data for {self.settings.read_timeout:g} s, the stream was abandoned"
        else:
            what = "the connection broke mid-answer"
        return StreamError(
            f"{what} ({type(exc).__name__})", provider=self.provider,
            fix="the partial answer was kept; retry for the rest",
        )

    def _unreachable(self, exc: httpx.HTTPError, call: HttpCall) -> APIError:
        host = httpx.URL(call.url).host or call.url
        if isinstance(exc, httpx.TimeoutException):
            which = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            limit = self.settings.connect_timeout if which == "connect" else self.settings.read_timeout
            return APITimeoutError(
                f"no answer from {host} within the {which} timeout of {limit:g} s",
                provider=self.provider,
            )
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return APIConnectionError(f"cannot reach {host}: {reason}", provider=self.provider)


def _is_sse(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


def _body_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
