"""Every text gemma_magics draws meets WCAG AA (4.5:1) on the rendered page, in JupyterLab's
light and dark themes (issue 18 item 12): an answer's footer, a failed call's error line and
a comparison grid (finished and failed cells) with its table's highlighted best value,
measured with the browser's computed colours against the backgrounds actually under them.

Uses the JupyterLab, Chromium and notebook driver of ``test_jupyterlab.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_jupyterlab import Notebook, browser, lab, page, shoot, write_notebook  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

SETUP = """%load_ext gemma_magics
import os
from gemma_magics.emulator import Emulator
emu = Emulator().start()
emu.set_text('Tea is a drink made from leaves.')
os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',
                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url,
                  GEMMA_MAGICS_OLLAMA_BASE_URL='http://127.0.0.1:9')"""
CELLS = [
    ("th-setup", SETUP),
    ("th-answer", "%%gemma -p cloudflare --max-tokens 8\nTea?"),
    ("th-error", "%%gemma -p ollama --max-tokens 8\nTea?"),
    # two cloudflare variants whose costs differ: the table highlights the cheaper one
    ("th-grid", "%%gemma_compare -p cloudflare,ollama --max-tokens 4,8\nTea?"),
]
MEASURED = ("th-answer", "th-error", "th-grid")

#: For every element in the output areas with text of its own: its computed colour and the
#: background colours from it up to the first opaque one.
MEASURE_JS = """
(indexes) => {
  const out = [];
  const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
  for (const i of indexes) {
    for (const el of cells[i].querySelectorAll('.jp-OutputArea-output *')) {
      const own = [...el.childNodes].filter(n => n.nodeType === 3)
        .map(n => n.textContent.trim()).join(' ').trim();
      if (!own || el.offsetParent === null) continue;
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        layers.push(bg);
        if (/^rgb\\(/.test(bg) || (/^color\\(/.test(bg) && !bg.includes('/'))) break;
      }
      out.push({text: own.slice(0, 60), color: getComputedStyle(el).color, layers,
                tag: el.tagName});
    }
  }
  return out;
}
"""


def parse_colour(value: str) -> tuple[float, float, float, float]:
    """Chromium's computed colours: ``rgb()``/``rgba()`` (0-255) or ``color(srgb ...)`` (0-1)."""
    if value.startswith("rgb"):
        parts = [float(x) for x in re.findall(r"[\d.]+", value)]
        return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)
    match = re.fullmatch(r"color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: / ([\d.e-]+))?\)", value)
    assert match, f"unexpected computed colour {value!r}"
    r, g, b = (float(match.group(i)) * 255 for i in (1, 2, 3))
    return (r, g, b, float(match.group(4)) if match.group(4) else 1.0)


def over(fg, bg):
    return tuple(fg[i] * fg[3] + bg[i] * (1 - fg[3]) for i in range(3))


def luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(item: dict) -> float:
    background = (255.0, 255.0, 255.0)  # under everything: the canvas
    for layer in reversed(item["layers"]):
        background = over(parse_colour(layer), background)
    text = over(parse_colour(item["color"]), background)
    hi, lo = sorted((luminance(text), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def theme_notebook(path: Path) -> None:
    write_notebook(path, CELLS)


def use_theme(pg, name: str) -> None:
    pg.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    pg.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).first.hover()
    pg.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{name}$")).first.click()
    ink = "#fff" if "Dark" in name else "#000"  # the theme's stylesheet is in force
    pg.wait_for_function(
        "([n, ink]) => document.body.dataset.jpThemeName === n && getComputedStyle("
        "document.documentElement).getPropertyValue('--jp-ui-font-color0').trim() === ink",
        arg=[name, ink], timeout=60_000)
    pg.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)  # the fade


def test_every_text_meets_aa_in_light_and_dark_themes(page, lab):  # noqa: F811
    theme_notebook(lab.work / "themes.ipynb")
    nb = Notebook(page, lab, "themes.ipynb")
    for _ in CELLS:  # th-error and half of th-grid fail on purpose (nothing on port 9)
        nb.wait(nb.start())
    grid = nb.cell("th-grid")
    assert grid.locator(".gmc-err").count(), nb.output_text("th-grid")
    assert "tokens" in nb.output_text("th-answer"), nb.output_text("th-answer")
    indexes = [nb.ids.index(c) for c in MEASURED]
    report, low = {}, {}
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        use_theme(page, theme)
        items = page.evaluate(MEASURE_JS, indexes)
        assert len(items) >= 10, items  # footer, error line, grid header, cells, ticks ...
        tinted = [i for i in items if i["tag"] == "TD" and i["layers"][0] != "rgba(0, 0, 0, 0)"]
        assert tinted, "no highlighted best value in the side-by-side table"
        low[theme] = [(round(ratio(i), 2), i["text"], i["color"], i["layers"][-1])
                      for i in items if ratio(i) < 4.5]
        worst = min(items, key=ratio)
        report[theme] = (round(ratio(worst), 2), worst["text"], len(items),
                         round(min(map(ratio, tinted)), 2))
        name = f"theme-contrast-{theme.split()[-1].lower()}.png"
        shoot(page.locator(".jp-Notebook"), name, name)
    assert not any(low.values()), f"text under 4.5:1: {low}"
    print(f"\nlowest contrast (ratio, text, texts measured, highlighted cell): {report}")
