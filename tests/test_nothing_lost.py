"""Nothing lost: 1,000-run sweeps through faults and an interrupt, and a log that survives a
process killed mid-write.

The sweeps run ``compare()`` over real HTTP against the emulator, over four wire formats
(Workers AI native, Dataoorts, OpenAI-compatible, Google's error style), with 10 % of the
requests faulted at random by a seeded plan (429, 500, 503, a stream cut after two frames,
a dropped connection). Every answer is the emulator's scripted text, so an intact answer is
exactly that text and a broken one a clean prefix of it.
"""

from __future__ import annotations

import _thread
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest
from emulated import ERROR_STYLES, point_at

from gemma_magics.comparisons.scheduler import pending_tasks
from gemma_magics.config import Config
from gemma_magics.emulator import Emulator
from gemma_magics.notebook.live_compare import compare
from gemma_magics.records.log import RecordLog
from gemma_magics.session import Session

TEXT = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
PROVIDERS = ["openai", "cloudflare", "dataoorts", "google"]
PROMPTS = [f"[{i:04d}] Name a colour." for i in range(250)]  # × 4 providers = 1,000 runs
SEED = 20240607
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep_emulator():
    with Emulator(error_styles=ERROR_STYLES) as emu:
        yield emu


@pytest.fixture
def sweep(sweep_emulator, monkeypatch, tmp_path):
    """A session logging to a real SQLite file, providers on the emulator, 10 % faults;
    every append to the log is counted by run_id."""
    emu = sweep_emulator
    emu.reset()
    emu.set_text(TEXT)
    emu.fault_rate(0.10, seed=SEED)
    point_at(emu, monkeypatch, tmp_path)
    session = Session(config=Config(), db_path=tmp_path / "history.sqlite")
    appended: Counter[str] = Counter()
    log = session.log
    original = log.append

    def counting(record):
        appended[record.run_id] += 1
        original(record)

    monkeypatch.setattr(log, "append", counting)
    session.appended = appended
    yield session, emu
    emu.reset()
    session.log.close()


def provider_of(path: str) -> str:
    if "/ai/run/" in path:
        return "cloudflare"
    if path.rstrip("/") == "/api/v1":
        return "dataoorts"
    if path.startswith("/google/"):
        return "google"
    return "openai"


def sent(emu: Emulator, after: int = 0) -> Counter[tuple[str, str]]:
    """Requests the emulator received (from index ``after``), by (provider, prompt)."""
    counts: Counter[tuple[str, str]] = Counter()
    for request in emu.requests[after:]:
        match = re.search(r"\[(\d{4})\]", json.dumps(request.body))
        if match:
            counts[(provider_of(request.path), match.group(0))] += 1
    return counts


def key_of(record) -> tuple[str, str]:
    return record.provider, re.search(r"\[(\d{4})\]", record.prompt).group(0)


def check_texts(records) -> None:
    """Finished answers intact; failed and interrupted ones a clean prefix, with an error."""
    for r in records:
        if r.status == "ok":
            assert r.response == TEXT, (r.provider, r.prompt, r.response)
            assert r.error is None
        else:
            assert TEXT.startswith(r.response), (r.provider, r.status, r.response)
            assert r.error and r.error_type, r


def run_sweep(session, **kwargs):
    return compare(PROMPTS, providers=PROVIDERS, concurrency=16, display=False,
                   session=session, **kwargs)


def test_a_1000_run_sweep_through_faults_loses_nothing(sweep):
    session, emu = sweep
    started = time.perf_counter()
    df = run_sweep(session)
    elapsed = time.perf_counter() - started

    records = session.log.records()
    assert len(df) == 1000 and len(records) == 1000
    assert df["run_id"].is_unique and set(df["run_id"]) == {r.run_id for r in records}
    assert max(session.appended.values()) == 1 and len(session.appended) == 1000
    assert len({r.request_key for r in records}) == 1000
    check_texts(records)
    # the faults really happened, and each run's requests are exactly 1 + its retries
    faulted = [r for r in emu.requests if r.fault]
    assert 0.05 < len(faulted) / len(emu.requests) < 0.15, len(faulted)
    per_run = sent(emu)
    assert {key_of(r): 1 + r.retries for r in records} == dict(per_run)
    status = Counter(r.status for r in records)
    assert status["ok"] > 900 and status["ok"] + status["error"] == 1000
    print(f"\n1,000-run sweep through {len(faulted)} faults in {elapsed:.1f} s: {dict(status)}, "
          f"{sum(r.retries for r in records)} retries, texts lost: 0, duplicates: 0")


