"""Ctrl-C in a real Jupyter kernel (a real SIGINT, as the stop button sends) during a model
load, a local generation, a remote stream and a comparison.

Each time: the cell ends with KeyboardInterrupt, the partial text is on screen with an
"interrupted" footer and in the log as ``interrupted``, the kernel answers the next cell,
and nothing is left behind: no pending asyncio task, no "Task was destroyed but it is
pending", no unraisable exception or ResourceWarning (an unclosed socket) after a
``gc.collect()``, no connection left open to the server (checked from both ends: the
kernel's sockets via psutil, the emulator's accepted connections).
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra is not installed")
pytest.importorskip("psutil")

from emulated import ERROR_STYLES  # noqa: E402
from kernel_client import CellRun, Kernel  # noqa: E402

from gemma_magics.emulator import Emulator  # noqa: E402

pytestmark = pytest.mark.slow
#: Interrupt to reply, at most. Not a speed claim: the answers would take 18 s and more by
#: themselves, so a reply well before that shows the interrupt stopped them (typically
#: ~0.1-0.5 s: even ten times slower stays far under this).
STOP_S = 12.0
WORDS = " ".join(f"w{i}" for i in range(600))  # the emulator's answer: 600 tokens, 20 s

SETUP = """
import gc, json, logging, sys, threading, warnings
_gm_seen = []

class _Catch(logging.Handler):
    def emit(self, record):
        _gm_seen.append(f"{record.name}: {record.getMessage()}")

logging.getLogger("asyncio").addHandler(_Catch(logging.WARNING))

def _unraisable(u):
    _gm_seen.append(f"unraisable {u.exc_type.__name__}: {u.exc_value!r} in {u.object!r}")

sys.unraisablehook = _unraisable
warnings.simplefilter("always")

def _show(message, category, *args, **kwargs):
    # an unclosed socket or file, a coroutine never awaited: what an unclean stop leaves
    if issubclass(category, (ResourceWarning, RuntimeWarning)):
        _gm_seen.append(f"{category.__name__}: {message}")

warnings.showwarning = _show
%load_ext gemma_magics
"""
PROBE = """
gc.collect(); gc.collect()
import psutil
from gemma_magics.comparisons.scheduler import pending_tasks
_conns = [c.status for c in psutil.Process().net_connections(kind="tcp")
          if c.raddr and c.raddr.port == {port}]
print("PROBE " + json.dumps({{"seen": _gm_seen, "conns": _conns, "tasks": pending_tasks()}}))
"""
LAST = """
_r = gemma_magics.history().iloc[-{n}:]
print("LAST " + json.dumps([{{"status": s, "response": t, "provider": p}}
                            for s, t, p in zip(_r.status, _r.response, _r.provider)]))
