"""Bad input, fuzzed with hypothesis: the magic lines (random flags, values and quoting, run
through the real magics in a real IPython shell against the emulator), SSE byte streams
split at random boundaries (served by a tiny real HTTP server on loopback), and malformed
config files. The only acceptable outcomes are success, a ``UsageError`` or a
``GemmaError`` (whose one line names the file and line for a config file).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from emulated import _SCRUBBED, ERROR_STYLES, point_at
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

import gemma_magics as gm
from gemma_magics.config import Config
from gemma_magics.emulator import Emulator
from gemma_magics.errors import ConfigError, GemmaError
from gemma_magics.events import Done
from gemma_magics.session import Session, set_session

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
HOSTED = ["openai", "cloudflare", "cloudflare-openai", "dataoorts", "aimlapi", "google",
          "openrouter"]


# -- the magic lines ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_emulator():
    with Emulator(error_styles=ERROR_STYLES, answer_tokens=6) as emu:
        yield emu


@pytest.fixture
def shell(ip, fuzz_emulator, monkeypatch, tmp_path):
    """The IPython shell, every provider on the emulator, hosted by default (never the
    local model: a fuzzed ``--max-tokens`` must stay cheap)."""
    point_at(fuzz_emulator, monkeypatch, tmp_path)
    monkeypatch.setenv("GEMMA_MAGICS_PROVIDER", "openai")
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    set_session(Session(config=Config(), db_path=":memory:"))
    ip.user_ns.update(tools_var=[{"name": "f", "parameters": {"type": "object"}}],
                      schema_var={"type": "object"}, prompts_var=["a", "b"], number=3)
    return ip


numbers = st.one_of(
    st.integers(1, 64).map(str),  # mostly sensible, so that many calls reach the backend
    st.floats(0, 1).map(lambda v: f"{v:.2f}"),
    st.integers(-10, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e309", "nan", "0x10", "1_000", "", " ", "1,2", "0.2,abc",
                     "2,", ",", "1e-400", "١٢"]),
)
words = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["openai", "cloudflare", "google", "nosuch", "local-ish", "a b", "{x}",
                     "--", "-p", "'", '"', "\\", "tools_var", "schema_var", "number",
                     "prompts_var", "@cf/google/gemma-3-12b-it", "markdown", "json", "off",
                     "force", "on", "on off"]),
)


def quoted(value: str) -> st.SearchStrategy[str]:
    balanced = [value] * 6 + [f'"{value}"', f"'{value}'"]
    return st.sampled_from([*balanced, *balanced, f'"{value}', f"'{value}"])


VALUE_FLAGS = ["--max-tokens", "--temperature", "--top-p", "--top-k", "--seed",
               "--repetition-penalty", "--frequency-penalty", "--presence-penalty"]
TEXT_FLAGS = ["-m", "--model", "--stop", "--system", "-o", "--output", "-f", "--format",
              "--schema", "--tools", "--max-rounds", "--image", "--chat", "--lora", "--cache"]
SWITCHES = ["--no-stream", "--no-interpolate", "--json", "--run-tools", "--template",
            "--raw", "--chat", "--cache", "--bogus", "-x", "-"]


@st.composite
def gemma_lines(draw) -> str:
    tokens: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["value"] * 4 + ["text"] * 2 + ["switch", "provider",
                                                                    "provider", "junk"]))
        if kind == "value":
            tokens += [draw(st.sampled_from(VALUE_FLAGS)), draw(numbers.flatmap(quoted))]
        elif kind == "text":
            tokens += [draw(st.sampled_from(TEXT_FLAGS)), draw(words.flatmap(quoted))]
        elif kind == "switch":
            tokens.append(draw(st.sampled_from(SWITCHES)))
        elif kind == "provider":
            tokens += [draw(st.sampled_from(["-p", "--provider"])),
                       draw(st.sampled_from([*HOSTED, "nosuch", "", "openai,google"]))]
        else:
            tokens.append(draw(words.flatmap(quoted)))
    return " ".join(tokens)


cell_bodies = st.one_of(
    st.just("Say hi"),
    st.sampled_from(["{number} apples", "{{literal}}", "{", "}", "{nosuch}", "{0}",
                     "{number!r}", "   ", "", "\n\n", "a{number}{number}b"]),
    st.text(min_size=1, max_size=40),
)


def run_clean(call) -> str:
    """Run ``call``; the outcome's kind, failing on anything but the clean ones."""
    kind = "ok"
    try:
        call()
    except UsageError as exc:
        assert "\n" not in str(exc).strip(), str(exc)
        kind = "usage"
    except GemmaError as exc:
        assert "\n" not in str(exc), str(exc)
        kind = "gemma"
    event(kind)  # --hypothesis-show-statistics: how many reached the backend
    return kind


