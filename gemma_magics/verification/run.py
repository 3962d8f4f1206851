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
    **params: Any,
) -> VerifyResult:
    """The engine of :func:`gemma_magics.verify` (documented there)."""
    session = session or get_session()
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
    frames = []
    skipped: dict[str, list[str]] = {}
    for group in _groups(probes).values():
        able = [h for h in resolved if supports(h, group[0], session)]
        for h in resolved:
            if h not in able:
                skipped.setdefault(h.provider, []).extend(p.id for p in group)
        if not able:
            continue
        limits = {k: v for k, v in (per_provider or {}).items()
                  if k in {h.provider for h in able}}
        frame = engine.compare(
            [p.prompt for p in group], [h.provider for h in able],
            {h.provider: [h.model] for h in able}, grid, repeats, concurrency, limits or None,
            resume, view=view, session=session, **{**params, **group[0].settings()})
        frame["probe_id"] = frame["prompt"].map({p.prompt: p.id for p in group})
        frames.append(frame)
    runs = _concat(frames)
    return analyze(runs, probes, model=model, family=family_of(model), reference=reference,
                   alpha=alpha, seed=seed, skipped=skipped, repeats=repeats)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    if not frames:
        raise ValidationError("no host could run any probe",
                              fix="check the hosts' capabilities with %gemma models")
    runs = pd.concat(frames, ignore_index=True)
    runs["repeat"] = runs.groupby(["variant", "probe_id"], sort=False).cumcount()
    return runs
