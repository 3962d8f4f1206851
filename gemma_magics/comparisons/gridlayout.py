"""How the live grid arranges its runs (issue 18 item 9), without drawing anything.

One row per variant and one column per prompt × repeat, so a column always holds the same
run of every variant and a row is one variant's runs. The layout follows the size:

* ``full``: a card per run with its answer streaming (up to :data:`COMPACT_ABOVE` runs);
* ``compact``: a small cell per run, its status and one figure, the answer on hover
  (up to :data:`SUMMARY_ABOVE` runs);
* ``summary``: a line per variant (counts, median TTFT and decode rate) with the slowest
  and the failing runs, so a 10,000-run sweep draws a bounded page, not 10,000 boxes.

``compare(layout=...)`` forces one of them, within the bounds that keep each display
message small (:func:`choose` says when it could not honour the request).
"""

from __future__ import annotations

import bisect
import heapq
import statistics
from dataclasses import dataclass

from .gridstate import ERROR, FINAL, OK, REFUSED, RUNNING, SKIPPED, Cell, GridState

FULL, COMPACT, SUMMARY = "full", "compact", "summary"
LAYOUTS = ("auto", FULL, COMPACT, SUMMARY)
#: More runs than this and the cards become compact cells (more cards than one screen).
COMPACT_ABOVE = 24
#: More runs than this and the grid is a per-variant summary: a message stays bounded.
SUMMARY_ABOVE = 500
#: ``layout="full"`` is honoured up to this many runs (each card carries its whole answer).
FULL_MAX = 120
#: Cards side by side in one line of a variant's row in the full layout; more runs wrap
#: to the next line of that row, at the same positions for every variant.
CARDS_PER_LINE = 4


def choose(runs: int, layout: str | None = "auto") -> tuple[str, str | None]:
    """The layout for ``runs`` runs, and a note when the requested one could not be used."""
    wanted = layout or "auto"
    if wanted not in LAYOUTS:
        raise ValueError(f"layout={layout!r}: use one of {', '.join(LAYOUTS)}")
    auto = FULL if runs <= COMPACT_ABOVE else COMPACT if runs <= SUMMARY_ABOVE else SUMMARY
    if wanted == "auto" or wanted == auto:
        return auto, None
    if wanted == FULL and runs > FULL_MAX:
        return auto, (f"layout='full' draws at most {FULL_MAX} runs; {runs:,} are shown "
                      f"{auto}")
    if wanted == COMPACT and runs > SUMMARY_ABOVE:
        return SUMMARY, (f"layout='compact' draws at most {SUMMARY_ABOVE} runs; {runs:,} are "
                         "summarised per variant")
    return wanted, None


@dataclass(frozen=True)
class Column:
    """One prompt × repeat: the same position in every variant's row."""

    prompt_index: int
    repeat: int
    label: str


@dataclass
class Row:
    """One variant: its label and its cell in each column (None where it has no run)."""

    variant: str
    cells: list[Cell | None]


def columns(state: GridState) -> list[Column]:
    """The prompt × repeat columns, prompt by prompt; labelled ``run 2``, or ``p3 · run 2``
    when there are several prompts."""
    keys = sorted({(c.prompt_index, c.repeat) for c in state.cells})
    many = len({p for p, _ in keys}) > 1
    return [Column(p, r, f"p{p + 1} · run {r + 1}" if many else f"run {r + 1}")
            for p, r in keys]


def rows(state: GridState, cols: list[Column] | None = None) -> list[Row]:
    """One row per variant, in the order the variants were planned."""
    cols = cols if cols is not None else columns(state)
    where = {(c.prompt_index, c.repeat): i for i, c in enumerate(cols)}
    out: dict[str, Row] = {}
    for cell in state.cells:
        row = out.get(cell.variant)
        if row is None:
            row = out[cell.variant] = Row(cell.variant, [None] * len(cols))
        row.cells[where[(cell.prompt_index, cell.repeat)]] = cell
    return list(out.values())


def run_label(cell: Cell, many_prompts: bool) -> str:
    """``run 2`` or ``p3 · run 2``: what a cell is, wherever it is drawn."""
    return (f"p{cell.prompt_index + 1} · " if many_prompts else "") + f"run {cell.repeat + 1}"


# -- the summary layout ----------------------------------------------------------------------


@dataclass
class VariantLine:
    """What the summary layout shows of one variant."""

    variant: str
    runs: int = 0
    ok: int = 0
    failed: int = 0
    running: int = 0
    queued: int = 0
    other: int = 0  # interrupted, not run, not sent, resumed
    ttft_s: float | None = None  # medians over the finished successful runs
    tokens_per_s: float | None = None


