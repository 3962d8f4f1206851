"""The live comparison grid: one cell per run, each streaming its answer with a ticker.

A notebook gets one HTML display (or an ``ipywidgets.Output``, in the panel) re-rendered at
most :data:`MAX_UPDATES_PER_S` times a second in total, however many cells stream, and once
more at the end. Sweeps larger than one screen show a progress bar and only the cells in
flight. A terminal gets progress lines. When the runs end, the side-by-side table, the
per-variant summary and a chart follow.
"""

from __future__ import annotations

import html
import sys
import time
from string import Template
from typing import Any

from .. import palette
from ..comparisons.gridstate import (
    CANCELLED,
    ERROR,
    INTERRUPTED,
    OK,
    QUEUED,
    REFUSED,
    RUNNING,
    SKIPPED,
    Cell,
    GridState,
)
from ..frontend import in_notebook
from ..safe_text import NO_MATH, model_text_html
from .chart import chart_image
from .grid_header import header_text
from .grid_surfaces import Budget, HandleSurface, OutputSurface
from .verdicts import PlainText, verdict_html, verdict_text

#: More cells than this do not fit one screen: show a progress bar and the cells in flight.
SCREEN_CELLS = 24
#: Up to this many runs every card is drawn once the comparison ends (the in-flight window
#: is for while it runs); beyond it the end keeps the window and says what it hides.
FINAL_CELLS_MAX = 120
#: Largest comparison whose answers are shown side by side at the end.
SIDE_BY_SIDE_MAX_ROWS = 60
TICK_S = 0.02

_ICONS = {QUEUED: "…", RUNNING: "●", OK: "✓", ERROR: "✗", INTERRUPTED: "■", SKIPPED: "↺",
          CANCELLED: "–", REFUSED: "⊘"}
_COLORS = {QUEUED: palette.MUTED, RUNNING: palette.ACCENT, OK: palette.SUCCESS,
           ERROR: palette.ERROR, INTERRUPTED: palette.WARN, SKIPPED: palette.MUTED,
           CANCELLED: palette.MUTED, REFUSED: palette.WARN}

_CSS = Template("""
.gmc {font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px}
.gmc-top {margin: 2px 0 6px; color: $text}
.gmc-note {color: $warn; font-size: 11px}
.gmc-grid {display: grid; gap: 6px; overflow-x: auto; align-items: start}
.gmc-head {font-weight: 600; padding: 2px 4px; border-bottom: 2px solid
  var(--jp-border-color1, #ccc); overflow-wrap: anywhere}
.gmc-prompt {grid-column: 1 / -1; font-style: italic; color: $muted;
  padding-top: 4px; white-space: pre-wrap}
.gmc-cell {border: 1px solid var(--jp-border-color2, #ddd); border-left-width: 3px;
  border-radius: 3px; padding: 3px 6px; min-width: 0}
.gmc-tick {font-size: 11px; color: $muted; margin-bottom: 2px}
.gmc-text {white-space: pre-wrap; overflow-wrap: anywhere; max-height: 18em; overflow-y: auto;
  font-family: var(--jp-content-font-family, sans-serif); font-size: 13px}
.gmc-err {color: $error; font-size: 11px; white-space: pre-wrap}
.gmc-v {font-weight: 600; font-size: 11px; overflow-wrap: anywhere}
.gmc-verdict {font-weight: 600; cursor: help}
""").substitute(
    text=palette.TEXT, muted=palette.MUTED, warn=palette.WARN, error=palette.ERROR)


# -- text ---------------------------------------------------------------------------------


