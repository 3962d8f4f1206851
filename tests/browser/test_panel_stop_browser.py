"""The panel's Stop button in a real JupyterLab (issue 18 item 4): a Run clicked in the
panel streams while the kernel stays free, and Stop ends it with the partial answer on
screen, recorded as interrupted. Before, the Run held the kernel until the answer ended
(the Stop click, like the kernel interrupt, waited behind it).

Uses the JupyterLab, Chromium and notebook driver of ``test_jupyterlab.py``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_jupyterlab import Notebook, browser, lab, page, shoot, write_notebook  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

SETUP = """%load_ext gemma_magics
import os
import gemma_magics as gm
from gemma_magics.emulator import Emulator
emu = Emulator().start()
emu.set_text(' '.join(f'w{i}' for i in range(600)))
emu.set_latency(per_token=0.03)
os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',
                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url)"""
CELLS = [
    ("ps-setup", SETUP),
    ("ps-panel", "panel = gm.panel()\npanel.provider.value = 'cloudflare'\n"
                 "panel.controls['max_tokens'].value = 600\npanel"),
    ("ps-check", "r = panel.wait(60).record\nprint('RECORD', r.status, r.completion_tokens)"),
]


def stop_notebook(path: Path) -> None:
    write_notebook(path, CELLS)


def test_panel_stop_ends_a_run(page, lab):  # noqa: F811
    stop_notebook(lab.work / "panel_stop.ipynb")
    nb = Notebook(page, lab, "panel_stop.ipynb")
    nb.run_until("ps-check")
    panel = nb.cell("ps-panel").locator(".jupyter-widgets.widget-vbox").first
    panel.locator("textarea[placeholder='prompt']").fill("Count.")
    panel.locator("textarea[placeholder='prompt']").blur()
    stop = panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Stop\s*$"))
    assert stop.is_disabled(), "Stop is greyed out while nothing runs"
    time.sleep(1.0)  # the prompt has reached the kernel
    panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$")).click()
    out = panel.locator(".widget-output").first
    deadline = time.monotonic() + 60
    while len(re.findall(r"\bw\d+", out.inner_text())) < 10:
        assert time.monotonic() < deadline, "the answer did not stream"
        time.sleep(0.1)
    stop.click()
    stats = panel.locator(".widget-html").last
    deadline = time.monotonic() + 60
    while "recorded as interrupted" not in stats.inner_text():
        assert time.monotonic() < deadline, f"not stopped: {stats.inner_text()!r}"
        time.sleep(0.1)
    line, footer = stats.inner_text().strip().splitlines()
    assert re.fullmatch(r"stopped after \d+ tokens?; recorded as interrupted", line), line
    assert "cloudflare" in footer and "interrupted" in footer, footer
    shown = len(re.findall(r"\bw\d+", out.inner_text()))
    assert 10 <= shown < 600, shown  # the partial answer stays on screen
    nb.wait(nb.start())
    status, tokens = re.search(r"RECORD (\w+) (\d+)", nb.output_text("ps-check")).groups()
    assert status == "interrupted" and int(tokens) < 600
    assert stop.is_disabled()
    shoot(panel, "panel-stop.png", "panel-stop.png")
    print(f"\npanel Stop: {line!r}, {shown} words on screen")
