"""The parameter panel in a real JupyterLab (issue 18 items 5 and 6): what the browser's
widgets send back must not become a setting the user did not make, and the panel's
output stays a bounded box.

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

SETUP = """%load_ext gemma_magics
import json, os
import gemma_magics as gm
from gemma_magics.emulator import Emulator
emu = Emulator().start()
emu.set_latency(per_token=0.005)
os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',
                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url)"""
EXPLICIT = ("s = gm.get_session()\n"
            "print('EXPLICIT ' + json.dumps({'explicit': s.params.explicit(),"
            " 'top_k': panel.controls['top_k'].value,"
            " 'marker': panel.markers['top_k'].value}))")
CELLS = [
    ("pb-setup", SETUP),
    ("pb-long", "emu.set_text('\\n'.join(f'line {i} of a long answer' for i in range(80)))"),
    ("pb-panel", "panel = gm.panel()\npanel"),
    ("pb-check", EXPLICIT),
    ("pb-reset", "%gemma reset\n" + EXPLICIT),
]


def panel_notebook(path: Path) -> None:
    write_notebook(path, CELLS)


def printed(nb: Notebook, cell_id: str) -> dict:
    match = re.search(r"EXPLICIT (\{.*\})", nb.output_text(cell_id))
    assert match, nb.output_text(cell_id)
    return json.loads(match.group(1))


def test_switching_provider_in_the_browser_sets_nothing(page, lab):  # noqa: F811
    """local (top_k default 64) → cloudflare (top_k 1–50, no documented default), picked
    in the dropdown. Before the fix the browser's slider got the new range before the new
    value, clamped 64 to 50 and sent that back: top_k became "set" to 50 for every later
    cell, and ``%gemma reset`` did not clear it. Now it stays a default."""
    panel_notebook(lab.work / "panel_switch.ipynb")
    nb = Notebook(page, lab, "panel_switch.ipynb")
    nb.run_until("pb-check")
    panel = nb.cell("pb-panel").locator(".jupyter-widgets.widget-vbox").first
    panel.locator(".widget-slider").first.wait_for()
    picker = panel.locator(".widget-dropdown select").first
    picker.select_option(value=picker.locator("option", has_text="cloudflare").first
                         .get_attribute("value"))
    model = panel.locator(".widget-dropdown select").nth(1)
    deadline = time.monotonic() + 30
    while "gemma-3-12b" not in model.input_value() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # whatever the browser's widgets send back has arrived by then
    index = nb.start()
    nb.wait(index)
    after = printed(nb, "pb-check")
    assert after["explicit"] == {}, f"the switch invented settings: {after}"
    assert "provider's default" in after["marker"], after["marker"]
    top_k = panel.locator(".widget-slider", has_text="top k").locator(".widget-readout")
    assert top_k.first.inner_text().strip() == str(after["top_k"]), "browser and kernel differ"
    shoot(panel, "panel-provider-switch.png", "panel-provider-switch.png")

    index = nb.start()
    nb.wait(index)
    reset = printed(nb, "pb-reset")
    assert reset["explicit"] == {} and ">set<" not in reset["marker"], reset
    print(f"\nprovider switch in the browser: top_k {after['top_k']}, marker "
          f"{re.sub('<[^>]+>', '', after['marker'])!r}, explicit {after['explicit']}")


def test_long_run_scrolls_inside_a_bounded_output(page, lab):  # noqa: F811
    """A 256-token Run made the panel ~1000 px taller; now its output box stops growing
    and scrolls. The seed box shows the placeholder "random", not a number."""
    panel_notebook(lab.work / "panel_long.ipynb")
    nb = Notebook(page, lab, "panel_long.ipynb")
    nb.run_until("pb-check")
    panel = nb.cell("pb-panel").locator(".jupyter-widgets.widget-vbox").first
    seed = panel.locator(".widget-inline-hbox", has_text="seed").locator("input").first
    assert seed.input_value() == "" and seed.get_attribute("placeholder") == "random"
    picker = panel.locator(".widget-dropdown select").first
    picker.select_option(value=picker.locator("option", has_text="cloudflare").first
                         .get_attribute("value"))
    panel.locator("textarea[placeholder='prompt']").fill("Write a long story.")
    time.sleep(1.0)  # the dropdown's change has reached the kernel
    before = panel.bounding_box()["height"]
    panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$")).click()
    stats = panel.locator(".widget-html").last
    deadline = time.monotonic() + 120
    while "tokens" not in stats.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "cloudflare" in stats.inner_text(), stats.inner_text()
    out = panel.locator(".widget-output").first
    box = out.evaluate("e => ({shown: e.clientHeight, content: e.scrollHeight})")
    grown = panel.bounding_box()["height"] - before
    assert box["content"] > box["shown"] * 1.5, f"the answer is not long enough: {box}"
    assert box["shown"] <= 24 * 16 + 40, f"the output box is not bounded: {box}"
    assert grown <= 24 * 16 + 40, f"the panel grew {grown:.0f} px"
    shoot(panel, "panel-long-run.png")
    print(f"\nlong Run: output {box['content']} px of text shown in {box['shown']} px; "
          f"panel grew {grown:.0f} px")