def test_an_interrupted_sweep_resumes_without_rerunning_what_finished(sweep, caplog):
    session, emu = sweep
    rng = random.Random(SEED)
    delay = rng.uniform(0.2, 1.5)  # a random moment inside the sweep, once runs finish
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        _thread.interrupt_main()  # what Ctrl-C / the kernel's stop button does

    timer = threading.Timer(delay, interrupt)
    log = session.log
    append = log.append

    def start_the_clock(record) -> None:  # at the first record, not while planning
        if not timer.is_alive() and not fired.is_set():
            timer.start()
        append(record)

    log.append = start_the_clock
    with pytest.raises(KeyboardInterrupt):
        try:
            run_sweep(session)
        finally:
            timer.cancel()
            log.append = append
    assert fired.is_set()
    assert pending_tasks() == 0
    first = session.log.records()
    status = Counter(r.status for r in first)
    assert 0 < len(first) < 1000 and status["interrupted"] > 0, status
    check_texts(first)
    done_before = {key_of(r) for r in first if r.status == "ok"}

    passes = []
    for _ in range(6):  # faults stay on: a pass may leave a few failures for the next
        mark = len(emu.requests)
        df = run_sweep(session, resume=True)
        rerun = set(sent(emu, mark))
        assert not rerun & done_before, "a run that had finished was sent again"
        assert len(df) == 1000 and df["run_id"].is_unique
        passes.append(int((df["status"] != "ok").sum()))
        done_before = {key_of(r) for r in session.log.records() if r.status == "ok"}
        if len(done_before) == 1000:
            break
    records = session.log.records()
    ok = [r for r in records if r.status == "ok"]
    assert len({r.request_key for r in ok}) == 1000 == len(ok)  # each finished exactly once
    assert (df["status"] == "ok").all()
    assert max(session.appended.values()) == 1 and len(session.appended) == len(records)
    check_texts(records)
    assert not [r for r in caplog.records if "destroyed" in r.getMessage()]
    print(f"\ninterrupted after {delay:.2f} s with {dict(status)}; resumed in {len(passes)} "
          f"pass(es) (failures left per pass: {passes}); {len(records)} records in all")


# -- the SQLite log survives a process killed mid-write --------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from gemma_magics.records.log import Record, RecordLog

    log = RecordLog(sys.argv[1])
    start = int(sys.argv[2])
    i = start
    while True:
        if i % 7 == 0:  # a batch in one transaction
            batch = [Record(run_id=f"{j:08d}", prompt=f"p{j}", response="r" * (j % 500),
                            request_key=f"k{j}") for j in range(i, i + 5)]
            log.append_many(batch)
            i += 5
        else:
            log.append(Record(run_id=f"{i:08d}", prompt=f"p{i}", response="r" * (i % 500),
                              request_key=f"k{i}"))
            i += 1
        print(i, flush=True)  # every run below i is committed
""")


def test_the_log_survives_a_writer_killed_mid_write(tmp_path):
    path = tmp_path / "history.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    committed = 0
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(committed)],
                                stdout=subprocess.PIPE, text=True)
        acknowledged = committed
        deadline = time.monotonic() + 30
        while acknowledged < committed + 300 + 100 * round_ and time.monotonic() < deadline:
            acknowledged = int(proc.stdout.readline())
        assert (tmp_path / "history.sqlite-wal").exists(), "the log writes through a WAL"
        proc.send_signal(signal.SIGKILL)  # mid-write: it never stopped appending
        proc.wait(10)
        printed = proc.stdout.read()  # what it acknowledged before it died
        proc.stdout.close()
        complete = printed.split("\n")[:-1]  # the last line may be cut by the kill
        if complete:
            acknowledged = int(complete[-1])
        assert proc.returncode == -signal.SIGKILL

        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        log = RecordLog(path)
        records = log.records()
        log.close()
        ids = sorted(int(r.run_id) for r in records)
        assert ids == list(range(len(ids))), "no gaps, no duplicates"
        # every acknowledged commit is there; at most the batch in flight beyond it
        assert acknowledged <= len(ids) <= acknowledged + 5
        assert all(r.response == "r" * (int(r.run_id) % 500) for r in records)
        committed = len(ids)
    print(f"\n3 writers killed by SIGKILL mid-write: {committed} records intact, "
          "integrity_check ok")
