"""Running a host check: the probe suite on every host serving one model's weights, through
the comparison engine (records, resume, rate limits, the live grid of the caller's view).

The public entry point with the live grid is :func:`gemma_magics.verify`
(:mod:`gemma_magics.notebook.live_verify`); this module draws nothing itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import capabilities
from ..comparisons import run as engine
from ..comparisons.budget import check_budget, refuse_unknown
from ..comparisons.estimate import in_sequence
from ..comparisons.plan import as_names
from ..errors import CapabilityError, ValidationError
from ..session import Session, get_session
from .analysis import VerifyResult, analyze
from .checks import check_text
from .families import family_of, member
from .probes import Probe, load_probes, needle_words, with_needle

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Host:
    provider: str
    model: str
    context: int | None


def resolve_hosts(model: str, hosts: Sequence[str], session: Session) -> list[Host]:
    """Each host name (``provider`` or ``provider=model id``) with the id under which that
    provider serves ``model``'s family."""
    family = family_of(model)
    catalog = session.config.catalog
    out = []
    for item in hosts:
        provider, sep, given = item.partition("=")
        provider = provider.strip()
        info = catalog.provider(provider)  # an unknown provider: one clear error
        served = info.served() if hasattr(info, "served") else list(info.models)
        if sep:
            model_id = given.strip()
        elif model in served:
            model_id = model
        elif info.models:
            model_id = member(family, served) if family else None
            if model_id is None:
                gemmas = ", ".join(m for m in served if family_of(m)) or "none"
                gone = member(family, info.models) if family else None
                why = (info.model(gone).retirement() if gone else None) or (
                    f"{provider} serves no model of the family of {model!r} "
                    f"({family or 'not a Gemma id'})")
                raise ValidationError(f"{why}; {provider}'s Gemma models: {gemmas}",
                                      fix=f"name its id as {provider}=MODEL_ID, or leave "
                                          f"{provider} out")
        else:  # a provider whose catalog lists no models (vLLM, llama.cpp...): as given
            model_id = model
        out.append(Host(provider, model_id, catalog.model(provider, model_id).context))
    if len({h.provider for h in out}) != len(out):
        raise ValidationError("a provider is listed twice",
                              fix="compare one model per provider (vary seeds with grid=)")
    return out


def supports(host: Host, probe: Probe, session: Session) -> bool:
    """Whether the host can take the probe's features (tool calls, JSON mode)."""
    catalog = session.config.catalog
    info = catalog.provider(host.provider)
    try:
        capabilities.check(catalog, info, info.model(host.model), tools=probe.tool is not None,
                           json=probe.schema is not None)
    except CapabilityError:
        return False
    return True


def _groups(probes: list[Probe]) -> dict[str, list[Probe]]:
    groups: dict[str, list[Probe]] = {}
    for probe in probes:
        key = json.dumps(probe.settings(), sort_keys=True, default=str)
        groups.setdefault(key, []).append(probe)
    return groups


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
    view: Callable[[Any], Any] | None = None,
    session: Session | None = None,
    *,
    dry_run: bool = False,
    budget: float | None = None,
    budget_unknown: str = "refuse",
    **params: Any,
) -> VerifyResult | pd.DataFrame:
    """The engine of :func:`gemma_magics.verify` (documented there). With ``dry_run=True``
    nothing is sent and the estimate frame of :func:`gemma_magics.compare`'s dry run is
    returned (one row per host, every group of probes included)."""
    session = session or get_session()
    check_budget(budget, budget_unknown)
    names = as_names(hosts)
    if not names:
        raise ValidationError("no host to check", fix='give hosts=["aimlapi", "openrouter"]')
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha={alpha!r} must be between 0 and 1")
    resolved = resolve_hosts(model, names, session)
    probes = load_probes(prompts, checks)
    for probe in probes:
        if probe.check:
            check_text(probe.check)
    words = needle if needle is not None else needle_words([h.context for h in resolved])
    probes = [with_needle(p, words) for p in probes]
    if len({p.prompt for p in probes}) != len(probes):
        raise ValidationError("two probes have the same prompt", fix="make each prompt unique")
    skipped: dict[str, list[str]] = {}
    batches = []
    for group in _groups(probes).values():
        able = [h for h in resolved if supports(h, group[0], session)]
        for h in resolved:
            if h not in able:
                skipped.setdefault(h.provider, []).extend(p.id for p in group)
        if not able:
            continue
        limits = {k: v for k, v in (per_provider or {}).items()
                  if k in {h.provider for h in able}}
        batches.append(Batch(
            group, dict(prompts=[p.prompt for p in group], providers=[h.provider for h in able],
                        models={h.provider: [h.model] for h in able}, grid=grid,
                        repeats=repeats, concurrency=concurrency, per_provider=limits or None,
                        resume=resume, session=session, **{**params, **group[0].settings()})))
    if not batches:
        raise ValidationError("no host could run any probe",
                              fix="check the hosts' capabilities with %gemma models")
    if dry_run or budget is not None:
        # the groups run one after another: priced as one sweep, and a host without a price
        # stops the check before the first group is sent, not halfway
        priced = in_sequence([engine.price(**b.args) for b in batches], budget)
        if dry_run:
            return priced.frame()
        refuse_unknown(priced.runs, budget, budget_unknown)
    frames, spent = [], 0.0
    for batch in batches:
        left = None if budget is None else max(budget - spent, 0.0)
        frame = engine.compare(**batch.args, view=view, budget=left,
                               budget_unknown=budget_unknown)
        if left is not None:
            spent += frame.attrs["compare"]["budget"]["spent"]
        frame["probe_id"] = frame["prompt"].map({p.prompt: p.id for p in batch.probes})
        frames.append(frame)
    runs = _concat(frames)
    result = analyze(runs, probes, model=model, family=family_of(model), reference=reference,
                     alpha=alpha, seed=seed, skipped=skipped, repeats=repeats)
    if budget is not None:
        result.budget = {"limit": budget, "spent": spent}
    return result


@dataclass
class Batch:
    """One group of probes sharing their settings: one comparison."""

    probes: list[Probe]
    args: dict[str, Any]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    runs = pd.concat(frames, ignore_index=True)
    runs["repeat"] = runs.groupby(["variant", "probe_id"], sort=False).cumcount()
    return runs
