"""compare() and %%gemma_compare against the emulator over real HTTP (and the real local
model where a local run is needed)."""

from __future__ import annotations

import _thread
import html
import logging
import threading
import time

import pytest
from emulated import peak_overlap

from gemma_magics.comparisons.scheduler import pending_tasks
from gemma_magics.emulator import Emulator, Fault, RemoteEmulator, start_emulator_process
from gemma_magics.errors import ValidationError
from gemma_magics.notebook.live_compare import compare

LATENCY = 0.3


@pytest.fixture
def emu(session, monkeypatch):
    """One emulator serving the ``openai`` and ``aimlapi`` providers."""
    with Emulator(first_byte_latency=LATENCY, answer_tokens=8) as server:
        for name in ("OPENAI", "AIMLAPI"):
            monkeypatch.setenv(f"GEMMA_MAGICS_{name}_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("AIMLAPI_API_KEY", "test-key")
        yield server


def chat_requests(server: Emulator) -> list:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def max_in_flight(timeline: list[dict]) -> int:
    edges = []
    for row in timeline:
        if row["started_s"] is not None:
            edges += [(row["started_s"], 1), (row["finished_s"], -1)]
    level = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


@pytest.fixture
def emu_process(session, monkeypatch):
    """The emulator in its own process, as a remote service would be (no shared GIL)."""
    proc, url = start_emulator_process(
        idle_timeout=60, extra_args=["--first-byte-latency", str(LATENCY), "--answer-tokens", "8"]
    )
    try:
        for name in ("OPENAI", "AIMLAPI"):
            monkeypatch.setenv(f"GEMMA_MAGICS_{name}_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("AIMLAPI_API_KEY", "test-key")
        yield RemoteEmulator(url)
    finally:
        proc.terminate()
        proc.wait(10)


def test_32_runs_at_concurrency_8_run_eight_at_a_time(session, emu_process):
    """The emulator's own arrival/finish stamps show eight requests held at once (were runs
    not concurrent: one), and the comparison's timeline never more than eight. No speed
    claim: how fast this goes is benchmarks/compare_concurrency.py's business."""
    grid = {"temperature": [0.2, 0.9], "seed": [1, 2]}
    compare("warm up", providers="openai", repeats=8, display=False)  # imports, first sockets
    df = compare("Write a haiku about gradient descent.", providers=["openai", "aimlapi"],
                 grid=grid, repeats=4, concurrency=8, max_tokens=8, display=False)
    assert len(df) == 32 and (df["status"] == "ok").all()
    assert df["variant"].nunique() == 8
    assert set(df["temperature"]) == {0.2, 0.9} and set(df["seed"]) == {1, 2}
    assert max_in_flight(df.attrs["compare"]["timeline"]) <= 8  # the limiter held its slots
    sent = [r for r in emu_process.requests if r["path"].endswith("/completions")]
    assert len(sent) == 8 + 32
    # each request is held >= 0.3 s: 8 at once means the first wave went out together
    assert peak_overlap(sent[8:]) >= 8, peak_overlap(sent[8:])
    # follows from the schedule: 32 runs of >= 0.3 s on 8 slots need >= 4 latencies
    assert df.attrs["compare"]["wall_s"] >= 4 * LATENCY
    logged = session.log.dataframe()
    assert set(df["run_id"]) <= set(logged["run_id"]) and len(logged) == len(sent)


def test_a_rate_limited_provider_does_not_delay_the_other(session, monkeypatch):
    """aimlapi answers its first two requests with 429 (retry after 2 s); openai is
    healthy. Runs are interleaved aimlapi, openai, aimlapi... with 4 slots. The two aimlapi
    runs retrying hold two slots; aimlapi's queued runs must hold none while it is paused,
    so openai's six runs go through the other two slots (3 waves of 0.3 s) and are all
    answered before aimlapi sends anything again. Order only, from the emulators' stamps."""
    pause = 2.0
    with Emulator(first_byte_latency=LATENCY, answer_tokens=8) as limited, \
            Emulator(first_byte_latency=LATENCY, answer_tokens=8) as healthy:
        monkeypatch.setenv("GEMMA_MAGICS_AIMLAPI_BASE_URL", limited.openai_base_url)
        monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", healthy.openai_base_url)
        monkeypatch.setenv("AIMLAPI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        limited.inject(Fault(status=429, headers={"retry-after-ms": str(int(pause * 1000))},
                             delay_before_first_byte=0.02), count=2)
        df = compare("hello", providers=["aimlapi", "openai"], repeats=6, concurrency=4,
                     display=False)

    assert (df["status"] == "ok").all(), df[["provider", "status", "error"]]
    assert df.loc[df.provider == "aimlapi", "retries"].sum() == 2
    assert max_in_flight(df.attrs["compare"]["timeline"]) <= 4
    sent = sorted(chat_requests(limited), key=lambda r: r.time)
    assert [bool(r.fault) for r in sent[:2]] == [True, True]
    # aimlapi was paused: no 429 can reach the client before its request arrived + 0.02 s,
    # so until that + Retry-After nothing may arrive but the two runs admitted at the start
    # (a retry waits for its own 429, a queued run for the provider's pause)
    paused_from = min(r.time for r in sent if r.fault) + 0.02
    early = [r for r in sent if r.time < paused_from + pause]
    assert len(early) <= 2, [round(r.time - paused_from, 3) for r in sent]
    # openai did not wait for aimlapi: its six answers were all written before aimlapi's
    # first request after the pause arrived (ideally ~0.9 s against >= 2 s)
    answered = chat_requests(healthy)
    assert len(answered) == 6
    openai_done = max(r.finished for r in answered)
    assert openai_done < sent[2].time, (openai_done - paused_from, sent[2].time - paused_from)


def test_a_failing_run_leaves_the_other_31_intact(session, emu):
    emu.inject(Fault(cut_after=3), count=1)  # one stream breaks after three frames
    df = compare("Name a colour.", providers=["openai", "aimlapi"],
                 grid={"temperature": [0.1, 0.5, 0.9, 1.3]}, repeats=4, display=False)

    assert len(df) == 32
    failed = df[df["status"] == "error"]
    assert len(failed) == 1
    assert failed["error_type"].iloc[0] == "StreamError"
    assert failed["response"].iloc[0]  # the text that arrived before the cut is kept
    ok = df[df["status"] == "ok"]
    assert len(ok) == 31 and (ok["completion_tokens"] == 8).all()
    assert len(session.log) == 32


def test_resume_reruns_only_what_did_not_finish(session, emu):
    emu.inject(Fault(status=400, message="bad luck"), count=1)
    first = compare("Count to three.", providers="openai", grid={"seed": [1, 2]}, repeats=3,
                    display=False)
    assert (first["status"] == "ok").sum() == 5
    before = len(chat_requests(emu))

    again = compare("Count to three.", providers="openai", grid={"seed": [1, 2]}, repeats=3,
                    resume=True, display=False)
    assert len(chat_requests(emu)) - before == 1  # only the failed run went out again
    assert len(again) == 6 and (again["status"] == "ok").all()
    kept = set(first.loc[first.status == "ok", "run_id"])
    assert kept <= set(again["run_id"])
    assert again.attrs["compare"]["resumed"] == 5

    third = compare("Count to three.", providers="openai", grid={"seed": [1, 2]}, repeats=3,
                    resume=True, display=False)
    assert len(chat_requests(emu)) - before == 1
    assert set(third["run_id"]) == set(again["run_id"])

    # a changed setting is a different call: it runs
    compare("Count to three.", providers="openai", grid={"seed": [1, 2]}, repeats=3,
            resume=True, display=False, temperature=0.3)
    assert len(chat_requests(emu)) - before == 7


def test_interrupt_cancels_everything_and_records_partial_runs(session, emu, caplog):
    emu.configure(first_byte_latency=0.0, per_token_latency=0.05, answer_tokens=400)
    caplog.set_level(logging.WARNING, logger="asyncio")
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt) as stop:
        compare("Tell a long story.", providers="openai", repeats=16, concurrency=8,
                display=False)
    elapsed = time.perf_counter() - started
    timer.cancel()
    # one line instead of a traceback, and the runs so far
    assert stop.value._render_traceback_() == [
        "stopped: 0 of 16 runs had finished, 8 recorded as interrupted, 8 not started"]
    assert list(stop.value.result.status) == ["interrupted"] * 8

    # a run would end by itself after 400 x 0.05 = 20 s: stopping well before that is the
    # interrupt's doing (the bound is generous: ~0.1 s here, at a tenth of the speed ~1 s)
    assert elapsed < 15, "the interrupt should stop the runs at once, not after 20 s"
    records = session.log.records()
    assert len(records) == 8  # the runs in flight; the 8 queued never started
    assert len(chat_requests(emu)) == 8  # ... and were never sent
    assert {r.status for r in records} == {"interrupted"}
    full = 400  # tokens a run would have streamed
    assert all(r.response and len(r.response.split()) < full for r in records)
    assert all(r.latency_s < 15 for r in records)
    assert pending_tasks() == 0  # every run task wound down on the background loop
    assert not [r for r in caplog.records if "destroyed" in r.getMessage()
                or "never awaited" in r.getMessage()]

    emu.configure(per_token_latency=0.0, answer_tokens=8)
    df = compare("Tell a long story.", providers="openai", repeats=16, resume=True,
                 display=False)
    assert (df["status"] == "ok").all() and len(df) == 16