def ticker_text(cell: Cell, now: float | None = None) -> str:
    """E.g. ``✓ 42 tok · TTFT 0.31 s · 85.2 tok/s`` (``≈`` marks live estimates)."""
    t = cell.ticker(now)
    parts = [_ICONS.get(cell.status, "?")]
    if cell.status == QUEUED:
        parts.append("queued")
    elif cell.status == CANCELLED:
        parts.append("not run")
    elif cell.status == REFUSED:
        parts.append("not sent")
    else:
        if t["tokens"] is not None:
            parts.append(f"{'' if t['exact'] else '≈'}{t['tokens']} tok")
        if t["ttft_s"] is not None:
            parts.append(f"TTFT {t['ttft_s']:.2f} s")
        if t["tokens_per_s"] is not None:
            parts.append(f"{t['tokens_per_s']:.1f} tok/s")
        if cell.status == SKIPPED:
            parts.append("earlier run")
        elif cell.status not in (RUNNING, OK):
            parts.append(cell.status)
    return " · ".join([parts[0] + " " + parts[1], *parts[2:]]) if len(parts) > 1 else parts[0]


def progress_text(state: GridState) -> str:
    """E.g. ``12/32 done · 1 error · 8 running · 3.2 s``. Done are the runs that ended
    with an answer or an error (or earlier, resumed); interrupted, not run and not sent are
    counted beside them, so the parts add up to the total."""
    c = state.counts()
    total = len(state.cells)
    parts = [f"{c[OK] + c[ERROR] + c[SKIPPED]}/{total} done"]
    for status, word in ((ERROR, "error"), (INTERRUPTED, "interrupted"), (SKIPPED, "resumed"),
                         (CANCELLED, "not run"), (REFUSED, "not sent")):
        if c[status]:
            plural = "s" if status == ERROR and c[status] > 1 else ""
            parts.append(f"{c[status]} {word}{plural}")
    if c[RUNNING]:
        parts.append(f"{c[RUNNING]} running")
    parts.append(f"{state.elapsed():.1f} s")
    return " · ".join(parts)


# -- HTML ---------------------------------------------------------------------------------


def _cell_html(cell: Cell, now: float, with_variant: bool) -> str:
    color = _COLORS.get(cell.status, palette.MUTED)
    head = ""
    if with_variant:
        head = (f'<div class="gmc-v">{html.escape(cell.variant)} · run {cell.repeat + 1}'
                f"{'' if cell.prompt_index == 0 else f' · prompt {cell.prompt_index + 1}'}</div>")
    note = f'<div class="gmc-note">{html.escape(cell.note)}</div>' if cell.note else ""
    error = f'<div class="gmc-err">{html.escape(cell.error)}</div>' if cell.error else ""
    return (
        f'<div class="gmc-cell" style="border-left-color:{color}">{head}'
        f'<div class="gmc-tick" style="color:{color}">{html.escape(ticker_text(cell, now))}'
        f'{verdict_html(cell)}</div>{note}'
        f'{model_text_html(cell.text, cls="gmc-text", style="")}{error}</div>'
    )




MAX_TABLE_COLUMNS = 4  # wider than this, 16em columns overflow a JupyterLab page


def grid_html(state: GridState, *, window: int | None = None) -> str:
    """The whole grid as HTML. Small comparisons are a table, one column per variant and
    one row per prompt × repeat; with ``window`` only that many cells (those in flight,
    then the latest finished) are drawn."""
    now = time.perf_counter()
    top = f'<div class="gmc-top">{html.escape(header_text(state, progress_text(state)))}</div>'
    notes = "".join(f'<div class="gmc-note">{html.escape(n)}</div>' for n in state.notices)
    if window is not None or len(state.variants) > MAX_TABLE_COLUMNS:
        # too many variants for side-by-side columns: labelled cards that wrap to the page
        cells = _window(state, window) if window is not None else state.cells
        body = "".join(_cell_html(c, now, True) for c in cells)
        grid = ('<div class="gmc-grid" style="grid-template-columns:'
                f' repeat(auto-fill, minmax(16em, 1fr))">{body}</div>')
        if len(cells) < len(state.cells):  # never hide cards silently
            notes += (f'<div class="gmc-note">showing {len(cells)} of {len(state.cells)} '
                      "runs: those in flight, the latest finished, the next queued (every run is in "
                      "the DataFrame compare() returns)</div>")
    else:
        variants = state.variants
        heads = "".join(f'<div class="gmc-head">{html.escape(v)}</div>' for v in variants)
        rows = []
        many_prompts = len({c.prompt_index for c in state.cells}) > 1
        shown_prompt = -1
        for cell in state.cells:
            if many_prompts and cell.prompt_index != shown_prompt:
                shown_prompt = cell.prompt_index
                text = cell.prompt if len(cell.prompt) <= 200 else cell.prompt[:197] + "…"
                rows.append(f'<div class="gmc-prompt">{html.escape(text)}</div>')
            rows.append(_cell_html(cell, now, False))
        grid = (f'<div class="gmc-grid" style="grid-template-columns: repeat({len(variants)},'
                f' minmax(16em, 1fr))">{heads}{"".join(rows)}</div>')
    return f'<div class="gmc {NO_MATH}"><style>{_CSS}</style>{top}{notes}{grid}</div>'


