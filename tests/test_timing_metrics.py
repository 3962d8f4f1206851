"""The clocks tell the truth: every event is stamped where it is produced, and the metrics
are computed from those stamps on every path (a single call, async iteration, compare()).

No wall-clock speed is asserted: each recorded figure must equal what the producing thread
stamped, which holds however slow or busy the machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra (llama-cpp-python) is not installed")

import gemma_magics as gm  # noqa: E402
from gemma_magics.api import CallStream, prepare  # noqa: E402
from gemma_magics.events import Finish, Sent, TextDelta, Usage  # noqa: E402
from gemma_magics.providers.local import LocalProvider  # noqa: E402

PROMPT = "The sky is"


@pytest.fixture
def produced(monkeypatch):
    """Every local stream's events as the provider produced them, with the thread each was
    produced in; one list per call, in the order the calls ran."""
    calls = _Calls()
    began: list[float] = []  # when each stream started, in the producing thread
    seen: list[float] = []  # when each first text piece had been produced, ditto
    calls.began, calls.seen = began, seen  # type: ignore[attr-defined]
    original = LocalProvider.stream

    def stream(self, request):
        mine: list[tuple[object, str]] = []
        calls.append(mine)
        began.append(time.perf_counter())
        for event in original(self, request):
            mine.append((event, threading.current_thread().name))
            if type(event) is TextDelta and len(seen) < len(calls):
                seen.append(time.perf_counter())  # the first piece, just produced
            yield event

    monkeypatch.setattr(LocalProvider, "stream", stream)
    return calls


class _Calls(list):
    began: list[float]
    seen: list[float]


def _expected(events) -> tuple[float, float, float]:
    """(ttft, latency, sent wall time) from the producer's own stamps."""
    sent = next(e for e in events if type(e) is Sent)
    first = next(e for e in events if type(e) is TextDelta and e.text)
    last = [e for e in events if type(e) in (TextDelta, Usage, Finish)][-1]
    return first.at - sent.at, last.at - sent.at, sent.wall


def _check(record, events) -> None:
    ttft, latency, wall = _expected(events)
    assert record.ttft_s == pytest.approx(ttft, abs=1e-9)
    assert record.latency_s == pytest.approx(latency, abs=1e-9)
    assert datetime.fromisoformat(record.timestamp).timestamp() == pytest.approx(wall, abs=1e-5)
    assert 0 < record.ttft_s <= record.latency_s


def test_single_call_metrics_are_the_producer_stamps(session, produced):
    gm.generate("warm", max_tokens=1, seed=1)  # a one-time model load stays out of TTFT
    for seed in (1, 2, 3):
        done = gm.generate(PROMPT, max_tokens=8, seed=seed)
        _check(done.record, [e for e, _ in produced[-1]])


def test_model_load_is_not_in_ttft(session, produced, monkeypatch):
    from gemma_magics.providers import local

    loaded = dict(local._loaded)
    monkeypatch.setattr(local, "_loaded", {})  # as in a fresh process: the model loads now
    original = local.load_model
    took: list[float] = []

    def timed(path):
        start = time.perf_counter()
        try:
            return original(path)
        finally:
            took.append(start)
            took.append(time.perf_counter())

    monkeypatch.setattr(local, "load_model", timed)
    try:
        done = gm.generate(PROMPT, max_tokens=4, seed=1)
    finally:
        for llm in local._loaded.values():
            if llm not in loaded.values():
                llm.close()
    events = [e for e, _ in produced[-1]]
    sent = next(e for e in events if type(e) is Sent)
    assert sent.at >= took[-1]  # the clock starts after the model was loaded
    _check(done.record, events)


def test_async_iteration_with_a_slow_consumer_keeps_producer_times(session, produced):
    """The model's worker thread runs ahead while the consumer is busy: the consumer's delay
    must not show in the figures (consumption stamps gave a TTFT of ~2e-05 s here)."""
    gm.generate("warm", max_tokens=1, seed=1)

    async def consume():
        stream = CallStream(prepare(PROMPT, max_tokens=8, seed=7))
        async for event in stream:
            if type(event) is Sent:
                await asyncio.sleep(0.5)  # tokens pile up in the queue meanwhile
        return stream.completion

    done = asyncio.run(consume())
    events = [e for e, _ in produced[-1]]
    assert {thread for _, thread in produced[-1]} != {threading.current_thread().name}
    _check(done.record, events)
    # bounded by what the worker thread itself observed, whatever the consumer did
    assert done.record.ttft_s <= produced.seen[-1] - produced.began[-1]


def test_compare_local_runs_use_producer_stamps_and_increasing_timestamps(session, produced):
    gm.generate("warm", max_tokens=1, seed=1)
    singles = []
    for seed in (1, 2, 3):
        singles.append(gm.generate(PROMPT, max_tokens=8, seed=seed).record.ttft_s)
    del produced[:]
    df = gm.compare(PROMPT, providers="local", grid={"seed": [1, 2, 3]}, repeats=2,
                    max_tokens=8, display=False, session=session)
    assert len(df) == 6 == len(produced) and (df["status"] == "ok").all()
    records = sorted((r for r in session.log.records() if r.variant), key=lambda r: r.timestamp)
    assert len(records) == 6
    for record, events in zip(records, produced):  # serial: the log order is the run order
        _check(record, [e for e, _ in events])
    stamps = [datetime.fromisoformat(r.timestamp) for r in records]
    assert all(a < b for a, b in zip(stamps, stamps[1:])), stamps
    # each run was sent after the previous one had finished (the model is serial)
    for before, after in zip(records, records[1:]):
        gap = (datetime.fromisoformat(after.timestamp)
               - datetime.fromisoformat(before.timestamp)).total_seconds()
        assert gap >= before.latency_s - 0.01
    print("TTFT single:", [round(t, 4) for t in singles],
          "compare:", [round(r.ttft_s, 4) for r in records])