@FUZZ
@given(line=gemma_lines(), body=cell_bodies)
@example(line="--temperature -1", body="Hi")
@example(line="--top-k 0 --seed '", body="Hi")
@example(line="--image /nonexistent/x.png", body="Hi")
@example(line="--image number", body="Hi")
@example(line="--chat a --template --raw", body="{number}")
@example(line="--max-rounds -3 --tools tools_var --run-tools", body="Hi")
def test_cell_magic_line(shell, line, body):
    run_clean(lambda: shell.run_cell_magic("gemma", line, body))


LINE_COMMANDS = ["providers", "models", "history", "reset", "config", "chat", "cache",
                 "panel", "bogus", ""]


@st.composite
def gemma_line_commands(draw) -> str:
    command = draw(st.sampled_from(LINE_COMMANDS))
    args = draw(st.lists(st.one_of(
        st.sampled_from(["list", "show", "reset", "save", "load", "replay", "clear", "5",
                         "-1", "x", "openai", "nosuch", "default", "-p", "openai", "1e3"]),
        st.text(alphabet="abcxyz_-.", max_size=8).filter(lambda t: t not in (".", "..")),
    ), max_size=3))
    return " ".join([command, *args])


@FUZZ
@given(line=gemma_line_commands())
@example(line="chat load nosuch nosuchfile")
@example(line="chat replay default -p openai")
@example(line="history -5")
@example(line="models nosuch")
def test_line_magic(shell, line):
    run_clean(lambda: shell.run_line_magic("gemma", line))


@st.composite
def compare_lines(draw) -> str:
    tokens = ["-p", draw(st.sampled_from(["openai", "openai,google", "cloudflare,dataoorts",
                                          "nosuch", "openai,openai", "", ","]))]
    for _ in range(draw(st.integers(0, 4))):
        flag = draw(st.sampled_from([*VALUE_FLAGS, "--repeat", "--concurrency", "-m",
                                     "--models", "--system", "--stop", "--prompts", "-o",
                                     "--resume", "--quiet", "--bogus"]))
        if flag in ("--repeat", "--concurrency"):
            tokens += [flag, draw(st.sampled_from(["1", "2", "0", "-1", "x", "1.5"]))]
        elif flag in VALUE_FLAGS:
            value = draw(st.one_of(numbers, st.lists(numbers, min_size=2, max_size=3).map(
                ",".join)))
            tokens += [flag, draw(quoted(value))]
        elif flag in ("--resume", "--quiet", "--bogus"):
            tokens.append(flag)
        else:
            value = draw(st.one_of(numbers, words))
            tokens += [flag, draw(quoted(value))]
    return " ".join(tokens)


@FUZZ
@given(line=compare_lines(), body=cell_bodies)
@example(line="-p openai --temperature 0.2,abc", body="Hi")
@example(line="-p openai --prompts prompts_var", body="Hi")
@example(line="-p openai --prompts number", body="")
@example(line="-p openai -m nosuch=x", body="Hi")
def test_compare_magic_line(shell, line, body):
    run_clean(lambda: shell.run_cell_magic("gemma_compare", line + " --quiet", body))


# -- SSE byte streams, split at random boundaries ---------------------------------------------