def _window(state: GridState, size: int) -> list[Cell]:
    running = [c for c in state.cells if c.status == RUNNING]
    ended = sorted((c for c in state.cells if c.ended_at is not None),
                   key=lambda c: c.ended_at, reverse=True)
    chosen = running[:size] + ended[: max(0, size - len(running))]
    chosen += [c for c in state.cells if c.status == QUEUED][: size - len(chosen)]  # the start
    return sorted(chosen, key=lambda c: c.index)


def grid_text(state: GridState) -> str:
    """Plain-text form of the grid (the ``text/plain`` of the display)."""
    lines = [header_text(state, progress_text(state))]
    for cell in state.cells:
        if cell.status in (RUNNING, OK, ERROR, INTERRUPTED, SKIPPED, REFUSED):
            verdict = verdict_text(cell)
            lines.append(f"[{cell.variant} · run {cell.repeat + 1}] {ticker_text(cell)}"
                         + (f" · {verdict}" if verdict else ""))
    return "\n".join(lines)


# -- where the grid is drawn ----------------------------------------------------------------


class LiveGrid:
    """Draws a :class:`GridState` on a notebook surface, throttled."""

    def __init__(self, state: GridState, surface: Any, budget: Budget | None = None):
        self.state = state
        self.surface = surface
        self.budget = budget or Budget()
        self.window = SCREEN_CELLS if len(state.cells) > SCREEN_CELLS else None
        self._drawn = -1
        self._bar_at = 0.0

    def refresh(self, force: bool = False) -> None:
        state = self.state
        now = time.perf_counter()
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
        ended = state.ended_at is not None
        window = None if ended and len(state.cells) <= FINAL_CELLS_MAX else self.window
        self.surface.show({"text/html": grid_html(state, window=window),
                           "text/plain": grid_text(state)})
        if ended and hasattr(self.surface, "settle"):
            self.surface.settle()

    def finish(self, frame: Any) -> None:
        """Final draw, then the side-by-side table, the summary and a chart."""
        self.refresh(force=True)
        if frame is None or frame.empty:
            return
        from ..comparisons import views

        if len(frame) <= SIDE_BY_SIDE_MAX_ROWS:
            self.surface.append(views.side_by_side(frame))
        self.surface.append(views.styled_summary(frame))
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


def make_view(state: GridState, display: Any) -> Any:
    """The view for ``compare(display=...)``: True (here), False (nothing), or an
    ``ipywidgets.Output`` to draw into."""
    if display is False or display is None:
        return NoGrid()
    if display is True:
        if in_notebook():
            big = len(state.cells) > SCREEN_CELLS
            return LiveGrid(state, HandleSurface(len(state.cells) if big else None))
        return TerminalGrid(state)
    if hasattr(display, "outputs"):
        return LiveGrid(state, OutputSurface(display))
    raise TypeError("display must be True, False or an ipywidgets.Output")
