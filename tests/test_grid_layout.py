"""The live grid's layout (issue 18 item 9, issue 19): a row per variant and a column per
prompt × repeat whatever the number of variants; compact cells above one screen of runs;
a bounded summary for very large sweeps; at most 20 display messages a second, counted on
an injected clock."""

from __future__ import annotations

import re

import pytest

from gemma_magics.comparisons import gridlayout as gl
from gemma_magics.comparisons.gridstate import Cell, GridState
from gemma_magics.notebook.grid import LiveGrid, grid_html, grid_text
from gemma_magics.notebook.grid_surfaces import Budget
from gemma_magics.records.log import Record


def planned(variants: int, prompts: int = 1, repeats: int = 1) -> GridState:
    """Cells in the order plan() makes them: prompt, repeat, then variant."""
    cells = []
    for p in range(prompts):
        for r in range(repeats):
            for v in range(variants):
                cells.append(Cell(index=len(cells), variant=f"openai · temperature=0.{v}",
                                  prompt_index=p, prompt=f"prompt {p}", repeat=r,
                                  provider="openai", model="m"))
    return GridState(cells)


def finish(cell: Cell, latency: float, *, error: str | None = None, text: str = "ok") -> None:
    cell.start()
    cell.parts = [text]
    cell.finish(Record(provider=cell.provider, model=cell.model, response=text,
                       completion_tokens=10, ttft_s=latency / 4, latency_s=latency,
                       tokens_per_s=40.0, cost_usd=0.0, status="error" if error else "ok",
                       error=error))


def drawn_rows(fragment: str) -> list[tuple[str, list[int]]]:
    """Each variant label in the HTML with the runs (data-run) drawn after it."""
    out: list[tuple[str, list[int]]] = []
    for match in re.finditer(r'data-variant="([^"]*)"|data-run="(\d+)"', fragment):
        if match.group(1) is not None:
            out.append((match.group(1), []))
        else:
            out[-1][1].append(int(match.group(2)))
    return out


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_rows_are_variants_and_columns_are_prompt_by_repeat(layout):
    state = planned(variants=6, prompts=2, repeats=3)  # beyond 4 variants: no card flow
    cols = gl.columns(state)
    assert [c.label for c in cols] == [f"p{p} · run {r}" for p in (1, 2) for r in (1, 2, 3)]
    rows = gl.rows(state, cols)
    assert [r.variant for r in rows] == state.variants
    for row in rows:
        assert [(c.prompt_index, c.repeat) for c in row.cells] == \
            [(c.prompt_index, c.repeat) for c in cols]
        assert {c.variant for c in row.cells} == {row.variant}
    fragment = grid_html(state, layout=layout)
    assert f'data-layout="{layout}"' in fragment
    drawn = drawn_rows(fragment)
    assert [name for name, _ in drawn] == state.variants  # one labelled row per variant
    for (name, runs), row in zip(drawn, rows, strict=True):
        assert runs == [c.index for c in row.cells], f"{name}: runs out of column order"


def test_a_missing_run_keeps_its_column_empty():
    state = planned(variants=2, repeats=3)
    del state.cells[3]  # variant 1's run 2 (a resumed plan can lack one)
    rows = gl.rows(state)
    assert rows[1].cells[1] is None and rows[0].cells[1] is not None
    fragment = grid_html(state, layout="full")
    assert fragment.count('class="gmc-empty"') == 1


def test_full_cards_are_labelled_and_wrap_at_the_same_place_for_every_variant():
    state = planned(variants=4, repeats=6)  # 6 columns: more than one line of cards
    fragment = grid_html(state)
    assert 'data-layout="full"' in fragment
    assert f"repeat({gl.CARDS_PER_LINE}, minmax(0, 1fr))" in fragment
    assert fragment.count('class="gmc-v">run 6<') == 4  # each card says which run it is
    small = grid_html(planned(variants=5, repeats=2))  # one line: the columns have heads
    assert small.count('class="gmc-head"') == 2 and 'class="gmc-v"' not in small


@pytest.mark.parametrize(("runs", "layout"), [
    (1, "full"), (gl.COMPACT_ABOVE, "full"), (gl.COMPACT_ABOVE + 1, "compact"),
    (gl.SUMMARY_ABOVE, "compact"), (gl.SUMMARY_ABOVE + 1, "summary"), (10_000, "summary"),
])
def test_the_layout_follows_the_number_of_runs(runs, layout):
    assert gl.choose(runs) == (layout, None)


def test_a_forced_layout_is_honoured_within_its_bounds():
    assert gl.choose(6, "compact") == ("compact", None)
    assert gl.choose(300, "full")[0] == "compact"
    assert "at most 120 runs" in gl.choose(300, "full")[1]
    assert gl.choose(gl.FULL_MAX, "full") == ("full", None)
    layout, why = gl.choose(10_000, "compact")
    assert layout == "summary" and "at most 500 runs" in why
    assert gl.choose(30, "summary") == ("summary", None)
    with pytest.raises(ValueError, match="one of auto, full, compact, summary"):
        gl.choose(3, "grid")
    fragment = grid_html(planned(variants=2, repeats=2), layout="compact")
    assert fragment.count('class="gmc-c gmc-') == 4 and 'class="gmc-cell"' not in fragment


