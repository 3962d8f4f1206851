"""A hostile HTTP server on loopback: each test scripts exactly which bytes it sends (endless
streams, one huge frame, a gzip bomb, one byte at a time), and the server counts how many
bytes it got out before the client hung up. The emulator plays by the rules; this does not.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: A script: the request's JSON body in, (status, headers, body chunks) out.
Script = Callable[[dict], tuple[int, dict[str, str], Iterator[bytes]]]


def sse(content: str | None = None, finish: str | None = None) -> bytes:
    """One OpenAI chat-completion chunk as an SSE frame."""
    delta = {} if content is None else {"content": content}
    chunk = {"id": "x", "object": "chat.completion.chunk", "model": "gemma",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Content-Type": "text/event-stream"}


class HostileServer:
    """``with HostileServer(script) as server:`` point a provider at ``server.base_url``."""

    def __init__(self, script: Script):
        self.script = script
        self.sent_bytes = 0  # body bytes the client accepted before it closed
        self.requests = 0
        self.hung_up = threading.Event()  # the client closed mid-body
        self.body_done = threading.Event()  # the server ended the body itself
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests += 1
                status, headers, chunks = owner.script(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        owner.sent_bytes += len(chunk)
                    owner.body_done.set()
                except OSError:  # the client stopped reading and closed: what we test
                    owner.hung_up.set()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
