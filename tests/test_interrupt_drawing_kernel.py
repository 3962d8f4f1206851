"""A stop at any point of %%gemma_compare or gm.compare() is one quiet line and
``-o NAME`` still gets the runs, including a stop while the tables and charts are drawn
after every run has ended (before: a KeyboardInterrupt traceback through pandas or
matplotlib, and NAME left unset).

Deterministic: the kernel sends itself a real SIGINT from inside the drawing step under
test (``signal.raise_signal``, handled by the kernel as the stop button's interrupt is),
so the stop lands exactly there whatever the machine's speed.
"""

from __future__ import annotations

import json

import pytest
from kernel_client import CellRun, Kernel, emulated_env, ok

from gemma_magics.emulator import Emulator

pytestmark = pytest.mark.slow

SETUP = """%load_ext gemma_magics
import json, signal
import gemma_magics as gm

def interrupt_in(owner, name):
    \"\"\"The next call of owner.name gets a real SIGINT first (once).\"\"\"
    real = getattr(owner, name)
    def once(*args, **kwargs):
        setattr(owner, name, real)
        signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)
    setattr(owner, name, once)
"""
COMPARE = "%%gemma_compare -p openai --repeat 2 --max-tokens 4 -o cmp\nCount."
#: (where the stop lands, the cell, the line it must end with, cmp's statuses after)
CASES = {
    "side-by-side table": (
        "import gemma_magics.comparisons.views as v\ninterrupt_in(v, 'side_by_side')",
        COMPARE, "stopped while drawing the results: 2 of 2 runs had finished, "
        "0 recorded as interrupted", ["ok", "ok"]),
    "summary table": (
        "import gemma_magics.comparisons.views as v\ninterrupt_in(v, 'summary_tables')",
        COMPARE, "stopped while drawing the results: 2 of 2 runs had finished, "
        "0 recorded as interrupted", ["ok", "ok"]),
    "chart": (
        "import gemma_magics.notebook.grid as g\ninterrupt_in(g, 'chart_image')",
        COMPARE, "stopped while drawing the results: 2 of 2 runs had finished, "
        "0 recorded as interrupted", ["ok", "ok"]),
    "judging": (  # the step after the runs (it returns at once without a judge)
        "from gemma_magics.comparisons.live_scoring import LiveScoring\n"
        "interrupt_in(LiveScoring, 'judge_all')",
        COMPARE, "stopped while judging: 2 of 2 runs had finished, 0 recorded as interrupted",
        ["ok", "ok"]),
    "planning": (
        "import gemma_magics.comparisons.run as r\ninterrupt_in(r, 'plan')",
        COMPARE, "stopped before any run was sent", None),
    "dry-run estimate": (
        "import gemma_magics.notebook.estimate_view as e\ninterrupt_in(e, 'show_estimate')",
        "%%gemma_compare -p openai --repeat 2 --max-tokens 4 --dry-run -o cmp\nCount.",
        "stopped while drawing the estimate (nothing was sent)", [0]),  # the estimate's row
}


def quiet_stop(run: CellRun) -> str:
    """The stop's error output: one line, no traceback through library internals."""
    assert run.reply["content"]["status"] == "error", run.text()
    [error] = run.of_type("error")
    assert error["content"]["ename"] == "Interrupted", "\n".join(error["content"]["traceback"])
    lines = "\n".join(error["content"]["traceback"]).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interrupt-drawing")
    with Emulator(first_byte_latency=0.0, per_token_latency=0.001, answer_tokens=4) as emu:
        k = Kernel(env=emulated_env(tmp, emu.openai_base_url))
        try:
            ok(k.run(SETUP))
            yield k
        finally:
            k.close()


@pytest.mark.parametrize("where", list(CASES))
def test_a_stop_anywhere_in_a_compare_cell_is_one_line_and_sets_its_output(kernel, where):
    inject, cell, expected, statuses = CASES[where]
    ok(kernel.run("cmp = None\n" + inject))
    assert quiet_stop(kernel.run(cell)) == expected
    shown = ok(kernel.run("print('CMP', json.dumps(None if cmp is None else "
                          "list(cmp['status'] if 'status' in cmp else cmp.index)))"))
    assert json.loads(shown.split("CMP ", 1)[1]) == statuses
    assert "42" in ok(kernel.run("print(6 * 7)"))  # the kernel goes on


def test_a_stop_while_gm_compare_draws_is_one_line_with_the_result(kernel):
    ok(kernel.run("import gemma_magics.comparisons.views as v\n"
                  "interrupt_in(v, 'summary_tables')"))
    run = kernel.run("df = gm.compare('Count.', providers='openai', max_tokens=4)")
    assert quiet_stop(run).startswith("stopped while drawing the results: 1 of 1 runs")
    # the same stop caught in code: its result is the whole DataFrame
    shown = ok(kernel.run("interrupt_in(v, 'summary_tables')\n"
                          "try:\n    gm.compare('Count.', providers='openai', max_tokens=4)\n"
                          "except gm.Interrupted as stop:\n"
                          "    print('RESULT', list(stop.result.status))"))
    assert "RESULT ['ok']" in shown
