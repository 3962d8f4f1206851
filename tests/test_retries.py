"""Retry policy over real HTTP: which failures are retried, how long each wait is, how many."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.emulator import Fault, retry_after_date
from gemma_magics.events import Retrying, TextDelta

pytest_plugins = ["conftest_providers"]

ANSWER = "Retried and answered."


def run(provider, session, **kwargs):
    """Events and completion of one call, and how long it took."""
    start = time.perf_counter()
    call = gm.stream("Hi", provider, session=session, **kwargs)
    events = list(call)
    return events, call.completion, time.perf_counter() - start


def retries(events):
    return [e for e in events if isinstance(e, Retrying)]


def test_retry_after_seconds_is_honoured(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=429, message="Slow down", headers={"Retry-After": "1"}))
    events, completion, elapsed = run("openai", hosted)
    assert completion.text == ANSWER
    [retry] = retries(events)
    assert retry.wait_s == 1.0 and retry.attempt == 1
    assert isinstance(retry.error, errors.RateLimitError)
    assert elapsed >= 1.0  # it waited what it was told (and more on a slow machine)
    # on the server's side too: the retry arrived >= 1 s after the first request did
    assert emu.requests[1].time - emu.requests[0].time >= 1.0
    assert completion.record.retries == 1 and completion.record.status == "ok"


def test_retry_after_ms_wins_over_retry_after(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault.preset("rate_limit_ms"))  # retry-after-ms: 100, Retry-After: 30
    events, completion, _ = run("openai", hosted)
    assert retries(events)[0].wait_s == pytest.approx(0.1)
    assert completion.text == ANSWER
    gap = emu.requests[1].time - emu.requests[0].time
    assert 0.1 <= gap < 10  # 0.1 s as told; nowhere near Retry-After's 30 s


def test_retry_after_as_http_date(hosted, emu):
    emu.set_text(ANSWER)
    date = retry_after_date(3)
    emu.inject(Fault(status=503, headers={"Retry-After": date}))
    events, completion, _ = run("openai", hosted)
    ended = time.time()
    # the wait is the date minus the moment the client read the 429, which lies between
    # the request's arrival at the server and the end of the call: bounds that hold at any
    # speed (the date has one-second resolution, so it lies 2 to 3 s ahead of the inject)
    target = email.utils.parsedate_to_datetime(date).timestamp()
    wait = retries(events)[0].wait_s
    assert max(0.0, target - ended) - 0.01 <= wait <= target - emu.requests[0].time + 0.01
    assert emu.requests[1].time - emu.requests[0].time >= wait  # and it was waited
    assert completion.text == ANSWER


def test_retry_after_over_60_s_falls_back_to_backoff(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=429, headers={"Retry-After": "3600"}))
    events, completion, _ = run("openai", hosted)
    assert 0.5 <= retries(events)[0].wait_s <= 1.0  # first backoff step, with jitter
    assert completion.text == ANSWER
    gap = emu.requests[1].time - emu.requests[0].time
    assert 0.5 <= gap < 60  # the backoff was waited, not the 3600 s the server asked for


def test_backoff_grows_between_retries(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=500), count=2)
    events, completion, _ = run("openai", hosted)
    first, second = (r.wait_s for r in retries(events))
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5
    assert completion.text == ANSWER and completion.record.retries == 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses(hosted, emu, status):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=status, headers={"Retry-After": "0"}))
    events, completion, _ = run("openai", hosted)
    assert len(retries(events)) == 1 and completion.text == ANSWER


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_not_retried(hosted, emu, status):
    emu.inject(Fault(status=status, headers={"Retry-After": "0"}))
    events, completion, _ = run("openai", hosted)
    assert retries(events) == [] and completion.record.status == "error"
    assert len(emu.requests) == 1


def test_at_most_two_retries_by_default(hosted, emu):
    emu.inject(Fault(status=503, message="Overloaded", headers={"Retry-After": "0"}), count=5)
    events, completion, _ = run("openai", hosted)
    assert len(retries(events)) == 2 and len(emu.requests) == 3
    assert isinstance(completion.error, errors.InternalServerError)
    assert completion.record.retries == 2 and completion.record.status == "error"
    assert "Overloaded" in completion.record.error


@pytest.mark.parametrize(("setting", "requests"), [("0", 1), ("4", 5)])
def test_max_retries_setting(hosted, emu, monkeypatch, setting, requests):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", setting)
    hosted.config.reload()
    emu.inject(Fault(status=429, headers={"Retry-After": "0"}), count=10)
    run("openai", hosted)
    assert len(emu.requests) == requests


def test_max_retries_per_provider_in_the_config_file(hosted, emu, tmp_path):
    (tmp_path / "config.toml").write_text("[providers.openai]\nmax_retries = 1\n")
    hosted.config.reload()
    emu.inject(Fault(status=429, headers={"Retry-After": "0"}), count=10)
    run("openai", hosted)
    assert len(emu.requests) == 2


@pytest.mark.parametrize("code", [3036, 4006])
def test_cloudflare_daily_allocation_is_not_retried(hosted, emu, code):
    emu.inject(Fault(status=429, code=code, message="daily free allocation used",
                     headers={"Retry-After": "0"}), count=3)
    events, completion, _ = run("cloudflare", hosted)
    assert retries(events) == [] and len(emu.requests) == 1
    assert isinstance(completion.error, errors.QuotaExceededError)


def test_cloudflare_capacity_is_retried(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=429, code=3040, headers={"Retry-After": "0"}))
    events, completion, _ = run("cloudflare", hosted)
    assert len(retries(events)) == 1 and completion.text == ANSWER


def test_dropped_connection_before_the_answer_is_retried(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(drop_connection=True))
    events, completion, _ = run("openai", hosted)
    assert isinstance(retries(events)[0].error, errors.APIConnectionError)
    assert completion.text == ANSWER


def test_stream_closed_before_its_first_frame_is_retried(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(cut_after=0))
    events, completion, _ = run("openai", hosted)
    [retry] = retries(events)
    assert isinstance(retry.error, errors.APIConnectionError)
    assert "before any answer" in str(retry.error)
    assert completion.text == ANSWER and len(emu.requests) == 2


def test_nothing_is_retried_once_text_was_shown(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(cut_after=1), count=3)
    events, completion, _ = run("openai", hosted)
    assert retries(events) == [] and len(emu.requests) == 1
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Retried "]
    assert isinstance(completion.error, errors.StreamError)


def test_connection_refused(hosted, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "1")
    hosted.config.reload()
    events, completion, _ = run("openai", hosted)
    assert len(retries(events)) == 1
    err = completion.error
    assert isinstance(err, errors.APIConnectionError)
    assert str(err).startswith("openai: cannot reach 127.0.0.1:")
    assert err.fix == "check the base URL and your network"


def test_read_timeout_before_any_byte(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    hosted.config.reload()
    emu.inject(Fault(hang=60))
    events, completion, elapsed = run("openai", hosted)
    assert isinstance(completion.error, errors.APITimeoutError)
    assert "read timeout of 0.3 s" in str(completion.error)
    assert elapsed < 30  # the 0.3 s timeout ended it, not the server's 60 s hang


def test_read_timeout_mid_stream_keeps_the_text(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_READ_TIMEOUT", "0.3")
    hosted.config.reload()
    emu.set_text(ANSWER)
    emu.inject(Fault(token_delay=2))
    events, completion, _ = run("openai", hosted)
    assert isinstance(completion.error, errors.StreamError)
    # the rest of the answer was 2 s a token away: only the timeout cuts it here
    assert completion.text == "Retried " and len(emu.requests) == 1


def test_async_retry_after_is_honoured(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(status=429, headers={"Retry-After": "1"}))

    async def go():
        start = time.perf_counter()
        events = [e async for e in gm.stream("Hi", "aimlapi", session=hosted)]
        return events, time.perf_counter() - start

    events, elapsed = asyncio.run(go())
    assert retries(events)[0].wait_s == 1.0 and elapsed >= 1.0
    assert emu.requests[1].time - emu.requests[0].time >= 1.0
    assert events[-1].completion.text == ANSWER


def test_bad_setting_is_a_config_error(hosted, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "lots")
    hosted.config.reload()
    with pytest.raises(errors.ConfigError, match="max_retries='lots' is not a number"):
        gm.generate("Hi", "openai", session=hosted)