def test_local_runs_one_at_a_time_while_remote_runs_proceed(session, emu):
    emu.configure(first_byte_latency=0.8)
    df = compare("The sky is", providers=["local", "openai"], repeats=3, max_tokens=4,
                 seed=7, display=False)
    assert (df["status"] == "ok").all(), df[["provider", "error"]]
    timeline = {row["run_id"]: row for row in df.attrs["compare"]["timeline"]}
    local = sorted((timeline[r]["started_s"], timeline[r]["finished_s"])
                   for r in df.loc[df.provider == "local", "run_id"])
    remote = [timeline[r] for r in df.loc[df.provider == "openai", "run_id"]]
    for (_, end), (start, _) in zip(local, local[1:], strict=False):
        assert start >= end - 1e-3, "two local generations overlapped"
    assert max(r["started_s"] for r in remote) < local[0][1] + 0.2, \
        "remote runs waited for the local model"
    assert df.loc[df.provider == "local", "response"].nunique() == 1  # same seed, same text


def test_validation_happens_before_anything_is_sent(session, emu):
    with pytest.raises(ValidationError, match="top_k"):
        compare("hi", providers=["openai", "local"], grid={"top_k": [5, 0]}, display=False)
    with pytest.raises(ValidationError, match="not text"):
        compare(["hi", 3], providers="openai", display=False)
    with pytest.raises(ValidationError, match="catalog"):
        compare("hi", providers=["openai", "aimlapi"], models="no-such-model", display=False)
    with pytest.raises(ValidationError, match="concurrency"):
        compare("hi", providers="openai", concurrency=0, display=False)
    with pytest.raises(ValidationError, match="not compared"):
        compare("hi", providers="openai", per_provider={"opena1": 2}, display=False)
    assert chat_requests(emu) == [] and len(session.log) == 0


