"""Issue 13 items 4 and 5: nothing a server sends is read without bound. An endless stream,
one 20 MB frame, a gzip bomb or an endless whole body end the call as an error naming the
cause once the answer passes what ``max_tokens`` allows; a server trickling one byte at a
time is given up on at the call's total timeout. The partial answer is recorded.

Memory figures under the same servers: ``benchmarks/hostile_rss.py`` (not a test)."""

from __future__ import annotations

import gzip
import itertools
import time

import pytest
from hostile import DONE, SSE_HEADERS, HostileServer, sse

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.comparisons.run import compare
from gemma_magics.config import Config
from gemma_magics.providers.bounds import BYTES_PER_TOKEN, SLACK_BYTES
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

MAX_TOKENS = 64
BOUND = BYTES_PER_TOKEN * MAX_TOKENS + SLACK_BYTES
#: What kernel socket buffers may hold beyond what the client read (generous).
IN_FLIGHT = 16 << 20


def endless(_body):
    return 200, SSE_HEADERS, (sse("word ") for _ in itertools.count())


def huge_frame(_body):
    return 200, SSE_HEADERS, iter([sse("a" * (20 << 20)), sse(finish="stop"), DONE])


def gzip_bomb(_body):
    frame = sse("a" * 60_000)
    bomb = gzip.compress(frame * 3000, compresslevel=9)  # ~180 MB of frames, ~0.2 MB sent
    headers = {**SSE_HEADERS, "Content-Encoding": "gzip"}
    return 200, headers, (bomb[i:i + 65536] for i in range(0, len(bomb), 65536))


def endless_json(_body):
    return 200, {"Content-Type": "application/json"}, itertools.chain(
        [b'{"choices": [{"message": {"content": "'], (b"a" * 65536 for _ in itertools.count()))


def trickle(_body):
    def drip():
        for byte in itertools.cycle(sse("slow ")):
            time.sleep(0.02)
            yield bytes([byte])
    return 200, SSE_HEADERS, drip()


def serve(script, monkeypatch, **env):
    server = HostileServer(script)
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return server


def failed_call(session, **kwargs):
    with pytest.raises(errors.GemmaError) as caught:
        gm.generate("Hi", "openai", session=session, max_tokens=MAX_TOKENS, **kwargs)
    return caught.value


@pytest.mark.parametrize("script", [endless, huge_frame, gzip_bomb, endless_json],
                         ids=lambda s: s.__name__)
def test_an_oversized_answer_stops_reading_and_is_recorded(script, hosted, monkeypatch):
    with serve(script, monkeypatch) as server:
        session = Session(config=Config(), db_path=":memory:")
        error = failed_call(session, stream=script is not endless_json)
        assert type(error).__name__ == "AnswerTooLargeError"
        assert "more than max_tokens allows" in str(error)
        record = session.log.records()[-1]
        assert record.status == "error" and record.error_type == "AnswerTooLargeError"
        if script is endless:
            assert record.response.startswith("word word")  # the partial answer kept
        if script is not gzip_bomb:  # a bomb is small on the wire: its bound is what it expands to
            assert server.hung_up.wait(30)
            assert server.sent_bytes < BOUND + IN_FLIGHT


def test_an_oversized_answer_stops_in_a_comparison_too(hosted, monkeypatch):
    with serve(endless, monkeypatch):
        session = Session(config=Config(), db_path=":memory:")
        frame = compare(["Hi"], providers=["openai"], session=session, max_tokens=MAX_TOKENS)
    assert list(frame["error_type"]) == ["AnswerTooLargeError"]


def test_a_trickling_server_is_given_up_at_the_total_timeout(hosted, monkeypatch):
    with serve(trickle, monkeypatch, GEMMA_MAGICS_TOTAL_TIMEOUT="1") as server:
        session = Session(config=Config(), db_path=":memory:")
        error = failed_call(session)
        assert isinstance(error, errors.APITimeoutError)
        assert "total timeout" in str(error) and "GEMMA_MAGICS_TOTAL_TIMEOUT" in str(error)
        assert session.log.records()[-1].error_type == "APITimeoutError"
        assert server.requests == 1  # a passed deadline is not retried
        assert server.hung_up.wait(30)  # the call ended: the client closed the connection


def test_the_total_timeout_holds_in_a_comparison(hosted, monkeypatch):
    with serve(trickle, monkeypatch, GEMMA_MAGICS_TOTAL_TIMEOUT="1"):
        session = Session(config=Config(), db_path=":memory:")
        frame = compare(["Hi", "Ho"], providers=["openai"], session=session,
                        max_tokens=MAX_TOKENS)
    assert list(frame["error_type"]) == ["APITimeoutError"] * 2


def test_a_bad_total_timeout_is_refused():
    from gemma_magics.providers.transport import TransportSettings

    with pytest.raises(errors.ConfigError, match="total_timeout"):
        TransportSettings.from_settings({"total_timeout": "soon"})
    assert TransportSettings.from_settings({"total_timeout": "30"}).total_timeout == 30.0
