"""The base of every hosted provider: a wire format sent through the shared transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ..config import Config, Endpoint, scrub
from ..errors import APIConnectionError, APIError, AuthenticationError
from ..events import Event, Finish, TextDelta
from .base import Provider, Request
from .transport import Transport, TransportSettings
from .wire import HttpCall, WireFormat


class HttpProvider(Provider):
    """Builds the call with its :class:`WireFormat`, sends it with a :class:`Transport`.

    Subclasses set :meth:`make_wire`; ``client_side_stop`` makes the provider cut the text
    at ``stop`` sequences itself, for APIs that take no ``stop`` parameter.
    """

    client_side_stop = False

    def __init__(self, endpoint: Endpoint):
        super().__init__(endpoint)
        self.wire = self.make_wire()
        self.transport = Transport(self.wire, TransportSettings.from_settings(endpoint.settings))

    def make_wire(self) -> WireFormat:
        raise NotImplementedError

    def _call(self, request: Request) -> HttpCall:
        return self.wire.build(request, self.endpoint.base_url, self.endpoint.api_key)

    def stream(self, request: Request) -> Iterator[Event]:
        call = self._call(request)
        stop = self._stop_cutter(request)
        events = self.transport.events(call)
        try:
            if stop is None:  # the common case: pass events through, no per-event work
                yield from events
                return
            for event in events:
                out, ended = stop.feed(event) if stop else ([event], False)
                yield from out
                if ended:
                    return
            if stop:
                yield from stop.flush()
        except APIError as err:
            raise self._explained(err) from None
        finally:
            events.close()  # closes the response now, not at garbage collection

    async def astream(self, request: Request) -> AsyncIterator[Event]:
        call = self._call(request)
        stop = self._stop_cutter(request)
        events = self.transport.aevents(call)
        try:
            async for event in events:
                out, ended = stop.feed(event) if stop else ([event], False)
                for item in out:
                    yield item
                if ended:
                    return
            if stop:
                for item in stop.flush():
                    yield item
        except APIError as err:
            raise self._explained(err) from None
        finally:
            await events.aclose()  # closes the response now, not at garbage collection

    def _stop_cutter(self, request: Request) -> StopCutter | None:
        stops = request.params.stop
        return StopCutter(stops) if self.client_side_stop and stops else None

    def _explained(self, err: APIError) -> APIError:
        """Say which key was refused (by where it came from), and never echo the key."""
        key = self.endpoint.api_key
        if key is not None and key.reveal():
            clean = scrub(err.message, [key.reveal()])  # every escaped form, too
            if clean != err.message:
                err.message = clean
                err.args = (clean,)
        if isinstance(err, AuthenticationError):
            if key is not None:
                err.fix = f"check the API key from {key.source}"
            elif self.info.api_key_env:
                err.fix = f"this endpoint wants a key: set {' or '.join(self.info.api_key_env)}"
        elif self.info.server and type(err) is APIConnectionError:  # nothing listens there
            variable = Config.base_url_variable(self.info)
            err.fix = (f"start the server ({self.info.server}), or set {variable} to where "
                       "it runs")
        return err


class StopCutter:
    """Ends the answer at the first stop sequence, for APIs that have no ``stop`` parameter.

    Text that might be the start of a stop sequence is held back until the next delta
    decides; the stop sequence itself is never shown.
    """

    def __init__(self, stops: tuple[str, ...]):
        self.stops = [s for s in stops if s]
        self.held = ""

    def feed(self, event: Event) -> tuple[list[Event], bool]:
        if type(event) is not TextDelta:
            out = self.flush() if type(event) is Finish else []
            return [*out, event], False
        text = self.held + event.text
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.held = ""
            cut = text[: min(hits)]
            return [*([TextDelta(cut)] if cut else []), Finish("stop")], True
        keep = max((_overlap(text, s) for s in self.stops), default=0)
        self.held = text[len(text) - keep:] if keep else ""
        shown = text[: len(text) - keep]
        return ([TextDelta(shown)] if shown else []), False

    def flush(self) -> list[Event]:
        held, self.held = self.held, ""
        return [TextDelta(held)] if held else []


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``stop``."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0