def test_compact_cells_show_status_and_seconds_and_the_answer_escaped_on_hover():
    state = planned(variants=2, repeats=13)  # 26 runs: compact by default
    finish(state.cells[0], 1.25, text='<img src=x onerror="alert(1)"> $3.50<start_of_image>')
    finish(state.cells[1], 0.5, error="HTTP 500: <b>down</b>")
    fragment = grid_html(state)
    assert 'data-layout="compact"' in fragment
    first = re.search(r'<div class="gmc-c gmc-ok" data-run="0"[^>]*>[^<]*</div>', fragment).group(0)
    assert ">✓ 1.2s</div>" in first or ">✓ 1.3s</div>" in first
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; $3.50" in first
    assert "<img" not in fragment and "start_of_image" not in fragment
    failed = re.search(r'<div class="gmc-c gmc-error" data-run="1"[^>]*>', fragment).group(0)
    assert "HTTP 500: &lt;b&gt;down&lt;/b&gt;" in failed and "<b>" not in fragment


def sweep(runs: int, variants: int) -> GridState:
    """A sweep part-way: most runs done (long answers), some failed, some streaming."""
    state = planned(variants=variants, repeats=runs // variants)
    for cell in state.cells:
        if cell.index % 97 == 0:
            finish(cell, 2.0, error="HTTP 503: " + "busy " * 200)
        elif cell.index % 13 == 0:
            cell.start()
            cell.parts = ["streaming " * 300]
        elif cell.index < runs * 0.8:
            finish(cell, 1.0 + (cell.index % 50) / 10, text="answer " * 800)
    return state


def test_a_ten_thousand_run_grid_is_a_bounded_summary_that_says_what_it_hides():
    big = sweep(10_000, variants=50)
    fragment, text = grid_html(big), grid_text(big)
    assert 'data-layout="summary"' in fragment
    assert len(fragment) < 40_000 and len(text) < 12_000, (len(fragment), len(text))
    hidden = re.search(r"([\d,]+) runs are not drawn one by one", fragment)
    assert hidden, "the grid does not say what it hides"
    drawn = fragment.count('class="gmc-c gmc-')
    assert 0 < drawn <= 20 and int(hidden.group(1).replace(",", "")) == 10_000 - drawn
    assert "10,000 runs" in fragment and "…and 10 more variants" in fragment
    assert fragment.count("<tr>") == 1 + 40 + 1  # the head, 40 variants, the rest counted
    assert "slowest 10" in fragment and "failed: 10 of 104" in fragment
    # more variants than lines: counted, and the size does not grow with them either
    wide = grid_html(sweep(10_000, variants=1_000))
    assert len(wide) < 40_000 and "…and 960 more variants" in wide
    assert "10,000/10,000" not in fragment and "running" in fragment


def test_summary_medians_per_variant():
    state = planned(variants=2, repeats=300)  # 600 runs: summary
    for cell in state.cells:
        finish(cell, 1.0 if cell.variant.endswith("0.0") else 3.0)
    lines = gl.variant_lines(state)
    assert [(v.runs, v.ok, v.ttft_s, v.tokens_per_s) for v in lines] == \
        [(300, 300, 0.25, 40.0), (300, 300, 0.75, 40.0)]
    assert [c.variant for c in gl.slowest(state, 3, now=0.0)] == [state.cells[1].variant] * 3


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Surface:
    def __init__(self):
        self.sizes: list[int] = []

    def show(self, bundle):
        self.sizes.append(len(bundle["text/html"]) + len(bundle["text/plain"]))


def test_the_live_grid_sends_at_most_twenty_messages_a_second_on_its_clock():
    """10,000 runs changing every 10 ms of an injected clock for 10 s: at most 20 draws a
    second, and no fewer than the clock's steps allow (the grid is live), each bounded."""
    state = sweep(10_000, variants=50)
    clock, surface = Clock(), Surface()
    grid = LiveGrid(state, surface, clock=clock)
    start, step = clock.now, 0.01
    for _ in range(1_000):
        clock.now += step
        state.touch()  # a token arrived somewhere
        grid.refresh()
    elapsed = clock.now - start
    # a draw is due 1/20 s after the last; on a 10 ms step it can come one step late
    assert elapsed / (0.05 + step) - 1 <= len(surface.sizes) <= 20 * elapsed + 1, \
        len(surface.sizes)
    assert max(surface.sizes) < 52_000
    grid.refresh(force=True)  # the final draw is never throttled
    assert len(surface.sizes) <= 20 * elapsed + 2


def test_the_budget_counts_on_the_clock_it_is_given():
    clock = Clock()
    budget = Budget(rate=20, clock=clock)
    assert budget.take() and not budget.take()
    clock.now += 0.049
    assert not budget.take()
    clock.now += 0.002
    assert budget.take() and budget.take(force=True) and budget.sent == 3


def test_the_largest_compact_grid_carries_only_the_start_of_each_answer():
    state = sweep(gl.SUMMARY_ABOVE, variants=10)  # 400 finished runs of ~5 KB answers each
    fragment = grid_html(state)
    assert 'data-layout="compact"' in fragment and fragment.count("data-run=") == 500
    assert len(fragment) < 200_000, len(fragment)  # the answers alone are 2 MB