"""


def printed(run: CellRun, tag: str):
    for message in run.of_type("stream"):
        for line in message["content"]["text"].splitlines():
            if line.startswith(tag + " "):
                return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"no {tag} line in {run.text()!r}")


class Session:
    """A kernel whose hosted providers live on an emulator in this process."""

    def __init__(self, tmp_path, emu: Emulator):
        self.emu = emu
        base = emu.base_url
        env = {
            "GEMMA_MAGICS_DB": str(tmp_path / "history.sqlite"),
            "GEMMA_MAGICS_CONFIG": str(tmp_path / "config.toml"),
            "GEMMA_MAGICS_OPENAI_BASE_URL": base + "/v1",
            "GEMMA_MAGICS_AIMLAPI_BASE_URL": base + "/aimlapi/v1",
            "OPENAI_API_KEY": "test-key", "AIMLAPI_API_KEY": "test-key",
            "PYTHONWARNINGS": "always",
        }
        self.kernel = Kernel(env=env)
        setup = self.kernel.run(SETUP)
        assert setup.reply["content"]["status"] == "ok", setup.text()

    def probe(self) -> dict:
        return printed(self.kernel.run(PROBE.format(port=self.emu.port)), "PROBE")

    def last(self, n: int = 1) -> list[dict]:
        return printed(self.kernel.run("import gemma_magics\n" + LAST.format(n=n)), "LAST")

    def interrupted(self, code: str, when, delay: float) -> tuple[CellRun, float]:
        """Run ``code``; send SIGINT ``delay`` s after the first message ``when`` accepts.
        Returns the run and how long the kernel took from the interrupt to the reply."""
        fired: list[float] = []

        def interrupt() -> None:
            fired.append(time.monotonic())
            self.kernel.interrupt()

        def on_message(msg) -> None:
            if not fired and not timers and when(msg):
                timer = threading.Timer(delay, interrupt)
                timers.append(timer)
                timer.start()

        timers: list[threading.Timer] = []
        run = self.kernel.run(code, timeout=120, on_message=on_message)
        ended = time.monotonic()
        assert fired, "the cell ended before the interrupt was sent"
        content = run.reply["content"]
        assert content["status"] == "error", run.text()
        assert content["ename"] in ("Interrupted", "KeyboardInterrupt"), run.text()
        return run, ended - fired[0]

    def server_idle(self, timeout: float = 10.0) -> int:
        """Wait until the emulator has no request in flight; its open connections then.
        A stopped client's stream ends at the server's next token write (every 0.03 s); one
        left streaming would run its 18 s, past this wait, and fail the check."""
        deadline = time.monotonic() + timeout
        while self.emu.state.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.emu.state.in_flight == 0, "the server still streams to a stopped cell"
        return len(self.emu._server._conns)

    def close(self) -> None:
        self.kernel.close()


def answer_shown(msg) -> bool:
    return msg["msg_type"] == "update_display_data" and bool(
        msg["content"]["data"].get("text/plain", "").strip())


def assert_clean(probe: dict, before: dict) -> None:
    assert probe["seen"] == [], probe["seen"]
    assert probe["tasks"] == 0
    assert len(probe["conns"]) <= len(before["conns"]), (probe["conns"], before["conns"])
    assert "CLOSE_WAIT" not in probe["conns"]


@pytest.fixture(scope="module")
def emu():
    with Emulator(error_styles=ERROR_STYLES) as server:
        yield server


@pytest.fixture(scope="module")
def ks(emu, tmp_path_factory):
    session = Session(tmp_path_factory.mktemp("interrupts"), emu)
    yield session
    session.close()


@pytest.fixture
def slow_answers(emu):
    emu.reset()
    emu.configure(text=WORDS, per_token_latency=0.03)
    yield emu
    emu.reset()


def test_during_the_model_load(ks, emu):
    """The kernel's first local call loads the model; SIGINT as soon as the "loading
    model…" line shows. Wherever it lands (in llama.cpp's loader or just after), the call
    is recorded as interrupted and the next call loads and answers. (First in this module:
    the kernel has not loaded the model yet.)"""
    cold = ks.kernel.run("from gemma_magics.providers import local_model\n"
                         "from gemma_magics.providers.local import is_loaded\n"
                         "print('LOADED', int(is_loaded(str(local_model.model_path()))))")
    if "LOADED 1" in cold.text():
        pytest.skip("the model is already loaded in this kernel")
    before = ks.probe()
    loading = lambda m: "loading model" in json.dumps(m["content"].get("data", {}))  # noqa: E731
    run, stop_s = ks.interrupted("%%gemma -p local --max-tokens 64 --seed 1\nHello",
                                 loading, delay=0.0)
    [last] = ks.last()
    assert last["status"] == "interrupted"
    assert "interrupted" in run.text()
    assert_clean(ks.probe(), before)
    again = ks.kernel.run("%%gemma -p local --max-tokens 4 --seed 1\nThe sky is")
    assert again.reply["content"]["status"] == "ok", again.text()
    assert ks.last()[0]["status"] == "ok"
    print(f"\ninterrupt during the model load: stopped in {stop_s:.2f} s, "
          f"{len(last['response'])} chars of text before it landed")


def test_during_a_remote_stream(ks, slow_answers):
    warm = ks.kernel.run("%%gemma -p openai --max-tokens 4\nHi")  # a pooled connection
    assert warm.reply["content"]["status"] == "ok", warm.text()
    before = ks.probe()
    server_before = ks.server_idle()
    for _attempt in range(3):  # again and again: nothing may pile up
        run, stop_s = ks.interrupted("%%gemma -p openai --max-tokens 600\nCount.",
                                     answer_shown, delay=0.3)
        assert stop_s < STOP_S, f"the stream took {stop_s:.1f} s to stop"
        print(f"\nremote stream interrupted: reply {stop_s:.2f} s after SIGINT")
        [last] = ks.last()
        assert last["status"] == "interrupted"
        assert last["response"] and WORDS.startswith(last["response"])  # a clean prefix
        shown = run.text()
        assert last["response"][-20:] in shown and "interrupted" in shown
        assert ks.server_idle() <= server_before, "a connection stayed open"
        assert_clean(ks.probe(), before)
    assert ks.kernel.run("print(6 * 7)").text().strip() == "42"


def test_during_a_comparison(ks, slow_answers):
    warm = ks.kernel.run("%%gemma_compare -p openai,aimlapi --max-tokens 4 --quiet\nHi")
    assert warm.reply["content"]["status"] == "ok", warm.text()
    before = ks.probe()
    server_before = ks.server_idle()
    for _attempt in range(2):
        run, stop_s = ks.interrupted(
            "%%gemma_compare -p openai,aimlapi --repeat 3 --max-tokens 600\nCount.",
            lambda m: m["msg_type"] == "update_display_data", delay=0.8)
        assert stop_s < STOP_S, f"the comparison took {stop_s:.1f} s to stop"
        print(f"\ncomparison interrupted: reply {stop_s:.2f} s after SIGINT")
        last = ks.last(6)
        assert [r["status"] for r in last] == ["interrupted"] * 6
        assert all(r["response"] and WORDS.startswith(r["response"]) for r in last)
        grid = [m for m in run.of_type("update_display_data")][-1]["content"]["data"]
        assert "6 interrupted" in grid["text/html"]
        assert ks.server_idle() <= server_before, "a connection stayed open"
        assert_clean(ks.probe(), before)
    assert ks.kernel.run("print(6 * 7)").text().strip() == "42"


def quiet_stop(run: CellRun) -> str:
    """The stop's error output: one line, no traceback through library internals."""
    [error] = run.of_type("error")
    assert error["content"]["ename"] == "Interrupted", error["content"]["ename"]
    lines = "\n".join(error["content"]["traceback"]).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_stop_is_one_quiet_line_and_run_all_stops_there(ks, slow_answers):
    """Issue 18 item 3: the stop button under %%gemma prints one line instead of a
    KeyboardInterrupt traceback, and a cell queued after it (Run All) does not run."""
    queued: list[str] = []

    def then_queue(msg) -> None:  # Run All: the next cell is already queued
        if not queued and msg["msg_type"] == "status":
            queued.append(ks.kernel.kc.execute("print('the next cell ran')"))

    def when(msg) -> bool:
        then_queue(msg)
        return answer_shown(msg)

    run, _ = ks.interrupted("%%gemma -p openai --max-tokens 600 -o cut\nCount.", when, 0.3)
    reply = ks.kernel.kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == queued[0]
    assert reply["content"]["status"] == "aborted", "Run All went on past the stopped cell"
    line = quiet_stop(run)
    [last] = ks.last()
    assert last["status"] == "interrupted"
    assert re.fullmatch(r"stopped after \d+ tokens?; recorded as interrupted", line), line
    kept = ks.kernel.run("print(type(cut).__name__, cut.record.status)").text()
    assert kept.strip() == "Completion interrupted"


