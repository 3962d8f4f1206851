"""Faults seen from a comparison: a provider failing every run, rate-limit pauses, and a
record log that cannot be written."""

from __future__ import annotations

import time

import pytest
from emulated import ERROR_STYLES, point_at

import gemma_magics as gm
from gemma_magics.comparisons.scheduler import BACKOFF_START_S, ProviderLimiter
from gemma_magics.config import Config
from gemma_magics.emulator import Emulator, Fault
from gemma_magics.errors import ConfigError
from gemma_magics.notebook.live_compare import compare
from gemma_magics.session import Session


@pytest.fixture
def hosted(monkeypatch, tmp_path):
    with Emulator(error_styles=ERROR_STYLES, answer_tokens=6) as emu:
        point_at(emu, monkeypatch, tmp_path)
        monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
        session = Session(config=Config(), db_path=":memory:")
        yield session, emu


def test_a_provider_failing_every_run_still_gets_its_tables(hosted):
    """A wrong key for one provider: its runs all fail, the others' answers, the side-by-side
    table, the summary and the chart are all still there (no NA breaking the medians)."""
    import ipywidgets

    session, emu = hosted
    emu.inject(Fault(status=401, message="Incorrect API key"), count=0, path_contains="/google/")
    out = ipywidgets.Output()
    df = compare("Name a colour.", providers=["openai", "google"], repeats=2,
                 grid={"temperature": [0.2, 0.9]}, display=out, session=session)
    assert len(df) == 8
    assert (df.loc[df.provider == "google", "status"] == "error").all()
    assert (df.loc[df.provider == "openai", "status"] == "ok").all()
    html = "".join(o["data"].get("text/html", "") for o in out.outputs)
    assert "Answers side by side" in html and "Incorrect API key" in html
    summary = gm.summary(df)
    assert list(summary.loc[summary.provider == "google", "ok"]) == [0, 0]
    assert summary.loc[summary.provider == "google", "latency_s_median"].isna().all()
    gm.side_by_side(df)  # the Styler builds
    gm.plot(df, metric="tokens_per_s")


def test_a_rate_limit_pause_follows_the_server():
    """Retry-After: 0 means "now": the provider's limit halves but nothing waits. Without
    a Retry-After the pause is a backoff."""
    def pause_after(retry_after):
        """The pause a 429 sets, and how much time passed around the reading of it: the
        limiter's clock moves on between ``throttled`` and ``paused``, by however long a
        busy machine takes, so the pause is known to within that and no better."""
        before = time.monotonic()
        limiter.throttled(retry_after)
        paused = limiter.paused()
        return paused, time.monotonic() - before

    limiter = ProviderLimiter("p", 8)
    limiter.active = 8
    paused, _ = pause_after(0.0)
    assert limiter.limit == 4 and paused == 0
    paused, took = pause_after(None)
    assert limiter.limit == 2
    assert BACKOFF_START_S - took <= paused <= BACKOFF_START_S
    paused, took = pause_after(2.5)
    assert 2.5 - took <= paused <= 2.5


def test_an_unusable_log_stops_the_call_before_anything_is_sent(ip, hosted, tmp_path):
    session, emu = hosted
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = Session(config=Config(), db_path=blocker / "history.sqlite")
    with pytest.raises(ConfigError, match="cannot keep the record log at .*a-file"):
        gm.generate("Hi", "openai", session=broken)
    with pytest.raises(ConfigError, match="GEMMA_MAGICS_DB"):
        compare("Hi", providers="openai", display=False, session=broken)
    from IPython.core.error import UsageError

    from gemma_magics.session import set_session

    set_session(broken)
    with pytest.raises(UsageError, match="cannot keep the record log"):
        ip.run_cell_magic("gemma", "-p openai", "Hi")
    assert emu.requests == []  # nothing was sent, so nothing went unrecorded
    assert gm.generate("Hi", "openai", session=session).text  # a good log works
    assert len(emu.requests) == 1
