"""The stop button in a real JupyterLab (issue 18 item 3): under a streaming %%gemma cell
it leaves the partial answer, its "interrupted" footer and one quiet line, not a
KeyboardInterrupt traceback; the next cell of a Run All does not run.

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
from gemma_magics.emulator import Emulator
emu = Emulator().start()
emu.set_text(' '.join(f'w{i}' for i in range(600)))
emu.set_latency(per_token=0.03)
os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',
                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url)"""
CELLS = [
    ("st-setup", SETUP),
    ("st-long", "%%gemma -p cloudflare --max-tokens 600\nCount."),
    ("st-next", "print('the next cell ran')"),
]


def stop_notebook(path: Path) -> None:
    write_notebook(path, CELLS)


def test_stop_button_prints_one_quiet_line(page, lab):  # noqa: F811
    stop_notebook(lab.work / "stop.ipynb")
    nb = Notebook(page, lab, "stop.ipynb")
    nb.run_until("st-long")
    long_cell = nb.cell("st-long")
    long_cell.click(position={"x": 30, "y": 6})
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")  # the long cell ...
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")  # ... and the next one queued, as Run All would
    long_cell.locator(".gm-text").first.wait_for()
    deadline = time.monotonic() + 30
    while len(long_cell.locator(".gm-text").first.inner_text().split()) < 10:
        assert time.monotonic() < deadline, "the answer did not stream"
        time.sleep(0.1)
    page.locator("jp-button[data-command='notebook:interrupt-kernel'], "
                 "button[data-command='notebook:interrupt-kernel']").first.click()
    nb.wait(nb.ids.index("st-long"), timeout_s=60)
    errors = long_cell.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    errors.first.wait_for()
    lines = [line for line in errors.first.inner_text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert re.fullmatch(r"stopped after \d+ tokens?; recorded as interrupted", lines[0]), lines
    assert "interrupted" in nb.output_text("st-long").split(lines[0])[0]  # the footer, above
    time.sleep(1.0)
    assert "the next cell ran" not in nb.output_text("st-next"), "Run All went on"
    shoot(long_cell, "stop-one-line.png", "stop-one-line.png")
    print(f"\nstop button: {lines[0]!r}, the next cell did not run")
