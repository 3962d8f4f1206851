"""The live comparison grid: a row per variant, a column per prompt × repeat.

A notebook gets one HTML display (or an ``ipywidgets.Output``, in the panel) re-rendered at
most :data:`MAX_UPDATES_PER_S` times a second in total, however many cells stream, and once
more at the end. Up to :data:`SCREEN_CELLS` runs each is a card with its answer streaming;
more are compact cells (the answer on hover), and more than
:data:`~gemma_magics.comparisons.gridlayout.SUMMARY_ABOVE` a summary per variant with the
slowest and failing runs (:mod:`.grid_summary`), so no message grows with the sweep. Sweeps
larger than one screen also show a progress bar. A terminal gets progress lines. When the
runs end, the side-by-side table, the per-variant summary and a chart follow.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any

from ..comparisons import gridlayout as gl
from ..comparisons.gridlayout import Tally
from ..comparisons.gridstate import ERROR, INTERRUPTED, OK, REFUSED, RUNNING, SKIPPED, GridState
from ..frontend import in_notebook
from ..safe_text import NO_MATH
from .chart import chart_image
from .grid_cells import CSS, card_html, compact_html, progress_text, ticker_text
from .grid_header import header_text
from .grid_summary import new_tally, summary_parts
from .grid_surfaces import Budget, HandleSurface, OutputSurface
from .verdicts import PlainText, verdict_text

__all__ = ["LiveGrid", "TerminalGrid", "grid_bundle", "grid_html", "grid_text", "make_view", "progress_text",
           "ticker_text"]

#: More cells than this do not fit one screen: a progress bar, and compact cells.
SCREEN_CELLS = gl.COMPACT_ABOVE
#: Largest comparison whose answers are shown side by side at the end.
SIDE_BY_SIDE_MAX_ROWS = 60
#: Notices drawn above the grid (each cut to a line); more are counted.
MAX_NOTICES = 8
TICK_S = 0.02


def _notes(state: GridState, extra: list[str]) -> str:
    notes = [n if len(n) <= 300 else n[:299] + "…" for n in state.notices[:MAX_NOTICES]]
    if len(state.notices) > MAX_NOTICES:
        notes.append(f"…and {len(state.notices) - MAX_NOTICES} more notices")
    return "".join(f'<div class="gmc-note">{html.escape(n)}</div>' for n in [*notes, *extra])


def grid_bundle(state: GridState, *, layout: str | None = "auto", now: float | None = None,
                tally: Tally | None = None) -> dict[str, str]:
    """The grid's display message (HTML and plain text) in the layout
    :func:`gridlayout.choose` picks for its size (or ``layout`` forces): one row per variant,
    labelled; one column per prompt × repeat. The summary layout's size does not grow with
    the number of runs; a live grid passes the ``tally`` it keeps between draws."""
    now = time.perf_counter() if now is None else now
    mode, why = gl.choose(len(state.cells), layout)
    extra = [why] if why else []
    header = header_text(state, progress_text(state))
    top = f'<div class="gmc-top">{html.escape(header)}</div>'
    if mode == gl.SUMMARY:
        body, hidden, lines = summary_parts(state, now, tally)
        extra.append(hidden)
        grid = f'<div class="gmc-grid gmc-summary" data-layout="summary">{body}</div>'
        text = "\n".join([header, *extra[:-1], *lines, hidden])
    else:
        cols = gl.columns(state)
        rows = gl.rows(state, cols)
        grid = (_full(rows, cols, now) if mode == gl.FULL else _compact(rows, cols, now))
        text = _text(state, "\n".join([header, *extra]), now)
    page = (f'<div class="gmc {NO_MATH}"><style>{CSS}</style>{top}{_notes(state, extra)}'
            f"{grid}</div>")
    return {"text/html": page, "text/plain": text}


def grid_html(state: GridState, *, layout: str | None = "auto",
              now: float | None = None) -> str:
    """The grid as HTML (see :func:`grid_bundle`)."""
    return grid_bundle(state, layout=layout, now=now)["text/html"]


def grid_text(state: GridState, *, layout: str | None = "auto",
              now: float | None = None) -> str:
    """Plain-text form of the grid (the ``text/plain`` of the display)."""
    return grid_bundle(state, layout=layout, now=now)["text/plain"]


def _full(rows: list[gl.Row], cols: list[gl.Column], now: float) -> str:
    """Cards: a label line per variant, then its runs, at most CARDS_PER_LINE side by side
    (more wrap to the next line of the same row, at the same positions for every row)."""
    per_line = max(1, min(len(cols), gl.CARDS_PER_LINE))
    heads = ""
    if 1 < len(cols) <= per_line:  # one line per variant: the columns can have headers
        heads = "".join(f'<div class="gmc-head">{html.escape(c.label)}</div>' for c in cols)
    labelled = not heads and len(cols) > 1
    body = []
    for row in rows:
        body.append(f'<div class="gmc-label" data-variant="{html.escape(row.variant)}">'
                    f"{html.escape(row.variant)}</div>")
        for i, cell in enumerate(row.cells):
            body.append(f'<div class="gmc-empty" data-col="{i}"></div>' if cell is None else
                        card_html(cell, now, cols[i].label if labelled else None, i))
    return (f'<div class="gmc-grid gmc-full" data-layout="full" style="grid-template-columns:'
            f' repeat({per_line}, minmax(0, 1fr))">{heads}{"".join(body)}</div>')


def _compact(rows: list[gl.Row], cols: list[gl.Column], now: float) -> str:
    """Small cells: the variant's label on the left, its runs in a line that wraps at the
    same place for every variant (same width, same count, fixed cell width)."""
    body = []
    for row in rows:
        cells = "".join(
            '<div class="gmc-c gmc-none"></div>' if cell is None else
            compact_html(cell, now, cols[i].label) for i, cell in enumerate(row.cells))
        body.append(f'<div class="gmc-label" data-variant="{html.escape(row.variant)}">'
                    f'{html.escape(row.variant)}</div><div class="gmc-runs">{cells}</div>')
    return f'<div class="gmc-grid gmc-compact" data-layout="compact">{"".join(body)}</div>'


def _text(state: GridState, header: str, now: float) -> str:
    lines = [header]
    many = len({c.prompt_index for c in state.cells}) > 1
    for cell in state.cells:
        if cell.status in (RUNNING, OK, ERROR, INTERRUPTED, SKIPPED, REFUSED):
            verdict = verdict_text(cell)
            lines.append(f"[{cell.variant} · {gl.run_label(cell, many)}] "
                         f"{ticker_text(cell, now)}" + (f" · {verdict}" if verdict else ""))
    return "\n".join(lines)


# -- where the grid is drawn ----------------------------------------------------------------


class LiveGrid:
    """Draws a :class:`GridState` on a notebook surface, throttled by ``budget`` (one
    message per 1/20 s, all kinds counted); ``clock`` is the one both use (tests pass
    their own)."""

    def __init__(self, state: GridState, surface: Any, budget: Budget | None = None,
                 layout: str | None = "auto", clock: Callable[[], float] = time.perf_counter):
        gl.choose(len(state.cells), layout)  # a bad layout fails before anything is drawn
        self.state = state
        self.surface = surface
        self.clock = clock
        self.budget = budget or Budget(clock=clock)
        self.layout = layout
        self.tally = new_tally()  # the summary layout's running figures
        self._drawn = -1
        self._bar_at = -float("inf")

    def refresh(self, force: bool = False) -> None:
        state = self.state
        now = self.clock()
        bar = getattr(self.surface, "bar", None)
        bar_due = bar is not None and (force or now - self._bar_at > 0.5) \
            and (bar.value != state.finished or force)
        if bar_due and self.budget.take(force):
            self._bar_at = now
            self.surface.progress(state.finished, state.counts()[ERROR] > 0)
            if not force:
                return  # this tick's message is spent
        if state.version == self._drawn and not force:
            return
        if not self.budget.take(force):
            return
        self._drawn = state.version
        self.surface.show(grid_bundle(state, layout=self.layout, tally=self.tally))  # cells: perf_counter
        if state.ended_at is not None and hasattr(self.surface, "settle"):
            self.surface.settle()

    def finish(self, frame: Any) -> None:
        """Final draw, then the side-by-side table, the summary and a chart."""
        self.refresh(force=True)
        if frame is None or frame.empty:
            return
        from ..comparisons import views

        if len(frame) <= SIDE_BY_SIDE_MAX_ROWS:
            self.surface.append(views.side_by_side(frame))
        self.surface.append(views.summary_tables(frame))
        line = views.quality_line(frame)
        if line:
            self.surface.append(PlainText(line))
        image = chart_image(frame)
        if image is not None:
            self.surface.append(image)
        if line:
            image = chart_image(frame, "pass_rate")
            if image is not None:
                self.surface.append(image)


class TerminalGrid:
    """Progress lines for a terminal or a script: one per finished run for small
    comparisons, a periodic count for large ones."""

    def __init__(self, state: GridState, stream: Any = None, every_s: float = 2.0):
        self.state = state
        self.out = stream or sys.stdout
        self.every_s = every_s
        self.verbose = len(state.cells) <= 50
        self._said: set[int] = set()
        self._last = time.perf_counter()
        for note in state.notices:
            print(f"[{note}]", file=self.out)
        print(f"comparing {len(state.variants)} variants, {len(state.cells)} runs",
              file=self.out, flush=True)

    def refresh(self, force: bool = False) -> None:
        total = len(self.state.cells)
        if self.verbose:
            for cell in self.state.cells:
                if cell.done and cell.index not in self._said:
                    self._said.add(cell.index)
                    n = len(self._said)
                    line = f"[{n:>{len(str(total))}}/{total}] {cell.variant} · run " \
                           f"{cell.repeat + 1}: {ticker_text(cell)}"
                    if cell.error:
                        line += f" — {cell.error}"
                    print(line, file=self.out, flush=True)
        elif force or time.perf_counter() - self._last >= self.every_s:
            self._last = time.perf_counter()
            print(progress_text(self.state), file=self.out, flush=True)

    def finish(self, frame: Any) -> None:
        self.refresh(force=True)
        if self.verbose:
            print(progress_text(self.state), file=self.out)
        if frame is None or frame.empty:
            return
        from ..comparisons import views

        print(views.summary(frame).to_string(), file=self.out, flush=True)
        line = views.quality_line(frame)
        if line:
            print(line, file=self.out, flush=True)


class NoGrid:
    """``display=False``."""

    def refresh(self, force: bool = False) -> None:
        pass

    def finish(self, frame: Any) -> None:
        pass


def make_view(state: GridState, display: Any, layout: str | None = "auto") -> Any:
    """The view for ``compare(display=..., layout=...)``: True (here), False (nothing), or
    an ``ipywidgets.Output`` to draw into; ``layout`` as :func:`gridlayout.choose` takes."""
    if display is False or display is None:
        return NoGrid()
    if display is True:
        if in_notebook():
            big = len(state.cells) > SCREEN_CELLS
            return LiveGrid(state, HandleSurface(len(state.cells) if big else None),
                            layout=layout)
        return TerminalGrid(state)
    if hasattr(display, "outputs"):
        return LiveGrid(state, OutputSurface(display), layout=layout)
    raise TypeError("display must be True, False or an ipywidgets.Output")