@dataclass
class Summary:
    """The summary layout's content, taken in one pass over the cells."""

    lines: list[VariantLine]
    slowest: list[Cell]  # slowest first
    failed: list[Cell]  # the first ones, in grid order
    n_failed: int


class Tally:
    """The summary layout's figures, kept up to date between draws: a finished run is
    counted once, so each draw walks only the runs still queued or running. (A 10,000-run
    sweep is drawn up to 20 times a second by the thread that also waits on the runs.)"""

    def __init__(self, n_slow: int, n_failed: int):
        self.n_slow, self.n_failed = n_slow, n_failed
        self.done: dict[str, VariantLine] = {}  # counts of the finished runs
        self.ttfts: dict[str, list[float]] = {}
        self.rates: dict[str, list[float]] = {}
        self.medians: dict[str, tuple[float | None, float | None]] = {}
        self.slow: list[tuple[float, int, Cell]] = []  # finished: (took, -index), min-heap
        self.failed: list[Cell] = []  # the first failed runs in grid order
        self.total_failed = 0
        self.pending: list[Cell] | None = None

    def summary(self, state: GridState, now: float) -> Summary:
        if self.pending is None:  # the variants in planned order
            for cell in state.cells:
                if cell.variant not in self.done:
                    self.done[cell.variant] = VariantLine(cell.variant)
                    self.ttfts[cell.variant], self.rates[cell.variant] = [], []
            self.pending = list(state.cells)
        still, live, running = [], {}, []
        for cell in self.pending:
            status = cell.status
            if status in FINAL:
                self._finished(cell)
                continue
            still.append(cell)
            counts = live.setdefault(cell.variant, [0, 0])
            if status == RUNNING:
                counts[0] += 1
                if cell.started_at is not None and self.n_slow > 0:
                    running.append((now - cell.started_at, -cell.index, cell))
            else:
                counts[1] += 1
        self.pending = still
        lines = []
        for name, done in self.done.items():
            if name not in self.medians:
                t, r = self.ttfts[name], self.rates[name]
                self.medians[name] = (statistics.median(t) if t else None,
                                      statistics.median(r) if r else None)
            going, queued = live.get(name, (0, 0))
            lines.append(VariantLine(name, done.runs + going + queued, done.ok, done.failed,
                                     going, queued, done.other, *self.medians[name]))
        slow = heapq.nlargest(self.n_slow, [*self.slow, *running], key=lambda t: t[:2])
        return Summary(lines, [c for _, _, c in slow], list(self.failed), self.total_failed)

    def _finished(self, cell: Cell) -> None:
        name, status, rec = cell.variant, cell.status, cell.record
        line = self.done[name]
        line.runs += 1
        took = None
        if status == ERROR:
            line.failed += 1
            self.total_failed += 1
            if len(self.failed) < self.n_failed or cell.index < self.failed[-1].index:
                bisect.insort(self.failed, cell, key=lambda c: c.index)
                del self.failed[self.n_failed:]
            return  # listed with the failing runs, not the slow ones
        if status == OK:
            line.ok += 1
            if rec is not None:
                took = rec.latency_s
                if rec.ttft_s is not None and rec.ttft_s == rec.ttft_s:  # not NaN
                    self.ttfts[name].append(rec.ttft_s)
                if rec.tokens_per_s is not None and rec.tokens_per_s == rec.tokens_per_s:
                    self.rates[name].append(rec.tokens_per_s)
                self.medians.pop(name, None)
        else:
            line.other += 1
            if status not in (SKIPPED, REFUSED) and rec is not None:
                took = rec.latency_s  # interrupted: how long it ran
        if took is None or took != took or self.n_slow <= 0:
            return
        item = (took, -cell.index, cell)
        if len(self.slow) < self.n_slow:
            heapq.heappush(self.slow, item)
        elif item[:2] > self.slow[0][:2]:
            heapq.heapreplace(self.slow, item)


def summarise(state: GridState, now: float, n_slow: int, n_failed: int) -> Summary:
    """Per variant counts and medians, the ``n_slow`` runs that took (or are taking)
    longest, the first ``n_failed`` failed runs and how many failed."""
    return Tally(n_slow, n_failed).summary(state, now)


def variant_lines(state: GridState) -> list[VariantLine]:
    """A :class:`VariantLine` per variant, in planned order."""
    return summarise(state, 0.0, 0, 0).lines


def slowest(state: GridState, n: int, now: float) -> list[Cell]:
    """The ``n`` runs that took (or are taking) longest, slowest first; failed runs are
    listed with the failing ones instead, runs taken from an earlier sweep not at all."""
    return summarise(state, now, n, 0).slowest