def test_prompts_from_a_dataframe_column_and_models_per_provider(session, emu):
    import pandas as pd

    prompts = pd.DataFrame({"question": ["One?", "Two?", "Three?"]})
    df = compare(prompts["question"], providers=["openai", "aimlapi"],
                 models=["openai=m-small", "openai=m-large"], display=False)
    assert len(df) == 9
    assert list(dict.fromkeys(df["prompt"])) == ["One?", "Two?", "Three?"]
    assert set(df.loc[df.provider == "openai", "model"]) == {"m-small", "m-large"}
    assert set(df["variant"]) == {"openai · m-small", "openai · m-large", "aimlapi"}
    sent = {r.body["model"] for r in chat_requests(emu)}
    assert {"m-small", "m-large", "google/gemma-4-26b-a4b-it-maas"} == sent  # aimlapi's default


def test_terminal_progress_lines(session, emu, capsys):
    compare("hi", providers=["openai", "aimlapi"], repeats=2)
    out = capsys.readouterr().out
    assert "comparing 2 variants, 4 runs" in out
    assert out.count("✓") == 4 and "4/4 done" in out
    assert "tokens_per_s_median" in out  # the summary follows


# -- the magic ------------------------------------------------------------------------------


@pytest.fixture
def cip(session):
    """A real IPython shell with %%gemma_compare registered."""
    from IPython.testing import globalipapp

    from gemma_magics.notebook.compare_magics import CompareMagics

    globalipapp.start_ipython()  # once per process; later calls return None
    shell = globalipapp.get_ipython()
    shell.register_magics(CompareMagics)
    yield shell
    shell.user_ns.pop("cmp", None)


