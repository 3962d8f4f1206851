"""A hard spending limit for a comparison, and the runs that are not sent.

A run is dispatched only while what was spent plus the worst case of every run in flight,
its own included, stays within the budget. The worst case is the prompt's tokens (counted
exactly, or bounded by its bytes) at the catalog's input price plus ``max_tokens`` at the
output price. What a finished run spent is the provider's billed cost where it reports one,
else the computed ``cost_usd``. A run that cannot fit even with nothing in flight is not
sent: it is recorded with status ``skipped`` and the reason, and ``resume=True`` runs it
later (under a new budget).

Runs without a price make a budget unenforceable: the comparison refuses to start unless
``budget_unknown="allow"``, which sends them and counts only what they report as billed.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timezone

from ..errors import ValidationError
from ..records.log import STATUS_SKIPPED, Record
from .estimate import RunEstimate
from .gridstate import spent_by
from .plan import Run

UNKNOWN_CHOICES = ("refuse", "allow")


def check_budget(budget: float | None, unknown: str) -> None:
    if unknown not in UNKNOWN_CHOICES:
        raise ValidationError(f"budget_unknown={unknown!r}",
                              fix=f"use one of: {', '.join(UNKNOWN_CHOICES)}")
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) \
            or math.isnan(budget) or budget < 0:
        raise ValidationError(f"budget={budget!r} must be an amount in USD ≥ 0",
                              fix="e.g. budget=0.50")


def usd(value: float) -> str:
    """``$0.00005``, ``$1.5``: dollars without a float's exponent or trailing zeros."""
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return f"${text if text not in ('', '-0') else '0'}"


def refuse_unknown(estimates: list[RunEstimate], budget: float, unknown: str) -> None:
    """Stop before anything is sent when runs without a price would slip past the budget."""
    missing = sorted({f"{e.provider} {e.model}" for e in estimates
                      if not e.refused and not e.price_known})
    if missing and unknown == "refuse":
        raise ValidationError(
            f"a budget of {usd(budget)} cannot be enforced: the catalog has no price for "
            f"{', '.join(missing)}",
            fix='pass budget_unknown="allow" (--budget-unknown allow) to run them anyway, '
                "counting only the cost they report as billed, or add price_in/price_out to "
                "your config")


class BudgetGate:
    """Admits runs while spent + the worst case in flight stays within :attr:`limit`."""

    def __init__(self, limit: float, worst: dict[int, float]):
        self.limit = float(limit)
        self.worst = worst  # run index -> worst-case USD (0 for an allowed unknown price)
        self.spent = 0.0
        self.reserved: dict[int, float] = {}
        self._changed: asyncio.Event | None = None

    @property
    def committed(self) -> float:
        return self.spent + math.fsum(self.reserved.values())

    async def admit(self, index: int) -> str | None:
        """Wait until the run fits; None when it may go, else why it may not."""
        worst = self.worst.get(index, 0.0)
        while True:
            if self.committed + worst <= self.limit + 1e-12:
                self.reserved[index] = worst
                return None
            if not self.reserved:
                return (f"budget: {usd(self.spent)} of {usd(self.limit)} spent; this run's "
                        f"worst case {usd(worst)} would pass it (resume=True with a new budget "
                        "runs it)")
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            await changed.wait()

    def settle(self, index: int, record: Record | None) -> None:
        """The run ended (or never started): its reservation becomes what it spent."""
        was_reserved = self.reserved.pop(index, None) is not None
        if was_reserved:
            self.spent += spent_by(record)
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()


def skipped_record(run: Run, reason: str) -> Record:
    """The record of a run that was not sent, logged so resume finds it unfinished."""
    record = run.call.record
    record.timestamp = datetime.now(timezone.utc).isoformat()
    record.status = STATUS_SKIPPED
    record.error = reason
    record.error_type = "NotSent"
    record.prompt_tokens = record.completion_tokens = record.total_tokens = None
    return record


def log_skipped(run: Run, reason: str) -> Record:
    record = skipped_record(run, reason)
    if run.call.session is not None:
        run.call.session.log.append(record)
    return record
