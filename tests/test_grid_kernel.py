"""What a saved notebook keeps of a cell, in a real Jupyter kernel (issue 18 items 8, 13,
16): a sweep larger than a screen has every card at the end and no widget left that
would read "model not found" once reopened without its kernel; a %%gemma cell whose
answer followed a transient status line ("retrying…", "loading model…") keeps no empty
output in its place."""

from __future__ import annotations

import pytest
from kernel_client import Kernel, emulated_env, saved_outputs

from gemma_magics.emulator import Emulator

pytestmark = pytest.mark.slow
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    with Emulator(first_byte_latency=0.0, per_token_latency=0.002, answer_tokens=6) as emu:
        k = Kernel(env=emulated_env(tmp, emu.openai_base_url))
        try:
            setup = k.run("%load_ext gemma_magics\nimport gemma_magics.providers.retries as r\n"
                          "r.BACKOFF_START_S = r.BACKOFF_JITTER_S = 0.05")
            assert setup.reply["content"]["status"] == "ok", setup.text()
            k.emu = emu
            yield k
        finally:
            k.close()


def test_thirty_runs_end_with_thirty_cards_and_no_widget_left(kernel):
    run = kernel.run("%%gemma_compare -p openai --repeat 30 --max-tokens 6 -o cmp\nCount.")
    assert run.reply["content"]["status"] == "ok", run.text()
    messages = [m for _, m in run.messages]
    assert any(WIDGET in m["content"].get("data", {}) for m in messages), \
        "a 30-run sweep shows a progress bar while it runs"
    outputs = saved_outputs(messages)
    grids = [o["text/html"] for o in outputs if 'class="gmc-grid' in o.get("text/html", "")]
    assert len(grids) == 1
    assert "30/30 done" in grids[0] and grids[0].count('data-run="') == 30
    assert "not drawn" not in grids[0]
    assert [o for o in outputs if WIDGET in o] == [], "a widget stays in the saved output"
    check = kernel.run("print(len(cmp), (cmp.status == 'ok').sum())").text()
    assert check.strip() == "30 30"


def test_a_cell_keeps_no_empty_output_after_a_status_line(kernel):
    kernel.emu.inject({"status": 503, "message": "busy"}, count=1)  # one retry first
    run = kernel.run("%%gemma -p openai --max-tokens 6\nHi")
    assert run.reply["content"]["status"] == "ok", run.text()
    assert any("retrying" in m["content"].get("data", {}).get("text/plain", "")
               for m in run.of_type("display_data")), "no transient status line was shown"
    outputs = saved_outputs([m for _, m in run.messages])
    empty = [o for o in outputs if not "".join(str(v) for v in o.values()).strip()]
    assert empty == [], f"{len(empty)} empty outputs saved of {len(outputs)}"
    assert "tokens" in outputs[-1]["text/plain"]  # the footer, last


def test_the_layout_can_be_forced_from_the_magic_and_from_compare(kernel):
    """``--compact`` on a 3-run sweep (full cards by default) and ``layout="summary"`` reach
    the grid a notebook keeps; a bad layout is refused before anything is sent."""
    run = kernel.run("%%gemma_compare -p openai --repeat 3 --max-tokens 6 --compact\nCount.")
    assert run.reply["content"]["status"] == "ok", run.text()
    grids = [o["text/html"] for o in saved_outputs([m for _, m in run.messages])
             if 'class="gmc-grid' in o.get("text/html", "")]
    assert len(grids) == 1 and 'data-layout="compact"' in grids[0]
    assert grids[0].count('class="gmc-c gmc-ok"') == 3
    run = kernel.run("import gemma_magics as gm\n"
                     "df = gm.compare('Count.', providers='openai', repeats=2, max_tokens=6,"
                     " layout='summary')")
    assert run.reply["content"]["status"] == "ok", run.text()
    grids = [o["text/html"] for o in saved_outputs([m for _, m in run.messages])
             if 'class="gmc-grid' in o.get("text/html", "")]
    assert len(grids) == 1 and 'data-layout="summary"' in grids[0]
    assert "2 runs: a line per variant" in grids[0]
    bad = kernel.run("gm.compare('Count.', providers='openai', layout='grid')")
    assert bad.reply["content"]["status"] == "error"
    assert "layout='grid' is not a grid layout" in bad.text()
