"""The live state of a comparison: one :class:`Cell` per run, written by the event-loop
thread as events arrive and read by the thread that renders it.

Writers only append to lists and assign attributes (atomic under the GIL); readers take
snapshots, so no lock is needed. :attr:`GridState.version` changes on every write, which
tells a renderer whether there is anything new to draw.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import RateLimitError
from ..events import Done, ErrorEvent, Notice, ReasoningDelta, Retrying, Sent, TextDelta
from ..records.log import Record

QUEUED, RUNNING, OK, ERROR, INTERRUPTED, SKIPPED, CANCELLED = (
    "queued", "running", "ok", "error", "interrupted", "skipped", "cancelled",
)
#: Not sent: over the budget or too long for the context window (recorded as "skipped").
REFUSED = "refused"
FINAL = frozenset({OK, ERROR, INTERRUPTED, SKIPPED, CANCELLED, REFUSED})
_SPENDING = frozenset({OK, ERROR, INTERRUPTED})  # the runs whose cost counts


@dataclass(slots=True)  # one per run, held for the whole sweep
class Cell:
    """One run as the grid shows it: its answer so far and a small ticker."""

    index: int
    variant: str
    prompt_index: int
    prompt: str
    repeat: int
    provider: str
    model: str
    status: str = QUEUED
    parts: list[str] = field(default_factory=list)
    deltas: int = 0  # text pieces received (≈ tokens until the provider reports usage)
    note: str | None = None  # transient: "loading model…", "429, retrying in 1 s"
    error: str | None = None
    record: Record | None = None
    started_at: float | None = None
    sent_at: float | None = None
    first_at: float | None = None
    ended_at: float | None = None
    #: (passed, score 0-1, reasons) once scored; passed None: no verdict (a failed judgment)
    verdict: tuple[bool | None, float | None, str] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def done(self) -> bool:
        return self.status in FINAL

    # -- written by the event-loop thread ----------------------------------------------
    def start(self) -> None:
        self.status = RUNNING
        self.started_at = self.sent_at = time.perf_counter()

    def add(self, event: Any) -> None:
        kind = type(event)
        if kind is TextDelta:
            if event.text:
                if self.first_at is None:
                    self.first_at = time.perf_counter()
                    self.note = None
                self.parts.append(event.text)
                self.deltas += 1
        elif kind is ReasoningDelta:
            if self.first_at is None:  # the answer has not begun: say why the cell waits
                self.note = "thinking…"
        elif kind is Sent:
            self.sent_at = time.perf_counter()
        elif kind is Notice:
            self.note = event.message
        elif kind is Retrying:
            what = "rate limited" if isinstance(event.error, RateLimitError) else "failed"
            self.note = f"{what}; retry {event.attempt} in {event.wait_s:.1f} s"
        elif kind is ErrorEvent:
            self.error = str(event.error)
        elif kind is Done:
            self.finish(event.completion.record)

    def finish(self, record: Record) -> None:
        self.record = record
        if len(self.parts) > 1:  # one string, not a piece per token, for the rest of a sweep
            self.parts = [self.text]
        self.ended_at = time.perf_counter()
        self.note = None
        if record.status != OK and record.error:
            self.error = record.error
        self.status = record.status

    def stop(self, completion: Any) -> None:
        """The run was cancelled (kernel interrupt)."""
        if completion is not None:
            self.finish(completion.record)  # status "interrupted" unless it had finished
        else:
            self.ended_at = time.perf_counter()
            self.status = INTERRUPTED

    def crash(self, exc: BaseException) -> None:
        self.ended_at = time.perf_counter()
        self.error = f"{type(exc).__name__}: {exc}"
        self.status = ERROR

    def skip(self, record: Record) -> None:
        """Resume: an identical earlier run already finished."""
        self.record = record
        self.parts = [record.response or ""]
        self.status = SKIPPED

    def refuse(self, record: Record) -> None:
        """Not sent (budget, context window): the record says why."""
        self.record = record
        self.error = record.error
        self.ended_at = time.perf_counter()
        self.status = REFUSED

    # -- read by the renderer ----------------------------------------------------------
    def ticker(self, now: float | None = None) -> dict[str, Any]:
        """Tokens, TTFT (s) and decode rate (tokens/s): the record's once finished,
        live estimates while streaming."""
        rec = self.record
        if rec is not None:
            return {"tokens": rec.completion_tokens, "ttft_s": rec.ttft_s,
                    "tokens_per_s": _finite(rec.tokens_per_s), "exact": True}
        now = now if now is not None else time.perf_counter()
        ttft = None if self.first_at is None or self.sent_at is None else (
            self.first_at - self.sent_at)
        rate = None
        if self.first_at is not None and self.deltas > 1 and now - self.first_at > 0:
            rate = (self.deltas - 1) / (now - self.first_at)
        return {"tokens": self.deltas, "ttft_s": ttft, "tokens_per_s": rate, "exact": False}


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def spent_by(record: Record | None) -> float:
    """What a finished run cost: billed where the provider said, else computed; 0 unknown."""
    if record is None:
        return 0.0
    for value in (record.billed_cost_usd, record.cost_usd):
        if _known(value):
            return float(value)
    return 0.0


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


class GridState:
    """All cells of one comparison, and when it started."""

    def __init__(self, cells: list[Cell], notices: list[str] | None = None):
        self.cells = cells
        self.notices = list(notices or [])
        self.version = 0
        self.started_at = time.perf_counter()
        self.ended_at: float | None = None
        self.budget: float | None = None  # USD, when the comparison has one
        self.expected_s: float | None = None  # the estimate's wall time, when the log knew

    def spent(self) -> tuple[float, float | None]:
        """(spent, billed): what the runs of this comparison cost so far (the billed cost
        where the provider reported one, else the computed one; unknown counts 0), and the
        total the providers billed (None when none reported a cost)."""
        # spent_by() inlined: the grid's header asks this on every draw of 10,000 runs
        total, billed, any_billed = 0.0, 0.0, False
        for cell in self.cells:
            rec = cell.record
            if rec is None or cell.status not in _SPENDING:
                continue
            paid = rec.billed_cost_usd
            if paid is not None and paid == paid:  # not NaN
                total += paid
                billed += paid
                any_billed = True
            elif rec.cost_usd is not None and rec.cost_usd == rec.cost_usd:
                total += rec.cost_usd
        return total, (billed if any_billed else None)

    def time_left(self) -> float | None:
        """Seconds until the runs still to go are done: from the pace so far once a run
        has ended, before that from the log's latencies (None when neither is known)."""
        if self.ended_at is not None:
            return 0.0
        counts = self.counts()
        left = counts[QUEUED] + counts[RUNNING]
        done = len(self.cells) - left - counts[SKIPPED] - counts[REFUSED]
        if left == 0:
            return 0.0
        if done:
            return self.elapsed() * left / done
        if self.expected_s is not None:
            return max(self.expected_s - self.elapsed(), 0.0)
        return None

    def touch(self) -> None:
        self.version += 1

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(c.variant for c in self.cells))

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (QUEUED, RUNNING, OK, ERROR, INTERRUPTED, SKIPPED, CANCELLED,
                              REFUSED)}
        for cell in self.cells:
            out[cell.status] += 1
        return out

    @property
    def finished(self) -> int:
        return sum(1 for c in self.cells if c.done)

    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else time.perf_counter()
        return end - self.started_at

    def close(self) -> None:
        """The comparison ended: runs that never started are marked cancelled."""
        for cell in self.cells:
            if cell.status in (QUEUED, RUNNING):
                cell.status = CANCELLED if cell.status == QUEUED else INTERRUPTED
        self.ended_at = time.perf_counter()
        self.touch()