class _Script:
    body = b""
    cuts: list[int] = []
    content_type = "text/event-stream"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script = self.server.script
        self.send_response(200)
        self.send_header("Content-Type", script.content_type)
        self.end_headers()
        self.wfile.flush()
        body, last = script.body, 0
        for cut in [*script.cuts, len(body)]:
            self.wfile.write(body[last:cut])
            self.wfile.flush()
            last = cut
            time.sleep(0.0005)  # a separate TCP segment: the client reads it on its own

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def sse_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.script = _Script()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sse_session(sse_server, monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(_SCRUBBED) and name != "GEMMA_MAGICS_LOCAL_MODEL":
            monkeypatch.delenv(name)
    url = f"http://127.0.0.1:{sse_server.server_address[1]}"
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("GEMMA_MAGICS_CLOUDFLARE_BASE_URL", url)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "k")
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    monkeypatch.setenv("GEMMA_MAGICS_READ_TIMEOUT", "5")
    monkeypatch.chdir(tmp_path)
    session = Session(config=Config(), db_path=":memory:")
    with socket.create_connection(sse_server.server_address):
        pass
    return session


def openai_text(text: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text},
                                    "finish_reason": None}]}).encode()


def native_text(text: str) -> bytes:
    return json.dumps({"response": text, "p": "xyz"}).encode()


FINISH = json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).encode()
USAGE = json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                             "total_tokens": 5}}).encode()
texts = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def sse_streams(draw) -> tuple[str, bytes, str | None]:
    """(provider, body, the text when the body is well formed, else None)."""
    provider = draw(st.sampled_from(["openai", "cloudflare"]))
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    frame = openai_text if provider == "openai" else native_text
    parts: list[bytes] = []
    expected: list[str] | None = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["text", "text", "text", "comment", "event", "blank",
                                     "usage", "junk", "malformed", "error", "bytes"]))
        if kind == "text":
            text = draw(texts)
            parts.append(b"data: " + frame(text) + eol + eol)
            if expected is not None:
                expected.append(text)
        elif kind == "comment":
            parts.append(b": keep-alive" + eol + eol)
        elif kind == "event":
            parts.append(b"event: ping" + eol + b"data: {}" + eol + eol)
            expected = None  # an empty frame in some formats, a ping in others
        elif kind == "blank":
            parts.append(eol)
        elif kind == "usage":
            parts.append(b"data: " + USAGE + eol + eol)
        elif kind == "malformed":
            parts.append(b"data: {\"choices\": [" + eol + eol)
            expected = None
        elif kind == "error":
            parts.append(b'data: {"error": {"message": "boom", "code": 500}}' + eol + eol)
            expected = None
        elif kind == "junk":
            parts.append(draw(st.sampled_from([b"data:", b"data: null", b"data: []",
                                               b"data: 42", b'data: "x"', b"id: 7",
                                               b"retry: 10", b"nonsense"])) + eol + eol)
            expected = None
        else:
            parts.append(draw(st.binary(max_size=16)))
            expected = None
    if draw(st.booleans()):
        if provider == "openai":
            parts.append(b"data: " + FINISH + eol + eol)
        parts.append(b"data: [DONE]" + eol + eol)
    elif expected is not None:
        expected = None  # an unfinished stream is an error, whatever it carried
    body = b"".join(parts)
    return provider, body, None if expected is None else "".join(expected)


def outcome(events) -> tuple[str, str | None]:
    assert isinstance(events[-1], Done)
    completion = events[-1].completion
    error = completion.error
    assert error is None or isinstance(error, GemmaError), repr(error)
    if error is not None:
        assert "\n" not in str(error), str(error)
    return completion.text, None if error is None else type(error).__name__


def served(server, session, provider: str, body: bytes, cuts: list[int]):
    server.script.body, server.script.cuts = body, cuts
    sync = outcome(list(gm.stream("Hi", provider, session=session)))

    async def collect():
        return [e async for e in gm.stream("Hi", provider, session=session)]

    return sync, outcome(asyncio.run(collect()))


