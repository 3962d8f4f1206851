"""Expanding a comparison into runs: prompts × providers/models × settings × repeats.

Every run is validated (:func:`gemma_magics.api.prepare`) while the plan is built, so a bad
setting, an unknown model or missing credentials stop the whole comparison before any
request leaves. Nothing here sends anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api import PreparedCall, prepare
from ..catalog.models import RANGED_PARAMS
from ..errors import ValidationError
from ..records.log import STATUS_OK, Record
from ..session import Session

#: Settings that can be grid axes (a list of values: one run per value).
AXIS_NAMES = (*RANGED_PARAMS, "system", "stop", "think")


@dataclass(slots=True)  # 10,000 of them in a sweep: no per-instance dict
class Run:
    """One cell of the grid: a prompt sent to one provider/model with one set of settings."""

    index: int
    prompt_index: int
    prompt: str
    provider: str
    model: str
    settings: dict[str, Any]  # this run's value of each axis
    repeat: int
    variant: str
    #: None once the scheduler has sent it: its record is in the grid's cell, and a sweep
    #: need not hold 10,000 requests and provider objects to its end
    call: PreparedCall | None
    previous: Record | None = None  # resume: the finished record that stands for this run
    refused: str | None = None  # why it is not sent (context window), decided before sending

    @property
    def key(self) -> str:
        # (read while planning and resuming, before anything is sent)
        return (self.call.record.request_key or "") if self.call is not None else ""

    @property
    def skipped(self) -> bool:
        return self.previous is not None


# -- inputs -------------------------------------------------------------------------------


def as_prompts(prompts: Any) -> list[str]:
    """A prompt, a list of prompts, a pandas Series or a one-column DataFrame as a list."""
    if isinstance(prompts, str):
        prompts = [prompts]
    elif hasattr(prompts, "columns"):  # a DataFrame
        if len(prompts.columns) != 1:
            raise ValidationError(
                f"got a DataFrame with {len(prompts.columns)} columns",
                fix="pass one column, e.g. df['prompt']",
            )
        prompts = prompts.iloc[:, 0]
    if hasattr(prompts, "tolist"):  # a Series or an array
        prompts = prompts.tolist()
    if not isinstance(prompts, Iterable):
        raise ValidationError(
            f"prompts must be text or a list of texts, not {type(prompts).__name__}"
        )
    out = list(prompts)
    bad = [p for p in out if not isinstance(p, str)]
    if bad:
        raise ValidationError(
            f"prompt {bad[0]!r} is not text", fix="convert the column with .astype(str)"
        )
    if not out or not any(p.strip() for p in out):
        raise ValidationError("no prompt to send", fix="give at least one non-empty prompt")
    return out


def as_names(value: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` as a list without blanks or repeats, order kept."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def assign_models(
    providers: list[str], models: str | Sequence[str] | Mapping[str, Any] | None,
    session: Session,
) -> list[tuple[str, str | None]]:
    """(provider, model id or None for its default) pairs.

    ``models`` may map provider → ids, or list ids (``"provider=id"`` pins one to a
    provider); a bare id goes to every listed provider whose catalog has it, or to the only
    provider. Providers that get no model use their default.
    """
    if models is None:
        return [(p, None) for p in providers]
    wanted: dict[str, list[str]] = {p: [] for p in providers}
    if isinstance(models, Mapping):
        for provider, ids in models.items():
            if provider not in wanted:
                raise ValidationError(
                    f"models given for {provider!r}, which is not among the providers",
                    fix=f"add it to providers or use one of: {', '.join(providers)}",
                )
            wanted[provider] += as_names(ids)
    else:
        catalog = session.config.catalog
        for item in as_names(models):
            provider, sep, model_id = item.partition("=")
            if sep:
                provider, model_id = provider.strip(), model_id.strip()
                if provider not in wanted:
                    raise ValidationError(
                        f"model {item!r} names provider {provider!r}, which is not among "
                        "the providers", fix=f"use one of: {', '.join(providers)}",
                    )
                wanted[provider].append(model_id)
                continue
            homes = [p for p in providers if item in catalog.provider(p).models]
            if not homes and len(providers) == 1:
                homes = providers
            if not homes:
                raise ValidationError(
                    f"model {item!r} is in the catalog of none of {', '.join(providers)}",
                    fix=f"write it as PROVIDER={item} (see %gemma models)",
                )
            for p in homes:
                wanted[p].append(item)
    return [(p, m) for p in providers for m in (list(dict.fromkeys(wanted[p])) or [None])]


def split_axes(
    grid: Mapping[str, Sequence[Any]] | None, params: Mapping[str, Any]
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Grid axes (name → values) and fixed keyword arguments.

    A list-valued setting among ``params`` is an axis too, except ``stop``, whose plain list
    is one set of stop sequences (give ``stop=[["a"], ["b"]]`` to vary it).
    """
    axes: dict[str, list[Any]] = {}
    for name, values in (grid or {}).items():
        if name not in AXIS_NAMES:
            raise ValidationError(
                f"cannot vary {name!r}", fix=f"grid axes are: {', '.join(AXIS_NAMES)}"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        axes[name] = list(values)
    fixed: dict[str, Any] = {}
    for name, value in params.items():
        listy = isinstance(value, (list, tuple)) and name in AXIS_NAMES
        if listy and name == "stop":
            listy = bool(value) and all(isinstance(v, (list, tuple)) for v in value)
        if listy:
            if name in axes:
                raise ValidationError(f"{name} is given both in grid and as an argument")
            axes[name] = list(value)
        else:
            fixed[name] = value
    for name, values in axes.items():
        if not values:
            raise ValidationError(f"the grid axis {name!r} has no values")
        if name in fixed:
            raise ValidationError(f"{name} is given both as a grid axis and as a fixed value")
    return axes, fixed


# -- labels ---------------------------------------------------------------------------------


def short_model(model_id: str) -> str:
    return model_id.rsplit("/", 1)[-1]


def format_value(value: Any) -> str:
    if isinstance(value, bool):  # the think switch
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "|".join(map(str, value))
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "…"


def variant_label(provider: str, model: str | None, combo: Mapping[str, Any]) -> str:
    """E.g. ``cloudflare · gemma-7b-it · temperature=0.9 · seed=2`` (model given only when
    it varies within the provider)."""
    parts = [provider]
    if model:
        parts.append(model)
    parts += [f"{k}={format_value(v)}" for k, v in combo.items()]
    return " · ".join(parts)


# -- the plan -------------------------------------------------------------------------------


def plan(
    prompts: Any,
    providers: str | Sequence[str] | None,
    models: str | Sequence[str] | Mapping[str, Any] | None,
    grid: Mapping[str, Sequence[Any]] | None,
    repeats: int,
    params: Mapping[str, Any],
    session: Session,
) -> list[Run]:
    """Every run, in display order (prompt, repeat, variant), each validated and prepared."""
    texts = as_prompts(prompts)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValidationError(f"repeats={repeats!r} must be a whole number ≥ 1")
    names = as_names(providers) or [session.default_provider()]
    for name in names:
        session.config.catalog.provider(name)  # unknown provider: one clear error
    pairs = assign_models(names, models, session)
    axes, fixed = split_axes(grid, params)
    # a comparison measures: repeats must reach the backend, even with the session's response
    # cache on (resume=True is how a comparison reuses earlier runs); cache=True still opts in
    fixed.setdefault("cache", False)
    combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    per_provider = {p: sum(1 for q, _ in pairs if q == p) for p in names}

    variants: list[tuple[str, str | None, dict[str, Any], str]] = []
    for provider, model in pairs:
        for combo in combos:
            shown = {k: v for k, v in combo.items() if len(axes[k]) > 1}
            label_model = short_model(model) if model and per_provider[provider] > 1 else None
            variants.append((provider, model, combo, variant_label(provider, label_model, shown)))
    _check_unique([v[3] for v in variants])

    runs: list[Run] = []
    for prompt_index, text in enumerate(texts):
        for repeat in range(repeats):
            for provider, model, combo, label in variants:
                call = prepare(text, provider, model, session=session, variant=label,
                               **fixed, **combo)
                runs.append(Run(
                    index=len(runs), prompt_index=prompt_index, prompt=text,
                    provider=provider, model=call.record.model, settings=dict(combo),
                    repeat=repeat, variant=label, call=call,
                ))
    return runs


def _check_unique(labels: list[str]) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise ValidationError(
                f"two variants would both be {label!r}", fix="list each model only once"
            )
        seen.add(label)


def mark_finished(runs: list[Run], records: Iterable[Record]) -> int:
    """Resume: attach an earlier ok record to each run it stands for; returns how many.

    Matching is by ``request_key`` (provider, model, prompt and every setting), so a run
    counts as done only when an identical call finished; with repeats, each earlier record
    stands for one repeat.
    """
    finished: dict[str, list[Record]] = {}
    for record in records:
        if record.status == STATUS_OK and record.request_key:
            finished.setdefault(record.request_key, []).append(record)
    count = 0
    for run in runs:
        pool = finished.get(run.key)
        if pool:
            run.previous = pool.pop(0)
            count += 1
    return count