def test_stopped_compare_is_one_line_and_sets_its_output(ks, slow_answers):
    """An interrupted %%gemma_compare -o NAME: one line, and NAME holds the runs."""
    ks.kernel.run("cmp = None")
    run, _ = ks.interrupted(
        "%%gemma_compare -p openai,aimlapi --repeat 2 --max-tokens 600 -o cmp\nCount.",
        lambda m: m["msg_type"] == "update_display_data", delay=0.8)
    line = quiet_stop(run)
    assert line.startswith("stopped: ") and "4 recorded as interrupted" in line, line
    shown = printed(ks.kernel.run(
        "print('CMP ' + json.dumps(None if cmp is None else list(cmp.status)))"), "CMP")
    assert shown == ["interrupted"] * 4


def test_stop_inside_a_tool_is_one_line_too(ks, emu):
    """--run-tools: the stop lands in the notebook's own tool function, not in a call."""
    emu.reset()
    emu.set_text(None, tool_calls=[{"name": "slow_lookup", "arguments": {"city": "Lisbon"}}])
    try:
        ks.kernel.run("import time\n"
                      "def slow_lookup(city: str) -> str:\n"
                      "    \"\"\"Look a city up (slowly).\"\"\"\n"
                      "    print('TOOL started', flush=True)\n"
                      "    time.sleep(60)\n"
                      "    return city\n"
                      "tools = [slow_lookup]")
        started = lambda m: "TOOL started" in m["content"].get("text", "")  # noqa: E731
        run, stop_s = ks.interrupted(
            "%%gemma -p openai --tools tools --run-tools --max-tokens 20\nWeather?",
            started, delay=0.2)
        assert stop_s < STOP_S
        assert quiet_stop(run).startswith("stopped; every call made so far is recorded")
        assert ks.last()[0]["status"] == "ok"  # the model's call had finished
    finally:
        emu.reset()


COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,"


def test_during_a_local_generation(ks, emu):
    warm = ks.kernel.run("%%gemma -p local --max-tokens 2\nHi")  # the model, loaded
    assert warm.reply["content"]["status"] == "ok", warm.text()
    before = ks.probe()
    run, stop_s = ks.interrupted(
        f"%%gemma -p local --max-tokens 3000 --temperature 0 --seed 1 -o cut\n{COUNTING}",
        answer_shown, delay=0.3)
    assert stop_s < STOP_S, f"the generation took {stop_s:.1f} s to stop"
    print(f"\nlocal generation interrupted: reply {stop_s:.2f} s after SIGINT")
    [last] = ks.last()
    assert last["status"] == "interrupted" and last["response"].strip()
    assert last["response"].strip()[-10:] in run.text() and "interrupted" in run.text()
    assert_clean(ks.probe(), before)
    again = ks.kernel.run("%%gemma -p local --max-tokens 3 --seed 1\nThe sky is")
    assert again.reply["content"]["status"] == "ok"
    assert ks.last()[0]["status"] == "ok"
