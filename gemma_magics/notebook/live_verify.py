"""``gemma_magics.verify()``: the host check drawn live (one grid per group of probes that
share their settings), then its verdicts.

The running itself is :func:`gemma_magics.verification.run.verify`; this wrapper only
chooses the view from ``display``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..session import Session
from ..verification import run
from ..verification.analysis import VerifyResult

if TYPE_CHECKING:
    import pandas as pd


def verify(
    model: str,
    hosts: str | Sequence[str],
    reference: str | None = None,
    repeats: int = 5,
    prompts: Any = None,
    checks: Sequence[str | None] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    concurrency: int = 8,
    per_provider: Mapping[str, int] | None = None,
    resume: bool = False,
    needle: int | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    display: Any = True,
    session: Session | None = None,
    *,
    dry_run: bool = False,
    budget: float | None = None,
    budget_unknown: str = "refuse",
    **params: Any,
) -> VerifyResult | pd.DataFrame:
    """Check whether several hosts serve the same Gemma: run a probe suite on each, and say
    per host whether it differs from the reference.

    model: the model id (any host's spelling); each host's own id of the same weights comes
        from the model family (``@cf/google/gemma-4-26b-a4b-it`` ≙ ``gemma4:26b``...).
    hosts: provider names, or ``provider=model_id`` to pin the id.
    reference: the host the others are measured against (default the first).
    repeats: runs of every probe per host (the sample size; 5 is a quick look).
    prompts / checks: your own probes instead of the shipped suite: prompts (strings,
        dicts with ``prompt``/``check``/...), and one check per prompt, e.g. ``"number:42"``,
        ``"icontains:paris"``, ``"regex:^YES$"``, ``"json-schema"``, ``"tool:NAME"``.
    grid: settings to vary as hosts of their own, e.g. ``{"seed": [1, 2]}``.
    needle: filler words of the long-context probe (default: half the smallest context of
        the hosts, at most 1,500 words).
    alpha: the chance an identical host is called different (two tests at alpha/2 each).
    seed: seeds the permutation test.
    display: as in :func:`gemma_magics.compare` (the live grid; False for none).
    dry_run: send nothing; return (and show) the estimate of every probe run on every host
        instead, as :func:`gemma_magics.compare`'s dry run does: one row per host with its
        runs, prompt tokens, expected completion tokens, cost low / expected / high from the
        catalog's prices and time expected from the log (the groups of probes run one after
        another, so their times add up).
    budget: a hard limit in USD over the whole check, as in :func:`gemma_magics.compare`:
        no run starts while spent + the worst case of the runs in flight would pass it; the
        runs left are recorded with status ``skipped`` and the reason (a host's verdict
        says how many were not sent), and ``resume=True`` with a new budget runs them.
    budget_unknown: ``"refuse"`` (default): with a budget, a host without a price stops the
        check before anything is sent; ``"allow"``: run it anyway, counting only the cost
        it reports as billed.

    Runs go through the comparison engine: they are recorded, ``resume=True`` skips those
    already done, rate limits slow one host down alone. The result prints one verdict per
    host, ``.table()`` gives the figures, ``gm.report(result, "verify.html")`` writes them
    to one shareable file. A host is either "different" (with the evidence) or
    "indistinguishable at this sample size": the test never shows two hosts serve the same
    model.
    """
    from .grid import make_view

    result = run.verify(model, hosts, reference, repeats, prompts, checks, grid, concurrency,
                        per_provider, resume, needle, alpha, seed,
                        view=lambda state: GridOnly(make_view(state, display)),
                        session=session, dry_run=dry_run, budget=budget,
                        budget_unknown=budget_unknown, **params)
    if dry_run:
        from .estimate_view import draw_estimate

        draw_estimate(result, display)
    return result


class GridOnly:
    """A comparison view without its closing tables: a host check shows its verdicts."""

    def __init__(self, view: Any):
        self.view = view

    def refresh(self, force: bool = False) -> None:
        self.view.refresh(force)

    def finish(self, frame: Any) -> None:
        self.view.refresh(force=True)
