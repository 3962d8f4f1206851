"""The sampling settings as one typed object, validated against the catalog before a request."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .catalog.models import INTEGER_PARAMS, RANGED_PARAMS, ModelInfo
from .errors import ValidationError

#: Settings a caller may pass to generate()/stream() and the magics, beyond the ranged ones.
TEXT_PARAMS = ("stop", "system")
PARAM_NAMES = RANGED_PARAMS + TEXT_PARAMS


@dataclass(frozen=True)
class Params:
    """Sampling settings. ``None`` means "not set": the model's default fills it in."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] | None = None
    system: str | None = None

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Params:
        """Build from keyword arguments, refusing unknown names with the list of known ones."""
        unknown = sorted(set(kwargs) - set(PARAM_NAMES))
        if unknown:
            raise ValidationError(
                f"unknown setting {unknown[0]!r}", fix=f"known settings: {', '.join(PARAM_NAMES)}"
            )
        stop = kwargs.get("stop")
        if isinstance(stop, str):
            kwargs["stop"] = (stop,)
        elif stop is not None:
            kwargs["stop"] = tuple(stop)
        return cls(**kwargs)

    def merged_over(self, defaults: Params | dict[str, Any] | None) -> Params:
        """These settings, with ``defaults`` filling the ones left unset."""
        if defaults is None:
            return self
        base = defaults if isinstance(defaults, Params) else Params.from_kwargs(**defaults)
        return replace(base, **self.explicit())

    def explicit(self) -> dict[str, Any]:
        """Only the settings that were set."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValidationError(f"{name}={value!r} is not a number", fix=f"give {name} a number")
    try:
        number = int(value) if name in INTEGER_PARAMS else float(value)
    except (TypeError, ValueError):
        kind = "an integer" if name in INTEGER_PARAMS else "a number"
        raise ValidationError(f"{name}={value!r} is not {kind}", fix=f"give {name} {kind}") from None
    if name in INTEGER_PARAMS and isinstance(value, float) and not value.is_integer():
        raise ValidationError(f"{name}={value!r} is not an integer", fix=f"give {name} an integer")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValidationError(f"{name}={value!r} is not finite", fix=f"give {name} a finite number")
    return number


def resolve(params: Params, model: ModelInfo) -> tuple[Params, list[str]]:
    """Validate ``params`` against ``model``'s ranges and fill its documented defaults.

    Returns the effective settings and warnings about settings the backend ignores.
    Raises :class:`ValidationError` naming the allowed range when a value is out of it.
    """
    values = params.as_dict()
    warnings: list[str] = []
    where = f"{model.provider} {model.id}"
    for name in RANGED_PARAMS:
        allowed = model.range(name)
        value = values[name]
        if value is None:
            values[name] = allowed.default
            continue
        number = _coerce(name, value)
        values[name] = number
        if name in model.unsupported:  # dropped from the body: its range does not matter
            warnings.append(f"{name} is not honoured by {where}; it will be ignored")
            continue
        if not allowed.contains(number):
            raise ValidationError(
                f"{name}={value} is out of range for {where}",
                fix=f"allowed {allowed.describe()}",
            )
    if values["stop"] is not None:
        values["stop"] = tuple(str(s) for s in values["stop"])
    if values["system"] is not None and not model.supports("system"):
        warnings.append(
            f"{where} has no system role; the system prompt is folded into the first user turn"
        )
    return Params(**values), warnings


#: llama.cpp's ``LLAMA_DEFAULT_SEED`` (0xFFFFFFFF): "pick a random seed", not a seed.
LLAMA_RANDOM_SEED = 4294967295


def reproducible_seed(seed: int | None, kind: str) -> bool:
    """Whether ``seed`` fixes the sampled text on a backend of ``kind``."""
    return seed is not None and not (kind == "local" and seed == LLAMA_RANDOM_SEED)


def check_seed(params: Params, kind: str, where: str) -> None:
    """Refuse a seed the backend treats as "random" (one line, before anything is sent)."""
    if params.seed is not None and not reproducible_seed(params.seed, kind):
        raise ValidationError(
            f"seed={params.seed} is llama.cpp's 'random seed' value for {where}: every call "
            "would sample different text",
            fix=f"use a seed from 0 to {LLAMA_RANDOM_SEED - 1}, or leave seed unset for random",
        )


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Params))
