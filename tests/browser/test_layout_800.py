"""An 800 px wide window (issue 18 items 9 and 10): a comparison of more than 4 variants,
its summary, ``side_by_side()`` of three providers and the panel, with nothing clipped
(every element inside its output area, no output area needing horizontal scrolling), and
the grid one variant per row, each run in the same column for every variant.

Uses the JupyterLab, Chromium and notebook driver of ``test_jupyterlab.py``.
"""

from __future__ import annotations

import pytest
from test_jupyterlab import Notebook, browser, lab, page, shoot, write_notebook  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ANSWER = ("Gradient descent walks downhill one small step at a time; see "
          "https://en.wikipedia.org/wiki/Gradient_descent#Description_of_the_method_and_more "
          "for the long version.\n1. pick a rate\n2. repeat until the loss stops falling")
SETUP = f"""%load_ext gemma_magics
import gemma_magics as gm
emu = gm.emulate_missing("cloudflare", "aimlapi", "openai", per_token_latency=0.004)
emu.set_text({ANSWER!r})"""
PROVIDERS = "cloudflare,aimlapi,openai"
CELLS = [
    ("w-setup", SETUP),
    # 3 providers x 2 temperatures = 6 variants, 2 runs each: full cards
    ("w-grid", f"%%gemma_compare -p {PROVIDERS} --temperature 0.2,0.9 --repeat 2 "
               "--max-tokens 40 -o runs\nExplain gradient descent."),
    # 6 variants x 5 runs = 30: compact cells
    ("w-compact", f"%%gemma_compare -p {PROVIDERS} --temperature 0.2,0.9 --repeat 5 "
                  "--max-tokens 12\nExplain gradient descent."),
    ("w-sbs", "gm.side_by_side(runs[runs.temperature == 0.2])"),
    ("w-panel", "panel = gm.panel()\npanel"),
]

#: Per output area of a cell: its box, its scroll width, and the elements that stick out.
CLIPPED_JS = """
(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const out = [];
  for (const area of cell.querySelectorAll('.jp-OutputArea-output')) {
    const box = area.getBoundingClientRect();
    const outside = [];
    for (const el of area.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || el.closest('style')) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1)
        outside.push(`${el.tagName}.${el.className} ${Math.round(r.left)}-${Math.round(r.right)}`
          + ` ${(el.innerText || '').slice(0, 40)}`);
    }
    out.push({width: Math.round(box.width), scroll: area.scrollWidth, client: area.clientWidth,
              outside: outside.slice(0, 8), n_outside: outside.length});
  }
  return out;
}
"""

#: The grid's rows: each label with the left edge of every run drawn after it (its column).
ROWS_JS = """
(grid) => {
  const rows = [];
  for (const el of grid.querySelectorAll('.gmc-label, [data-run]')) {
    const r = el.getBoundingClientRect();
    if (el.classList.contains('gmc-label')) rows.push({variant: el.dataset.variant,
        top: r.top, bottom: r.bottom, runs: []});
    else rows[rows.length - 1].runs.push({left: Math.round(r.left), top: r.top, right: r.right});
  }
  return {rows, right: grid.getBoundingClientRect().right};
}
"""


def assert_fits(nb: Notebook, cell_id: str) -> list[dict]:
    areas = nb.page.evaluate(CLIPPED_JS, nb.ids.index(cell_id))
    assert areas, f"{cell_id}: no output"
    for area in areas:
        assert area["scroll"] <= area["client"] + 1 and not area["n_outside"], \
            f"{cell_id}: clipped at 800 px: {area}"
    return areas


def assert_one_variant_per_row(grid, variants: int, runs: int) -> None:
    got = grid.evaluate(ROWS_JS)
    rows = got["rows"]
    assert len(rows) == variants, f"expected {variants} labelled rows, got {len(rows)}"
    assert len({r["variant"] for r in rows}) == variants
    for row, following in zip(rows, [*rows[1:], None], strict=True):
        assert len(row["runs"]) == runs, row
        for run in row["runs"]:  # under its label, above the next variant's
            assert run["top"] >= row["top"] - 1, (row["variant"], run)
            assert following is None or run["top"] < following["top"], (row["variant"], run)
    columns = [[run["left"] for run in row["runs"]] for row in rows]
    assert all(c == columns[0] for c in columns), f"runs not aligned by column: {columns}"


def test_an_800_px_window_clips_nothing_and_aligns_the_grid(page, lab):  # noqa: F811
    write_notebook(lab.work / "narrow.ipynb", CELLS)
    page.set_viewport_size({"width": 800, "height": 1000})
    nb = Notebook(page, lab, "narrow.ipynb")
    for _ in CELLS:
        index = nb.start()
        nb.wait(index, 240)
        nb.check_no_error(index)
    grid = nb.cell("w-grid").locator(".gmc-grid").first
    assert "12/12 done" in nb.cell("w-grid").locator(".gmc-top").first.inner_text()
    assert_one_variant_per_row(grid, variants=6, runs=2)
    compact = nb.cell("w-compact").locator(".gmc-grid").first
    assert compact.get_attribute("data-layout") == "compact"
    assert_one_variant_per_row(compact, variants=6, runs=5)
    summary = nb.cell("w-grid").locator(".jp-OutputArea-output").filter(
        has_text="Per variant, median").first
    assert "cost per 1k calls" in summary.inner_text()
    sbs = nb.cell("w-sbs").locator("table").first
    heads = sbs.locator("thead tr").first.inner_text()
    assert all(p in heads for p in PROVIDERS.split(",")), heads  # the third one included
    for details in page.locator(".gm-summary-all > summary").all():  # every column: open
        details.click()
    widths = {}
    for cell_id in ("w-grid", "w-compact", "w-sbs", "w-panel"):
        widths[cell_id] = [a["width"] for a in assert_fits(nb, cell_id)]
    picker = nb.cell("w-panel").locator(".widget-dropdown select")
    assert picker.count() >= 2, "provider/model pickers"
    area = nb.cell("w-panel").locator(".jp-OutputArea-output").first.bounding_box()
    for i in range(picker.count()):
        box = picker.nth(i).bounding_box()
        assert box["x"] + box["width"] <= area["x"] + area["width"] + 1, (i, box, area)
    cut = nb.cell("w-panel").locator("button, select").evaluate_all(
        "els => els.filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText || e.value)")
    assert cut == [], f"controls whose label is cut at 800 px: {cut}"
    print(f"\n800 px: output areas {widths} px wide; nothing outside them")
    page.set_viewport_size({"width": 800, "height": 1500})  # the window, grid at the top
    grid.evaluate("g => g.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    shoot(page, "compare-800px.png", "compare-800px.png")
    sbs.evaluate("t => t.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    shoot(page, "compare-800px-tables.png")
    summary.evaluate("t => t.scrollIntoView({block: 'start'})")
    shoot(page, "compare-800px-summary.png")
    compact.evaluate("g => g.scrollIntoView({block: 'start'})")
    compact.locator('[data-run="7"]').hover()  # its answer shows as the cell's title
    shoot(page, "compare-800px-compact.png")