def test_magic_grid_axes_from_comma_lists(cip, emu, capsys):
    cip.user_ns["topic"] = "gradient descent"
    cip.run_cell_magic("gemma_compare",
                       "-p openai,aimlapi --temperature 0.2,0.9 --seed 1,2 --repeat 2 "
                       "--max-tokens 8 -o cmp",
                       "Write a haiku about {topic}.")
    cmp = cip.user_ns["cmp"]
    assert len(cmp) == 16 and cmp["variant"].nunique() == 8
    assert set(cmp["prompt"]) == {"Write a haiku about gradient descent."}
    assert set(cmp["max_tokens"]) == {8}
    assert "16/16 done" in capsys.readouterr().out


@pytest.mark.parametrize(("line", "message"), [
    ("-p openai --temperature 0.2,hot", "'hot' is not a number"),
    ("-p openai --temperature 9", "temperature=9.0 is out of range"),
    ("-p nowhere", "unknown provider 'nowhere'"),
    ("-p openai --repeat 0", "--repeat must be at least 1"),
    ("-p openai --bogus 1", "unrecognized arguments"),
    ("-p openai --layout grid", "invalid choice: 'grid'"),
])
def test_magic_bad_input_is_one_usage_line(cip, emu, line, message):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError) as info:
        cip.run_cell_magic("gemma_compare", line, "hi")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert chat_requests(emu) == []


def test_gemma_magics_compare_stays_the_function_after_the_magic(cip, emu):
    import gemma_magics

    cip.run_cell_magic("gemma_compare", "-p openai --quiet", "hi")
    assert callable(gemma_magics.compare) and gemma_magics.compare.__name__ == "compare"


def test_magic_help_is_the_docstring(cip):
    from gemma_magics.notebook.compare_magics import CompareMagics

    doc = CompareMagics.gemma_compare.__doc__
    assert "--temperature 0.2,0.9" in doc and "grid axis" in doc and "-o NAME" in doc


# -- inside a real Jupyter kernel -----------------------------------------------------------

KERNEL_CODE = """
import os
from gemma_magics.emulator import Emulator
from gemma_magics.config import Config
from gemma_magics.session import Session, set_session
from gemma_magics.notebook.live_compare import compare

emu = Emulator(first_byte_latency=0.1, per_token_latency=0.01, answer_tokens=60).start()
os.environ.update(GEMMA_MAGICS_OPENAI_BASE_URL=emu.openai_base_url, OPENAI_API_KEY="k",
                  GEMMA_MAGICS_AIMLAPI_BASE_URL=emu.openai_base_url, AIMLAPI_API_KEY="k")
set_session(Session(config=Config(), db_path=":memory:"))
df = compare("Write a haiku.", providers=["openai", "aimlapi"],
             grid={"temperature": [0.2, 0.9]}, repeats=2)
print("RESULT", len(df), (df.status == "ok").sum(), repr(df.attrs["compare"]["wall_s"]))
"""


LONG_CODE = """
emu.configure(first_byte_latency=0.0, per_token_latency=0.05, answer_tokens=400)
compare("Tell a long story.", providers="openai", repeats=12, concurrency=4)
"""
COUNT_CODE = """
from gemma_magics import history
print("STATUS", sorted(history().status.value_counts().astype(int).items()))
"""


def _run(kc, code: str, *, interrupt_after: float | None = None, km=None) -> list[dict]:
    msg_id = kc.execute(code)
    messages, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        if interrupt_after is not None and time.monotonic() > deadline - 60 + interrupt_after:
            km.interrupt_kernel()  # a real SIGINT, as the Jupyter stop button sends
            interrupt_after = None
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
        except Exception:  # queue.Empty
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError("the kernel did not finish the cell")


