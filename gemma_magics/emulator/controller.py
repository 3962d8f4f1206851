"""The :class:`Emulator` object: start the server in a thread and script it from Python."""

from __future__ import annotations

import threading
from typing import Any

from .faults import Fault
from .recording import RecordedRequest
from .respond import Responder
from .server import EmulatorHTTPServer
from .settings import Settings, latency_changes
from .state import State

_UNSET: Any = object()


class Emulator:
    """A loopback HTTP server speaking the providers' wire formats, with fault injection.

    >>> with Emulator() as emu:                       # port 0: a free port
    ...     emu.inject(Fault(status=429, headers={"Retry-After": "1"}))
    ...     url = emu.base_url + "/v1/chat/completions"   # first request gets the 429

    Keyword arguments are :class:`~gemma_magics.emulator.settings.Settings` fields (``text``,
    ``answer_tokens``, ``text_source``, ``error_style``, ``error_styles``, ``sse_comment``,
    ``cf_usage``, ``cf_openai_chunks``, ``first_byte_latency``, ``per_token_latency``,
    ``tool_calls``, ``json_response``, ``api_key``, ``require_auth``, ...).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, verbose: bool = False,
                 **settings: Any) -> None:
        self.host = host
        self.port = port
        self.verbose = verbose
        self.state = State(Settings(**settings))
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self.state.stop.clear()
        server = EmulatorHTTPServer(self.host, self.port, Responder(self.state), self.verbose)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"gemma-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end hangs and sleeps, close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.state.stop.set()
        server.shutdown()
        server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    close = stop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; replaces a provider's base (e.g. api.cloudflare.com)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``{base_url}/v1``: the base URL an OpenAI-compatible client wants."""
        return self.base_url + "/v1"

    def cloudflare_url(self, model: str = "@cf/google/gemma-3-12b-it",
                       account_id: str = "emulator-account") -> str:
        """Workers AI native URL for ``model``."""
        return f"{self.base_url}/client/v4/accounts/{account_id}/ai/run/{model}"

    # scripting -------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far (Authorization and other secrets REDACTED)."""
        return self.state.log.snapshot()

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def configure(self, **changes: Any) -> Settings:
        """Change any Settings fields; returns the new settings."""
        return self.state.configure(**changes)

    def inject(self, fault: Fault | dict | str, count: int = 1,
               path_contains: str | None = None) -> None:
        """Queue ``fault`` (a Fault, a JSON-style dict or a preset name) for the next
        ``count`` requests whose path contains ``path_contains``; ``count <= 0``: all of them
        until :meth:`reset`."""
        self.state.faults.inject(fault, count, path_contains)

    def fault_rate(self, rate: float, seed: int | None = None,
                   faults: list[Fault | dict | str] | None = None) -> None:
        """Apply a fault to a seeded-random fraction ``rate`` of requests, chosen among
        ``faults`` (default: 429, 500, 503, a cut stream, a dropped connection)."""
        self.state.faults.set_rate(rate, seed, faults)

    def set_latency(self, first_byte: float | None = None,
                    per_token: float | None = None) -> None:
        """Seconds before the status line / between stream frames (None: unchanged)."""
        self.configure(**latency_changes(first_byte, per_token))

    def set_text(self, text: str | None = None, *, answer_tokens: int | None = None,
                 tool_calls: Any = _UNSET, json_response: Any = _UNSET) -> None:
        """Answer with ``text`` (None: the default scripted paragraph cycled to
        ``answer_tokens`` words). ``tool_calls`` / ``json_response`` change only if given."""
        changes: dict[str, Any] = {"text": text}
        if answer_tokens is not None:
            changes["answer_tokens"] = answer_tokens
        if tool_calls is not _UNSET:
            changes["tool_calls"] = tool_calls
        if json_response is not _UNSET:
            changes["json_response"] = json_response
        self.configure(**changes)

    def pending_faults(self) -> list[dict[str, Any]]:
        return self.state.faults.pending()

    def reset(self) -> None:
        """Constructed settings back; requests, queued faults and fault rate cleared."""
        self.state.reset()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Emulator {self.base_url} {state}>"
