"""A saved notebook reopened without its kernel keeps the panel's results (issue 18 item
13). Before, JupyterLab drew "Error displaying widget: model not found" in place of the
whole panel, its Run's answer included: the answer lived only in a widget.

Uses the JupyterLab, Chromium and notebook driver of ``test_jupyterlab.py``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from test_jupyterlab import Notebook, browser, lab, page, shoot, write_notebook  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ANSWER = "kept answer: tea costs $3.50\nsecond line"
SETUP = f"""%load_ext gemma_magics
import os
import gemma_magics as gm
from gemma_magics.emulator import Emulator
emu = Emulator().start()
emu.set_text({ANSWER!r})
os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',
                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url)"""
CELLS = [
    ("pr-setup", SETUP),
    ("pr-panel", "panel = gm.panel()\npanel.provider.value = 'cloudflare'\n"
                 "panel.controls['max_tokens'].value = 32\n"
                 "panel.compare_with.value = ('cloudflare',)\npanel"),
    ("pr-wait", "r = panel.wait(60).record\nprint('RECORD', r.status)"),
    ("pr-compare", "frame = panel.wait(60)\nprint('COMPARED', list(frame.status))"),
]
NOTE = "its controls live in the kernel that drew them"


def saved_outputs(path: Path, cell_id: str) -> str:
    cell = next(c for c in json.loads(path.read_text())["cells"] if c["id"] == cell_id)
    return json.dumps(cell["outputs"])


def test_panel_run_survives_a_reload_without_its_kernel(page, lab):  # noqa: F811
    path = lab.work / "panel_reload.ipynb"
    write_notebook(path, CELLS)
    nb = Notebook(page, lab, "panel_reload.ipynb")
    nb.run_until("pr-wait")
    panel = nb.cell("pr-panel").locator(".jupyter-widgets.widget-vbox").first
    prompt = panel.locator("textarea[placeholder='prompt']")
    prompt.fill("What does tea cost?")
    prompt.blur()
    time.sleep(1.0)  # the prompt has reached the kernel
    panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$")).click()
    nb.wait(nb.start())
    assert "RECORD ok" in nb.output_text("pr-wait")
    panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Compare\s*$")).click()
    nb.wait(nb.start())
    assert "COMPARED ['ok']" in nb.output_text("pr-compare")
    output = nb.cell("pr-panel").locator(".jp-OutputArea").first
    deadline = time.monotonic() + 30
    while "second line" not in output.inner_text():
        assert time.monotonic() < deadline, output.inner_text()
        time.sleep(0.1)
    live = output.inner_text()
    assert live.count("kept answer: tea costs $3.50") == 3, live  # Run, grid, side by side
    assert NOTE not in live and "prompt: What does tea cost?" not in live, live
    shoot(nb.cell("pr-panel"), "panel-reload-live.png")

    nb.cell("pr-compare").click(position={"x": 30, "y": 6})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while "COMPARED" not in saved_outputs(path, "pr-compare"):
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.2)
    assert "second line" in saved_outputs(path, "pr-panel"), "the answer is not in the file"
    for session in lab.api("GET", "/api/sessions"):  # its kernel shut down, as overnight
        lab.api("DELETE", f"/api/sessions/{session['id']}")
    assert lab.api("GET", "/api/kernels") == []

    again = Notebook(page, lab, "panel_reload.ipynb")  # reopened: a new kernel, no models
    cell = again.cell("pr-panel")
    # the widget manager has given up on the panel's model (its renderer shows the error)
    cell.locator(".jp-OutputArea-output.jupyter-widgets").first.wait_for(state="attached")
    reopened = cell.locator(".jp-OutputArea").first.inner_text()
    shoot(cell, "panel-reload-reopened.png", "panel-reopened.png")
    assert "model not found" not in reopened, reopened  # before: this, and nothing else
    assert "kept answer: tea costs $3.50\nsecond line" in reopened, reopened
    assert NOTE in reopened and "prompt: What does tea cost?" in reopened, reopened
    assert re.search(r"cloudflare · .* tokens", reopened), reopened  # the stats line's footer
    assert "Compare · cloudflare · prompt: What does tea cost?" in reopened, reopened
    assert "1/1 done" in reopened and "1 runs · 1 ok" in reopened, reopened  # grid, stats
    assert reopened.count("kept answer: tea costs $3.50") == 3, reopened  # as live
    print(f"\nreopened without its kernel, the panel's cell reads:\n{reopened}")

    # the same file opened untrusted (as on another machine: its signature no longer
    # matches): JupyterLab draws no widget then, the panel's text stands in for it
    for session in lab.api("GET", "/api/sessions"):
        lab.api("DELETE", f"/api/sessions/{session['id']}")
    nb_json = json.loads(path.read_text())
    nb_json["metadata"]["edited_elsewhere"] = True
    path.write_text(json.dumps(nb_json))
    untrusted = Notebook(page, lab, "panel_reload.ipynb")
    cell = untrusted.cell("pr-panel")
    cell.locator(".jp-OutputArea-output:not(.jp-mod-trusted)").first.wait_for()
    seen = cell.locator(".jp-OutputArea").first.inner_text()
    assert "model not found" not in seen, seen
    assert "<gemma_magics panel: cloudflare · " in seen, seen  # the widget's text/plain
    assert "kept answer: tea costs $3.50\nsecond line" in seen and "1/1 done" in seen, seen
    shoot(cell, "panel-reload-untrusted.png")
