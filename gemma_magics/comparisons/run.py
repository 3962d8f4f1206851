"""Running a comparison: one or many prompts across providers × models × settings ×
repeats, concurrently, into a :class:`GridState` that a view draws, returned as a DataFrame.

The public entry point with the live grid is :func:`gemma_magics.compare`
(:mod:`gemma_magics.notebook.live_compare`); this module draws nothing itself.

>>> import gemma_magics as gm
>>> df = gm.compare("Write a haiku about gradient descent.",
...                 providers=["local", "cloudflare"], grid={"temperature": [0.2, 0.9]},
...                 repeats=3, concurrency=8)
>>> gm.summary(df)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted, ValidationError
from ..records.log import to_dataframe
from ..scoring.score import Scorer
from ..session import Session, get_session
from .budget import BudgetGate, check_budget, log_skipped, refuse_unknown
from .estimate import (
    Estimate,
    context_window,
    could_overflow,
    count_prompt,
    estimate,
    refusal,
)
from .gridstate import Cell, GridState
from .live_scoring import LiveScoring, expected_per_prompt
from .plan import Run, mark_finished, plan
from .scheduler import BackgroundJob, Scheduler

if TYPE_CHECKING:
    import pandas as pd

#: How long an interrupted comparison may take to record its runs before giving up on them.
CANCEL_TIMEOUT_S = 30.0


def compare(
    prompts: Any,
    providers: str | Sequence[str] | None = None,
    models: str | Sequence[str] | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    repeats: int = 1,
    concurrency: int = 8,
    per_provider: Mapping[str, int] | None = None,
    resume: bool = False,
    view: Callable[[GridState], Any] | None = None,
    session: Session | None = None,
    *,
    dry_run: bool = False,
    budget: float | None = None,
    budget_unknown: str = "refuse",
    checks: Any = None,
    expected: Any = None,
    judge: Any = None,
    judge_provider: str | None = None,
    judge_model: str | None = None,
    pairwise: bool = False,
    baseline: str | None = None,
    functions: Mapping[str, Any] | None = None,
    judge_concurrency: int = 4,
    cancel: Any = None,
    **params: Any,
) -> pd.DataFrame:
    """The engine of :func:`gemma_magics.compare` (documented there): plan, validate and
    run every combination, feeding ``view(state)`` (a live grid, progress lines, or nothing
    when ``view`` is None) while they stream, scoring each run as it finishes; returns one
    row per run.

    ``dry_run=True`` sends nothing and returns the estimate instead (one row per provider
    × model, see :mod:`.estimate`); ``view`` is not used. ``cancel`` (a
    :class:`threading.Event`) set from another thread stops it as a kernel interrupt would."""
    session = session or get_session()
    stage = _Stage()
    try:
        return _run(stage, session, prompts, providers, models, grid, repeats, concurrency,
                    per_provider, resume, view, dry_run=dry_run, budget=budget,
                    budget_unknown=budget_unknown, checks=checks, expected=expected,
                    judge=judge, judge_provider=judge_provider, judge_model=judge_model,
                    pairwise=pairwise, baseline=baseline, functions=functions,
                    judge_concurrency=judge_concurrency, cancel=cancel, params=params)
    except Interrupted:
        raise
    except KeyboardInterrupt:  # outside the runs (or a second stop): one line all the same
        raise stage.interrupted() from None


class _Stage:
    """How far a comparison got, for the one line an interrupt anywhere ends it with:
    before any run was sent, while they ran (the runs' own handler says it first; a second
    stop during its clean-up lands here), while judging, or while the tables and charts
    are drawn (every run had ended: ``result`` is the whole DataFrame)."""

    def __init__(self) -> None:
        self.runs: list[Run] | None = None
        self.state: GridState | None = None
        self.scoring: LiveScoring | None = None
        self.after: str | None = None  # "while judging", "while drawing the results"
        self.frame: Any = None

    def interrupted(self) -> Interrupted:
        if self.runs is None or self.state is None:
            return Interrupted("stopped before any run was sent")
        exc = _interrupted(self.runs, self.state)
        if self.after is None:
            return exc
        frame = self.frame
        if frame is None and self.scoring is not None:
            with contextlib.suppress(Exception):  # with the verdicts given so far
                frame = self.scoring.joined(exc.result, self.state)
        counts = exc.message.removeprefix("stopped: ")
        return Interrupted(f"stopped {self.after}: {counts}",
                           result=exc.result if frame is None else frame)


def _run(stage: _Stage, session: Session, prompts: Any, providers: Any, models: Any,
         grid: Any, repeats: int, concurrency: int, per_provider: Any, resume: bool,
         view: Any, *, dry_run: bool, budget: float | None, budget_unknown: str, checks: Any,
         expected: Any, judge: Any, judge_provider: str | None, judge_model: str | None,
         pairwise: bool, baseline: str | None, functions: Any, judge_concurrency: int,
         cancel: Any, params: dict[str, Any]) -> pd.DataFrame:
    _check_limits(concurrency, per_provider)
    scorer = Scorer(checks, judge, judge_provider=judge_provider, judge_model=judge_model,
                    pairwise=pairwise, functions=functions,
                    judge_concurrency=judge_concurrency)
    runs = plan(prompts, providers, models, grid, repeats, params, session)
    scoring = LiveScoring(scorer, runs, expected_per_prompt(expected, runs), session, baseline)
    _check_compared(per_provider, runs)
    check_budget(budget, budget_unknown)
    skipped = _resume(runs, session) if resume else 0
    if dry_run:
        return estimate(runs, session.log.records(), concurrency, per_provider,
                        budget).frame()
    gate, expected_s = _budget_gate(runs, budget, budget_unknown, session, concurrency,
                                    per_provider)
    state = GridState([_cell(run) for run in runs], _notices(runs) + scorer.notices)
    stage.runs, stage.state, stage.scoring = runs, state, scoring
    state.budget, state.expected_s = budget, expected_s
    for run in runs:
        if run.skipped:
            state.cells[run.index].skip(run.previous)
        elif run.refused:
            state.cells[run.index].refuse(log_skipped(run, run.refused))
    view = view(state) if view is not None else Unseen()
    scheduler = Scheduler(runs, state, concurrency, per_provider, gate)
    started = time.perf_counter()
    job = BackgroundJob(scheduler.main())
    try:
        job.start()
        while not job.join(0.02):
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            scoring.check_finished(state)
            view.refresh()
    except BaseException as exc:  # a kernel interrupt (or a display failure): stop every run
        job.cancel()
        try:
            job.join(CANCEL_TIMEOUT_S)
        finally:
            state.close()
            with contextlib.suppress(Exception):
                scoring.check_finished(state)
                scoring.store()
                view.refresh(force=True)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Interrupted):
            raise _interrupted(runs, state) from None
        raise
    wall = time.perf_counter() - started
    state.close()
    if job.error is not None:
        raise job.error
    stage.after = "while judging"
    try:
        scoring.check_finished(state)
        scoring.judge_all(state, view.refresh)
    finally:
        scoring.store()  # an interrupted judging keeps the verdicts given
    frame = scoring.joined(result_frame(runs, state), state) if scorer else \
        result_frame(runs, state)
    frame.attrs["compare"] = {
        "wall_s": wall,
        "runs": len(runs),
        "resumed": skipped,
        "concurrency": concurrency,
        "refused": sum(1 for run in runs if run.refused),
        "budget": None if gate is None else {"limit": budget, "spent": gate.spent},
        "timeline": _timeline(state, started),
    }
    stage.after, stage.frame = "while drawing the results", frame
    view.finish(frame)
    return frame


def price(
    prompts: Any,
    providers: str | Sequence[str] | None = None,
    models: str | Sequence[str] | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    repeats: int = 1,
    concurrency: int = 8,
    per_provider: Mapping[str, int] | None = None,
    resume: bool = False,
    session: Session | None = None,
    *,
    budget: float | None = None,
    **params: Any,
) -> Estimate:
    """The estimate ``compare(..., dry_run=True)`` returns as a frame, as the
    :class:`~.estimate.Estimate` itself: planned and validated the same way, nothing sent.
    For a caller that runs several comparisons one after another and prices them as one
    (the host verifier, with :func:`.estimate.in_sequence`)."""
    session = session or get_session()
    _check_limits(concurrency, per_provider)
    runs = plan(prompts, providers, models, grid, repeats, params, session)
    _check_compared(per_provider, runs)
    check_budget(budget, "refuse")
    if resume:
        _resume(runs, session)
    return estimate(runs, session.log.records(), concurrency, per_provider, budget)


def _check_compared(per_provider: Mapping[str, int] | None, runs: list[Run]) -> None:
    unknown = sorted(set(per_provider or {}) - {run.provider for run in runs})
    if unknown:
        raise ValidationError(f"per_provider names {unknown[0]!r}, which is not compared",
                              fix="use the provider names given in providers")


def _interrupted(runs: list[Run], state: GridState) -> Interrupted:
    """The one line an interrupted comparison ends with; its runs are the ``result``."""
    statuses = [cell.status for cell in state.cells]
    stopped = statuses.count("interrupted")
    finished = sum(s in ("ok", "error", "skipped") for s in statuses)
    message = (f"stopped: {finished} of {len(runs)} runs had finished, {stopped} recorded "
               "as interrupted")
    not_run = len(runs) - finished - stopped
    if not_run:
        message += f", {not_run} not started"
    return Interrupted(message, result=result_frame(runs, state))


class Unseen:
    """No view: the comparison runs and returns its frame without drawing anything."""

    def refresh(self, force: bool = False) -> None:
        pass

    def finish(self, frame: Any) -> None:
        pass


def _check_limits(concurrency: Any, per_provider: Mapping[str, int] | None) -> None:
    for name, value in [("concurrency", concurrency), *(
            (f"per_provider[{k!r}]", v) for k, v in (per_provider or {}).items())]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name}={value!r} must be a whole number ≥ 1")


def _budget_gate(runs: list[Run], budget: float | None, unknown: str, session: Session,
                 concurrency: int, per_provider: Mapping[str, int] | None,
                 ) -> tuple[BudgetGate | None, float | None]:
    """Find the runs that cannot fit their context window (counting only prompts long
    enough to matter); with a budget, price every run's worst case and learn the expected
    time from the log. Returns the gate (None without a budget) and the expected seconds."""
    todo = [run for run in runs if not run.skipped]
    if budget is None:
        cache: dict[str, tuple[int, str]] = {}
        for run in todo:
            if could_overflow(run):
                n, _ = count_prompt(run, cache)
                run.refused = refusal(n, int(run.call.request.params.max_tokens),
                                      context_window(run))
        return None, None
    priced = estimate(todo, session.log.records(), concurrency, per_provider)
    refuse_unknown(priced.runs, budget, unknown)
    for run, est in zip(todo, priced.runs, strict=True):
        run.refused = est.refused
    worst = {e.index: e.cost_high if e.price_known else 0.0 for e in priced.runs}
    return BudgetGate(budget, worst), priced.total()["time_expected_s"]


def _resume(runs: list[Run], session: Session) -> int:
    keys = session.log.keys()
    if not any(run.key in keys for run in runs):
        return 0
    wanted = {run.key for run in runs}
    return mark_finished(runs, (r for r in session.log.records() if r.request_key in wanted))


def _cell(run: Run) -> Cell:
    return Cell(index=run.index, variant=run.variant, prompt_index=run.prompt_index,
                prompt=run.prompt, repeat=run.repeat, provider=run.provider, model=run.model)


def _notices(runs: list[Run]) -> list[str]:
    seen = {n.message: None for run in runs for n in run.call.notices}
    for run in runs:
        run.call.notices.clear()  # shown once above the grid, not in every cell
    return list(seen)


def result_frame(runs: list[Run], state: GridState) -> pd.DataFrame:
    """One row per run that has a record, in grid order."""
    records = []
    for run in runs:
        record = state.cells[run.index].record
        if record is None:
            continue
        if run.skipped:
            record.variant = run.variant
        records.append(record)
    return to_dataframe(records)


def _timeline(state: GridState, started: float) -> list[dict[str, Any]]:
    def since(t: float | None) -> float | None:
        return None if t is None else t - started

    return [
        {"run_id": c.record.run_id if c.record else None, "variant": c.variant,
         "repeat": c.repeat, "started_s": since(c.started_at), "finished_s": since(c.ended_at),
         "status": c.status}
        for c in state.cells
    ]
