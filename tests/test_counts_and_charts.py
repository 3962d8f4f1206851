"""After an interrupt the grid's header adds up, and the charts say why a row has no dots
(issue 18 item 11): a provider whose runs succeeded without streaming is "not streamed",
not "no successful run"; a free run ($0) and an unknown price are told apart."""

from __future__ import annotations

import math
import re

import pytest

from gemma_magics.comparisons import views
from gemma_magics.comparisons.gridstate import (
    CANCELLED,
    ERROR,
    INTERRUPTED,
    OK,
    REFUSED,
    SKIPPED,
    Cell,
    GridState,
)
from gemma_magics.notebook.grid import progress_text
from gemma_magics.records.log import Record, to_dataframe


def state_of(*statuses: str) -> GridState:
    cells = [Cell(index=i, variant="A", prompt_index=0, prompt="p", repeat=i,
                  provider="openai", model="m", status=s) for i, s in enumerate(statuses)]
    state = GridState(cells)
    state.ended_at = state.started_at
    return state


def test_an_interrupted_header_adds_up_to_the_total():
    # the case: 5 ran, 1 interrupted, 2 never started
    text = progress_text(state_of(*[OK] * 5, INTERRUPTED, CANCELLED, CANCELLED))
    assert text.startswith("5/8 done · 1 interrupted · 2 not run"), text


@pytest.mark.parametrize("statuses", [
    (OK, OK, ERROR, INTERRUPTED, CANCELLED, REFUSED, SKIPPED),
    (OK,) * 4,
    (REFUSED, REFUSED, OK),
    (ERROR, ERROR, INTERRUPTED),
])
def test_done_and_the_other_counts_always_make_the_total(statuses):
    text = progress_text(state_of(*statuses))
    done, total = map(int, re.match(r"(\d+)/(\d+) done", text).groups())
    others = sum(int(n) for n, word in re.findall(r"(\d+) (interrupted|not run|not sent)",
                                                  text))
    assert total == len(statuses) and done + others == total, text


def record(variant, *, rate=50.0, cost=0.001, status="ok"):
    return Record(provider="openai", model="m", prompt="p", response="an answer",
                  ttft_s=0.1, latency_s=1.0, tokens_per_s=rate, completion_tokens=20,
                  cost_usd=cost, status=status, variant=variant)


def row_notes(fig) -> dict[int, str]:
    """The muted notes drawn on each variant's row (y = the row's index)."""
    ax = fig.axes[0]
    return {round(t.get_position()[1]): t.get_text().strip() for t in ax.texts}


def test_rate_chart_says_not_streamed_for_successful_runs_without_a_rate():
    frame = to_dataframe([
        record("streams", rate=40), record("streams", rate=60),
        record("whole", rate=math.nan), record("whole", rate=math.nan),  # sent whole: no rate
        record("fails", status="error", rate=math.nan),
        record("mixed", rate=30), record("mixed", rate=math.nan),
    ])
    notes = row_notes(views.plot(frame))
    labels = [t.get_text() for t in views.plot(frame).axes[0].get_yticklabels()]
    by_variant = {labels[i]: note for i, note in notes.items()}
    assert by_variant == {"whole": "not streamed", "fails": "no successful run",
                          "mixed": "1 of 2 not streamed"}


def test_cost_chart_tells_free_from_unknown_price():
    frame = to_dataframe([
        record("free", cost=0.0), record("free", cost=0.0),
        record("unpriced", cost=math.nan), record("unpriced", cost=math.nan),
        record("paid", cost=0.002), record("paid", cost=0.003),
    ])
    fig = views.plot(frame, metric="cost_usd")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    by_variant = {labels[i]: note for i, note in row_notes(fig).items()}
    assert by_variant == {"free": "free ($0)", "unpriced": "price unknown"}
    free_row = labels.index("free")
    dots = [p for c in fig.axes[0].collections for p in c.get_offsets()
            if round(p[1]) == free_row]
    assert dots and all(p[0] == 0 for p in dots)  # the free runs are drawn, at $0
