"""HTTP plumbing: a threaded HTTP/1.1 server on loopback and the per-request Exchange.

Knows nothing about wire formats: it reads requests, hands an :class:`Exchange` to the
application callable, and offers plain, chunked, partial and aborted responses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024 * 1024


def check_loopback(host: str) -> None:
    """Refuse to bind anything but a loopback address."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the emulator binds loopback only, not {host!r}")


class Exchange:
    """One request and its response on a keep-alive connection."""

    def __init__(self, handler: _Handler) -> None:
        self._h = handler
        self.method = handler.command
        self.path, _, self.query = handler.path.partition("?")
        self.header_items: list[tuple[str, str]] = list(handler.headers.items())
        self.body = handler.read_body()
        self.peer = f"{handler.client_address[0]}:{handler.client_address[1]}"
        self.started = False

    def header(self, name: str, default: str | None = None) -> str | None:
        return self._h.headers.get(name, default)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.started = True
        h = self._h
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()

    def send(self, status: int, body: bytes, content_type: str | None,
             headers: dict[str, str] | None = None) -> None:
        """A complete response with Content-Length."""
        head = {"Content-Length": str(len(body)), **(headers or {})}
        if content_type:
            head["Content-Type"] = content_type
        self._head(status, head)
        if body:
            self._h.wfile.write(body)

    def send_partial(self, status: int, body: bytes, content_type: str | None,
                     headers: dict[str, str] | None = None) -> None:
        """Announce the whole body but send half of it, then close."""
        head = {"Content-Length": str(len(body)), **(headers or {})}
        if content_type:
            head["Content-Type"] = content_type
        self._head(status, head)
        self._h.wfile.write(body[: len(body) // 2])
        self.abort()

    def start_stream(self, status: int, content_type: str | None,
                     headers: dict[str, str] | None = None) -> None:
        """Status and headers of a chunked response."""
        head = {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache", **(headers or {})}
        if content_type:
            head["Content-Type"] = content_type
        self._head(status, head)

    def write(self, data: bytes) -> None:
        """One HTTP chunk (flushed at once: the socket writer is unbuffered)."""
        if data:
            self._h.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self._h.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Close the connection now, mid-response or before any response."""
        self._h.close_connection = True
        with contextlib.suppress(OSError):
            self._h.connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gemma-magics-emulator/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 900
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        exchange = None
        try:
            exchange = Exchange(self)
            self.server.app(exchange)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug in the emulator: say so, never hang the client
            self.close_connection = True
            if self.server.verbose:
                print(f"emulator error on {self.command} {self.path.split('?')[0]}: {exc!r}",
                      file=sys.stderr)
            if exchange is not None and not exchange.started:
                body = b'{"error": {"message": "emulator internal error"}}'
                with contextlib.suppress(OSError):
                    exchange.send(500, body, "application/json", {"Connection": "close"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Method, path and status only: headers (and so keys) are never logged."""
        if self.server.verbose:
            path = getattr(self, "path", "").split("?")[0]
            sys.stderr.write(f"emulator: {self.command} {path} {code}\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        if self.server.verbose:
            sys.stderr.write("emulator: " + (format % args) + "\n")


class EmulatorHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks open connections so :meth:`close` can end them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, host: str, port: int, app: Callable[[Exchange], None],
                 verbose: bool = False) -> None:
        check_loopback(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.verbose = verbose
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def handle_error(self, request, client_address) -> None:
        """A client dropping a keep-alive connection is normal; anything else is printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def close(self) -> None:
        """Stop accepting, then shut every open connection."""
        self.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