@FUZZ
@given(stream=sse_streams(), data=st.data())
@example(stream=("openai", b"data: " + openai_text("ab") + b"\r\n\r\ndata: [DONE]\r\n\r\n",
                 None), data=None)
def test_sse_streams_split_anywhere(sse_server, sse_session, stream, data):
    provider, body, expected = stream
    if data is None:  # the explicit example: every possible cut of a CRLF stream
        cuts_list = [[i] for i in range(1, len(body))]
    else:
        cuts_list = [sorted(set(data.draw(st.lists(st.integers(1, max(1, len(body) - 1)),
                                                    max_size=12))))]
    assume(body or data is None)
    whole_sync, whole_async = served(sse_server, sse_session, provider, body, [])
    assert whole_sync == whole_async, "the async path reads the stream differently"
    if expected is not None:
        assert whole_sync == (expected, None)
    for cuts in cuts_list:
        split_sync, split_async = served(sse_server, sse_session, provider, body, cuts)
        assert split_sync == whole_sync, f"split at {cuts} changed the outcome"
        assert split_async == whole_sync, f"split at {cuts} changed the async outcome"


# -- malformed config files -------------------------------------------------------------------

def config_error(tmp_path, monkeypatch) -> ConfigError | None:
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)
    try:
        Config()
    except ConfigError as exc:
        return exc
    return None


@pytest.mark.parametrize(("text", "line"), [
    ("[settings]\nmax_retries = \n", 2),
    ("[providers.x]\nkind = 'openai'\n[providers.x]\n", 3),
    ('[settings]\ndb = "unterminated\n', 2),
    ('a = "x"\nb = [1,\n', 2),
    ("= 1\n", 1),
    ("[settings\n", 1),
    ('key = """never closed\n\n\n', 1),
])
def test_malformed_toml_names_the_file_and_line(tmp_path, monkeypatch, text, line):
    (tmp_path / "config.toml").write_text(text)
    err = config_error(tmp_path, monkeypatch)
    assert err is not None
    assert str(tmp_path / "config.toml") in str(err)
    assert f"line {line}" in str(err), str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize(("text", "line"), [
    ("GOOD=1\nthis is not an assignment\n", 2),
    ("A=1\nB=2\nC='unterminated\n", 3),
    ("A=1\n\"quoted key\"=2\n", 2),
])
def test_malformed_dotenv_names_the_file_and_line(tmp_path, monkeypatch, text, line):
    (tmp_path / ".env").write_text(text)
    err = config_error(tmp_path, monkeypatch)
    assert err is not None and str(tmp_path / ".env") in str(err)
    assert f"line {line}" in str(err), str(err)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet='ab=[]."\'\n #{},1-_\\:x', max_size=60))
def test_fuzzed_toml_is_read_or_refused_by_line(tmp_path, monkeypatch, text):
    (tmp_path / "config.toml").write_text(text)
    err = config_error(tmp_path, monkeypatch)
    if err is not None:
        message = str(err)
        assert str(tmp_path / "config.toml") in message and "line " in message, message
        assert "\n" not in message


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="AB=\"' \n#\\$x{}", max_size=40))
def test_fuzzed_dotenv_is_read_or_refused_by_line(tmp_path, monkeypatch, text):
    (tmp_path / ".env").write_text(text)
    err = config_error(tmp_path, monkeypatch)
    if err is not None:
        assert str(tmp_path / ".env") in str(err) and "line " in str(err), str(err)


def test_a_malformed_config_reaches_the_magic_as_one_usage_line(ip, tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text("[settings]\nmax_retries = \n")
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    set_session(Session(db_path=":memory:"))
    with pytest.raises(UsageError, match=r"config\.toml.*line 2"):
        ip.run_line_magic("gemma", "providers")
    with pytest.raises(UsageError, match=r"config\.toml.*line 2"):
        ip.run_cell_magic("gemma", "-p openai", "Hi")
