"""Issue 13 item 8: transport errors say what happened. A host that answered is never
"cannot reach"; an answer that is not HTTP, HTML labelled an event stream, or a redirect
each get their own line and are not retried; a huge request is not uploaded again; the local
model's over-context message never says "lower max_tokens to 0" and comes before loading."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from hostile import SSE_HEADERS, HostileServer

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.config import Config
from gemma_magics.providers import local
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]


def session_at(monkeypatch, base_url, retries="2"):
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", retries)
    return Session(config=Config(), db_path=":memory:")


def failure(session, **kwargs):
    with pytest.raises(errors.GemmaError) as caught:
        gm.generate("Hi", "openai", session=session, max_tokens=16, **kwargs)
    return caught.value


def test_html_labelled_an_event_stream_is_named_and_not_retried(hosted, monkeypatch):
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>\n"
    with HostileServer(lambda _b: (200, SSE_HEADERS, iter([page]))) as server:
        error = failure(session_at(monkeypatch, server.base_url))
    assert "held no event" in str(error) and "<!DOCTYPE html" in str(error)
    assert "cannot reach" not in str(error)
    assert server.requests == 1


def test_a_redirect_names_where_it_pointed(hosted, monkeypatch):
    moved = {"Location": "https://new.example.com/v2/chat/completions?token=abc"}
    with HostileServer(lambda _b: (301, moved, iter([b""]))) as server:
        error = failure(session_at(monkeypatch, server.base_url))
    message = str(error)
    assert "redirected" in message and "https://new.example.com/v2/chat/completions" in message
    assert "token=abc" not in message and "cannot reach" not in message
    assert server.requests == 1


def test_an_answer_that_is_not_http_says_the_host_answered(hosted, monkeypatch):
    """10,000 header lines: h11 refuses them. The host was reached."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\n" + b"".join(
                b"X-Filler-%d: %s\r\n" % (i, b"y" * 20) for i in range(10_000))
            with contextlib.suppress(OSError):
                conn.sendall(head + b"\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        error = failure(session_at(monkeypatch, f"http://127.0.0.1:{port}/v1"))
    finally:
        listener.close()
    assert "answered, but not in valid HTTP" in str(error)
    assert "cannot reach" not in str(error)
    assert len(accepted) == 1  # not retried


def test_a_huge_request_is_not_uploaded_again(hosted, monkeypatch):
    from gemma_magics.providers import transport_errors

    monkeypatch.setattr(transport_errors, "RETRY_BODY_LIMIT_BYTES", 1 << 20)  # not 8 MB
    with HostileServer(lambda _b: (500, {"Content-Type": "application/json"},
                                   iter([b'{"error": {"message": "boom"}}']))) as server:
        session = session_at(monkeypatch, server.base_url)
        with pytest.raises(errors.GemmaError) as caught:
            gm.generate("x" * (2 << 20), "openai", session=session, max_tokens=16)
    assert server.requests == 1
    assert "not sent again" in str(caught.value)


def test_the_local_over_context_message_is_possible_and_cheap(session, monkeypatch):
    loaded = []
    monkeypatch.setattr(local, "load_model", lambda path: loaded.append(path))
    with pytest.raises(errors.ValidationError) as caught:
        gm.generate("word " * 200_000, "local", session=session, max_tokens=8)
    message = str(caught.value)
    assert "max_tokens to 0" not in message and "context" in message
    assert loaded == []  # refused before the model was loaded or the prompt tokenized
