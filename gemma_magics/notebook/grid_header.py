"""The money and time in the comparison grid's header: spent / budget, what the providers
billed when it differs from the computed cost, and the time left."""

from __future__ import annotations

import math

from ..comparisons.gridstate import ERROR, INTERRUPTED, OK, GridState
from .footer import billed_disagrees, cost_text


def meter_text(state: GridState) -> str:
    """E.g. ``spent $0.0012 / budget $0.0050 · ~12 s left``; empty when there is nothing
    to say (no budget, nothing spent, no time known)."""
    spent, billed = state.spent()
    parts = []
    if state.budget is not None:
        parts.append(f"spent {cost_text(spent)} / budget {cost_text(state.budget)}")
    elif spent > 0:
        parts.append(f"spent {cost_text(spent)}")
    if billed is not None:
        computed = computed_total(state)
        if billed_disagrees(computed, billed):
            parts.append(f"billed {cost_text(billed)} vs computed {cost_text(computed)}")
    left = state.time_left()
    if left is not None and state.ended_at is None:
        parts.append(f"~{left:.0f} s left" if left >= 10 else f"~{left:.1f} s left")
    return " · ".join(parts)


def computed_total(state: GridState) -> float:
    """The catalog-priced cost of the runs that reported a billed cost (NaN if unpriced)."""
    return math.fsum(c.record.cost_usd for c in state.cells
                     if c.record is not None and c.status in (OK, ERROR, INTERRUPTED)
                     and c.record.billed_cost_usd is not None)


def header_text(state: GridState, progress: str) -> str:
    """The grid's first line: the progress, then the meter."""
    meter = meter_text(state)
    return f"{progress} · {meter}" if meter else progress