def test_live_grid_in_a_kernel_is_throttled_and_interruptible(isolated_env):
    """In a running kernel (its own asyncio loop) the grid is one display, updated at most
    ~20 times a second while 8 answers stream 480 tokens, then the views follow. A kernel
    interrupt stops a long comparison at once and records its partial runs."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        messages = _run(kc, KERNEL_CODE)
        started = time.monotonic()
        stopped = _run(kc, LONG_CODE, interrupt_after=1.5, km=km)
        stop_s = time.monotonic() - started - 1.5  # from the interrupt to the idle kernel
        counted = _run(kc, COUNT_CODE)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    assert [m["content"]["ename"] for m in stopped if m["msg_type"] == "error"] \
        == ["Interrupted"]  # a KeyboardInterrupt shown as one line
    # runs would end by themselves after 20 s; far less means the interrupt stopped them
    assert stop_s < 15, f"runs take 20 s each; stopping took {stop_s:.1f} s"
    last_grid = [m for m in stopped if m["msg_type"] == "update_display_data"][-1]
    assert "4 interrupted" in last_grid["content"]["data"]["text/html"]
    status = "".join(m["content"].get("text", "") for m in counted if m["msg_type"] == "stream")
    assert "STATUS [('interrupted', 4), ('ok', 8)]" in status

    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    result = next(line for line in text.splitlines() if line.startswith("RESULT"))
    _, rows, ok, wall = result.split()
    assert (rows, ok) == ("8", "8")
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    grid_id = shown[0]["content"]["transient"]["display_id"]
    assert all(m["content"]["transient"]["display_id"] == grid_id for m in updates)
    # The grid's Budget lets a non-forced message through only >= 1/20 s (its own
    # perf_counter) after the previous one, and every non-forced one is taken inside the
    # loop that ``wall_s`` times on that same clock: at most 20 * wall + 1 of them, plus the
    # one forced final draw. Whatever the machine's speed, this cannot be exceeded unless
    # the throttle is broken; a slow machine only makes ``wall`` longer.
    assert 3 <= len(updates) <= 20 * float(wall) + 2, (len(updates), wall)
    final = updates[-1]["content"]["data"]["text/html"]
    assert final.count("✓") == 8 and "8/8 done" in final
    kinds = [sorted(m["content"]["data"]) for m in shown[1:]]
    assert any("image/png" in k for k in kinds)  # the chart
    htmls = [m["content"]["data"].get("text/html", "") for m in shown[1:]]
    assert any("Answers side by side" in h for h in htmls)
    # the summary: the decision columns first, every column (iqr included) behind them
    assert any("median tokens/s" in h and "cost per 1k calls" in h and "interquartile" in h
               and h.index("cost per 1k") < h.index("<details") for h in htmls)


def test_sweeps_larger_than_a_screen_draw_every_run_compact(session, emu):
    """Into an ipywidgets.Output (as the panel does): 40 runs are compact cells, a row per
    variant, every run drawn while they run and at the end (issue 18 item 8: 6 of 30 stayed
    hidden; item 9: beyond 4 variants the cards flowed across columns)."""
    import ipywidgets

    emu.configure(first_byte_latency=0.0, per_token_latency=0.002)
    out = ipywidgets.Output()
    drawn: list[str] = []
    out.observe(lambda change: drawn.append(change["new"][0]["data"]["text/html"])
                if change["new"] else None, names="outputs")
    df = compare(["a", "b", "c", "d", "e"], providers=["openai", "aimlapi"], repeats=4,
                 display=out)
    assert len(df) == 40
    grids = [g for g in drawn if 'class="gmc-grid' in g]
    assert len(grids) >= 2 and all('data-layout="compact"' in g for g in grids)
    assert all(g.count('data-run="') == 40 and g.count('data-variant="') == 2 for g in grids)
    grid = out.outputs[0]["data"]["text/html"]
    assert "40/40 done" in grid and grid.count('class="gmc-c gmc-ok"') == 40
    assert "not drawn" not in grid  # nothing hidden, nothing to explain
    assert "Answers side by side" in out.outputs[1]["data"]["text/html"]


def test_a_forced_full_grid_beyond_its_limit_says_what_it_draws_instead():
    from gemma_magics.comparisons.gridlayout import FULL_MAX
    from gemma_magics.comparisons.gridstate import Cell, GridState
    from gemma_magics.notebook.grid import LiveGrid

    cells = [Cell(index=i, variant=f"v{i % 2}", prompt_index=0, prompt="p", repeat=i // 2,
                  provider="openai", model="m") for i in range(FULL_MAX + 2)]
    state = GridState(cells)
    state.close()  # every run "not run": the end of an interrupted sweep

    class Surface:
        def show(self, bundle):
            self.html, self.text = bundle["text/html"], bundle["text/plain"]

    surface = Surface()
    LiveGrid(state, surface, layout="full").refresh(force=True)
    assert surface.html.count('data-run="') == len(cells)
    said = f"layout='full' draws at most {FULL_MAX} runs; {len(cells)} are shown compact"
    assert said in html.unescape(surface.html) and said in surface.text
