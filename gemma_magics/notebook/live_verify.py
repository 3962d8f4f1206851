"""``gemma_magics.verify()``: the host check drawn live (one grid per group of probes that
share their settings), then its verdicts.

The running itself is :func:`gemma_magics.verification.run.verify`; this wrapper only
chooses the view from ``display``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..session import Session
from ..verification import run
from ..verification.analysis import VerifyResult


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
    **params: Any,
) -> VerifyResult:
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

    Runs go through the comparison engine: they are recorded, ``resume=True`` skips those
    already done, rate limits slow one host down alone. The result prints one verdict per
    host, ``.table()`` gives the figures, ``gm.report(result, "verify.html")`` writes them
    to one shareable file. A host is either "different" (with the evidence) or
    "indistinguishable at this sample size": the test never shows two hosts serve the same
    model.
    """
    from .grid import make_view

    return run.verify(model, hosts, reference, repeats, prompts, checks, grid, concurrency,
                      per_provider, resume, needle, alpha, seed,
                      view=lambda state: GridOnly(make_view(state, display)), session=session,
                      **params)


class GridOnly:
    """A comparison view without its closing tables: a host check shows its verdicts."""

    def __init__(self, view: Any):
        self.view = view

    def refresh(self, force: bool = False) -> None:
        self.view.refresh(force)

    def finish(self, frame: Any) -> None:
        self.view.refresh(force=True)
