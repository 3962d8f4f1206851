"""``gemma_magics.compare()``: a comparison drawn live (the grid in a notebook, progress
lines in a terminal), then the side-by-side table, the summary and a chart.

The running itself is :func:`gemma_magics.comparisons.run.compare`; this wrapper only
chooses the view from ``display``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..comparisons import run
from ..comparisons.gridlayout import LAYOUTS
from ..errors import ValidationError
from ..session import Session

if TYPE_CHECKING:
    import pandas as pd


def compare(
    prompts: Any,
    providers: str | Sequence[str] | None = None,
    models: str | Sequence[str] | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    repeats: int = 1,
    concurrency: int = 8,
    per_provider: Mapping[str, int] | None = None,
    resume: bool = False,
    display: Any = True,
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
    layout: str = "auto",
    **params: Any,
) -> pd.DataFrame:
    """Run prompts across providers, models and settings at once; return one row per run.

    prompts: a prompt, a list of prompts, or a pandas Series (a DataFrame column).
    providers: names (``["local", "cloudflare"]`` or ``"local,cloudflare"``); default the
        session's provider.
    models: model ids; ``"provider=id"`` pins one to a provider, a dict maps provider →
        ids; a bare id goes to the providers whose catalog lists it. Several models of one
        provider are compared side by side; providers without one use their default.
    grid: settings to vary, e.g. ``{"temperature": [0.2, 0.9], "seed": [1, 2]}``; every
        combination runs. A list given as a keyword (``temperature=[0.2, 0.9]``) is an axis
        too; scalar keywords (``max_tokens=64``, ``system=...``) apply to every run.
    repeats: runs per combination.
    concurrency: runs in flight at once, over all providers.
    per_provider: a lower limit for some providers, e.g. ``{"cloudflare": 4}``. The local
        model always runs one generation at a time; a provider answering 429 is slowed down
        on its own (its limit halves, its next starts wait for ``Retry-After``).
    resume: skip runs whose identical call (same provider, model, prompt and settings)
        already finished in the log; their earlier records fill their rows. (The response
        cache is off in a comparison, so repeats really run, unless ``cache=True`` is given.)
    display: True draws the live grid here (progress lines outside a notebook), then the
        side-by-side table, the summary and a chart; False draws nothing; an
        ``ipywidgets.Output`` draws into it.
    dry_run: send nothing; return (and show) the estimate instead, one row per provider ×
        model: runs, prompt tokens (counted exactly with the Gemma tokenizer, or
        ``estimated`` without llama.cpp), expected completion tokens (from the log's earlier
        runs of the same settings, else ``max_tokens`` as the bound: ``completion_basis``),
        cost low / expected / high from the catalog's prices, time expected from the log's
        latencies played through ``concurrency`` (with the spread), and the runs refused
        because prompt + ``max_tokens`` cannot fit the host's context window
        (``df.attrs["dry_run"]`` has the total, the notes and the refused runs). Such runs
        are never sent in a real run either: they are recorded as ``skipped`` with why.
    budget: a hard limit in USD: no run starts while spent + the worst case (prompt tokens
        and ``max_tokens`` at the catalog's prices) of the runs in flight would pass it. The
        runs left are recorded with status ``skipped`` and the reason; ``resume=True``
        with a new budget runs them. Spent counts the provider's billed cost where it
        reports one (``billed_cost_usd``), else ``cost_usd``.
    budget_unknown: ``"refuse"`` (default): with a budget, a run whose host has no price
        stops the comparison before anything is sent; ``"allow"``: run it anyway, counting
        only the cost it reports as billed.
    checks: how each answer is scored as soon as it finishes, e.g.
        ``["icontains:{expected}", "max-chars:300", "not-icontains:sorry", my_function]``
        (see :mod:`gemma_magics.scoring.checks`); the grid marks each cell ✓/✗ (the reasons
        on hover).
    expected: a reference answer per prompt (a list or DataFrame column aligned with
        ``prompts``, or a mapping prompt → answer), used by ``{expected}`` and the judge.
    judge: a rubric (``"correct and concise"``), a :class:`gemma_magics.Judge` or a list of
        them (a majority vote), graded by ``judge_provider``/``judge_model`` after the checks,
        on the runs they passed. ``pairwise=True`` grades each answer against the
        ``baseline`` variant's answer to the same prompt (default: the first variant).
    functions: names for ``python:NAME`` and ``json-schema:NAME`` checks (default: the
        notebook's variables).
    judge_concurrency: judge calls in flight at once (the local model judges one by one).
    cancel: a :class:`threading.Event`; setting it (from another thread: a Stop button)
        stops the comparison as a kernel interrupt does. (``stop=`` is the stop
        sequences, as in ``gm.generate``.)
    layout: how the live grid draws its runs, always one row per variant and one column
        per prompt × repeat: ``"full"`` (a card per run, its answer streaming),
        ``"compact"`` (a small cell per run: status and seconds, the answer on hover), or
        ``"summary"`` (a line per variant with counts and medians, the slowest and the
        failing runs). ``"auto"`` (default): full up to 24 runs, compact up to 500,
        summary above; full is drawn for at most 120 runs and compact for 500.

    Every run is validated before anything is sent (one bad setting stops it all, with the
    allowed range). A failed run shows its error in its cell and row; the others go on.
    Every run is recorded in the log (see :func:`gemma_magics.history`). On a kernel
    interrupt (at any point, the drawing of the tables at the end included) all runs stop,
    the partial ones are recorded as ``interrupted``, and
    :class:`gemma_magics.Interrupted` (a KeyboardInterrupt, shown as one line) is raised;
    its ``result`` is the DataFrame of the runs that finished or were stopped.

    The DataFrame has the columns of :func:`~gemma_magics.history` (``variant`` labels the
    provider/model/settings combination); ``df.attrs["compare"]`` holds the wall time and
    each run's queue and finish times. Scored comparisons add a ``pass[CHECK]`` column per
    check and judge, ``passed``, ``score`` and ``expected``; the scores are kept in the log
    (``history()`` joins them), and :func:`~gemma_magics.summary` gives each variant's pass
    rate with its 95 % interval, the difference from the baseline and its p-value.
    """
    from .grid import make_view

    if layout not in LAYOUTS:
        raise ValidationError(f"layout={layout!r} is not a grid layout",
                              fix=f"use one of {', '.join(map(repr, LAYOUTS))}")
    frame = run.compare(
        prompts, providers, models, grid, repeats, concurrency, per_provider, resume,
        view=lambda state: make_view(state, display, layout), session=session,
        dry_run=dry_run,
        budget=budget, budget_unknown=budget_unknown, checks=checks,
        expected=expected, judge=judge, judge_provider=judge_provider, judge_model=judge_model,
        pairwise=pairwise, baseline=baseline, functions=functions,
        judge_concurrency=judge_concurrency, cancel=cancel, **params)
    if dry_run:
        from .estimate_view import draw_estimate

        draw_estimate(frame, display)
    return frame
