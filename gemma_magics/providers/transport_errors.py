"""What the transport says when a call fails: one line naming what happened (the host was
reached or not, the answer was not HTTP or not an event stream, a redirect, a deadline) and
whether another attempt can help."""

from __future__ import annotations

import os

import httpx

from ..config import scrub
from ..errors import APIConnectionError, APIError, APITimeoutError, StreamError
from .bounds import Budget
from .wire import HttpCall

#: A request body this large is not sent again after a failure (a 67 MB image was uploaded
#: three times to a server that had already refused it).
RETRY_BODY_LIMIT_BYTES = 8 << 20


class TransportErrors:
    """The error wording of :class:`~gemma_magics.providers.transport.Transport`."""

    provider: str
    settings: object

    def _refuse_redirect(self, response: httpx.Response, call: HttpCall) -> None:
        """Redirects are not followed (the key would go with them): say where it pointed."""
        if not 300 <= response.status_code < 400:
            return
        to = httpx.URL(response.headers.get("location", "")).copy_with(query=None)
        raise APIError(f"{_host(call)} redirected the request (HTTP {response.status_code}) "
                       f"to {to or 'nowhere'}; redirects are not followed, so the API key "
                       "stays with the host it is for", provider=self.provider,
                       fix="if the new address is right, set the provider's base URL to it")

    def _empty_stream(self, budget: Budget | None = None) -> APIError:
        if budget is not None and budget.read:  # bytes came, but no event in them
            return APIError(
                f"the answer, labelled an event stream, held no event ({budget.read:,} bytes "
                f"starting {budget.head[:40]!r})", provider=self.provider,
                fix="check the base URL points at the API, not a web page or a proxy",
            )
        return APIConnectionError(
            "the stream closed before any answer", provider=self.provider,
            fix="retry; a prompt longer than the model's context can cause this",
        )

    def _broken(self, exc: httpx.HTTPError, budget: Budget) -> APIError:
        if isinstance(exc, httpx.TimeoutException) and budget.remaining_s() <= 0:
            return budget.timed_out()
        if isinstance(exc, httpx.TimeoutException):
            what = f"no data for {self.settings.read_timeout:g} s, the stream was abandoned"
        else:
            what = "the connection broke mid-answer"
        return StreamError(
            f"{what} ({type(exc).__name__})", provider=self.provider,
            fix="the partial answer was kept; retry for the rest",
        )

    def _unreachable(self, exc: httpx.HTTPError, call: HttpCall, answered: bool = False,
                     budget: Budget | None = None) -> APIError:
        """A failure before any answer was used; ``answered``: after the status line."""
        host = _host(call)
        if isinstance(exc, httpx.TimeoutException) and budget and budget.remaining_s() <= 0:
            return budget.timed_out()
        if isinstance(exc, httpx.TimeoutException):
            which = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            limit = self.settings.connect_timeout if which == "connect" else self.settings.read_timeout
            return APITimeoutError(
                f"no answer from {host} within the {which} timeout of {limit:g} s",
                provider=self.provider,
            )
        reason = _scrubbed(_reason(exc), call)  # httpcore quotes a refused header's bytes
        if isinstance(exc, httpx.LocalProtocolError):  # never sent: retrying cannot help
            return APIError(f"the request to {host} was refused by the HTTP client before "
                            f"sending: {reason}", provider=self.provider,
                            fix="check the API key and headers for illegal characters")
        if isinstance(exc, httpx.RemoteProtocolError) and not _disconnected(exc):
            return APIError(f"{host} answered, but not in valid HTTP: {reason}",
                            provider=self.provider,
                            fix="check the base URL points at the API, not a web page or a proxy")
        if answered:
            return APIConnectionError(f"the connection to {host} broke before any answer: "
                                      f"{reason}", provider=self.provider)
        return APIConnectionError(f"cannot reach {host}: {reason}", provider=self.provider)


def _host(call: HttpCall) -> str:
    url = httpx.URL(call.url)
    return (f"{url.host}:{url.port}" if url.port else url.host) or call.url


def _disconnected(exc: BaseException) -> bool:
    """Whether h11's protocol error is only the server hanging up (worth a retry), not an
    answer that is not HTTP."""
    words = str(exc).lower()
    return any(w in words for w in ("disconnect", "peer closed", "connection closed",
                                    "incomplete"))


def _once_if_big(error: APIError, request: httpx.Request) -> APIError:
    size = len(request.content) if hasattr(request, "_content") else 0
    if error.retryable and size > RETRY_BODY_LIMIT_BYTES:  # read here: tests lower it
        error.retryable = False
        error.fix = (f"the request was {size / 1e6:.0f} MB, so it was not sent again; "
                     "send a smaller one (a smaller image, a shorter prompt)")
    return error


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in the OS's words: the async stack says only "All connection
    attempts failed" and keeps "Connection refused" further down its exception chain."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno:
            words = os.strerror(seen.errno) if seen.errno > 0 else seen.strerror
            return f"[Errno {seen.errno}] {words}"
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(exc).split()) or type(exc).__name__


def _body_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _scrubbed(text: str, call: HttpCall) -> str:
    """Some services quote the refused key in their 401 body: never let it into an error."""
    return scrub(text, [call.api_key.reveal()]) if call.api_key is not None else text
