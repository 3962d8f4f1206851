"""A comparison's concurrency is the one limit on requests in flight: the pooled HTTP client
does not cap it lower (httpx's default pool holds 100 connections; the 101st run waited
inside the pool, where its pool timeout could fail it)."""

from __future__ import annotations

from emulated import peak_overlap

from gemma_magics.emulator import Emulator
from gemma_magics.notebook.live_compare import compare

RUNS = 120


def test_concurrency_above_100_reaches_the_server(session, monkeypatch):
    with Emulator(first_byte_latency=2.0, answer_tokens=4) as server:
        monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        df = compare("Say hi.", providers="openai", repeats=RUNS, concurrency=RUNS,
                     max_tokens=8, display=False)
        assert len(df) == RUNS and (df["status"] == "ok").all()
        sent = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(sent) == RUNS
    # each run waits 2 s for its first byte, so all of them can be held at once; more
    # than 100 is the point (a loaded machine may be slow to send the last few)
    assert peak_overlap(sent) > 100
