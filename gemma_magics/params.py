"""The sampling settings as one typed object, validated against the catalog before a request."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .catalog import thinking
from .catalog.models import INTEGER_PARAMS, RANGED_PARAMS, ModelInfo
from .errors import ValidationError

#: Settings a caller may pass to generate()/stream() and the magics, beyond the ranged ones.
TEXT_PARAMS = ("stop", "system")
#: ``think``: True/False (or "on"/"off"), whether a thinking model reasons before answering.
SWITCH_PARAMS = ("think",)
PARAM_NAMES = RANGED_PARAMS + TEXT_PARAMS + SWITCH_PARAMS
_ON = ("on", "true", "yes", "1")
_OFF = ("off", "false", "no", "0")


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
    think: bool | None = None

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
        if kwargs.get("think") is not None:
            kwargs["think"] = think_value(kwargs["think"])
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


def think_value(value: Any) -> bool:
    """``think`` as a bool: True/False, or "on"/"off" (as the magics and the panel give it)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise ValidationError(f"think={value!r} is not on or off", fix="use --think on|off "
                          "(think=True or think=False in Python)")


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
    bad: list[ValidationError] = []  # every bad value is reported, not only the first
    for name in RANGED_PARAMS:
        allowed = model.range(name)
        value = values[name]
        if value is None:
            values[name] = allowed.default
            continue
        try:
            number = _coerce(name, value)
        except ValidationError as exc:
            bad.append(exc)
            continue
        values[name] = number
        if name in model.unsupported:  # dropped from the body: its range does not matter
            warnings.append(f"{name} is not honoured by {where}; it will be ignored")
            continue
        if not allowed.contains(number):
            bad.append(ValidationError(f"{name}={value} is out of range for {where}",
                                       fix=f"allowed {allowed.describe()}"))
    if len(bad) == 1:
        raise bad[0]
    if bad:
        raise ValidationError(f"{len(bad)} settings are wrong: " + "; ".join(map(str, bad)),
                              fix="fix them all; %gemma models PROVIDER lists the ranges")
    if values["stop"] is not None:
        values["stop"] = tuple(str(s) for s in values["stop"])
    if values["system"] is not None and not thinking.takes_system(model):
        instead = thinking.refuses_system(model)
        if instead:
            raise ValidationError(f"{where} refuses a system prompt",
                                  fix=f"drop --system, or use -m {instead}")
        warnings.append(
            f"{where} has no system role; the system prompt is folded into the first user turn"
        )
    values["think"] = _resolve_think(values["think"], model, where)
    return Params(**values), warnings


def _resolve_think(think: bool | None, model: ModelInfo, where: str) -> bool | None:
    """The explicit switch for a thinking model (its default when unset); refused for a
    model that does not think or has no switch."""
    if think is None:
        return thinking.default_think(model)
    if not thinking.think_switch(model):
        lead = (f"{where} takes no thinking switch" if thinking.thinks(model)
                else f"{where} does not think")
        raise ValidationError(f"--think is not available: {lead}",
                              fix="drop --think, or use a Gemma 4 model (e.g. -m gemma-4-31b-it "
                                  "on google, google/gemma-4-31b-it on openrouter)")
    return think


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


#: More stop sequences than any provider takes (OpenAI: 4, Workers AI: 16 counting ours).
MAX_STOPS = 16
MAX_STOP_CHARS = 256
#: No Gemma token is longer than this many bytes: a prompt of more than this × the model's
#: context cannot fit, which is known without a tokenizer.
MAX_TOKEN_BYTES = 64
#: The context assumed for a model whose catalog entry gives none (Gemma 3's 128K).
DEFAULT_CONTEXT = 131072


def check_stops(params: Params) -> None:
    """Refuse stop lists no provider takes, before anything is sent."""
    stops = params.stop or ()
    if len(stops) > MAX_STOPS:
        raise ValidationError(f"{len(stops)} stop sequences; providers take at most {MAX_STOPS}",
                              fix="keep the few that matter")
    long = next((s for s in stops if len(s) > MAX_STOP_CHARS), None)
    if long is not None:
        raise ValidationError(f"a stop sequence of {len(long):,} characters (at most "
                              f"{MAX_STOP_CHARS})", fix="use a short marker as the stop")


def check_prompt_size(prompt: str, messages: Any, model: Any) -> None:
    """Refuse a prompt that cannot fit the model's context whatever its tokens, before it
    is tokenized, recorded or uploaded (a 50 MB prompt took seconds and memory to fail)."""
    size = len(prompt.encode("utf-8", "replace"))
    for message in messages or ():
        content = message.get("content") if isinstance(message, dict) else None
        size += len(content.encode("utf-8", "replace")) if isinstance(content, str) else 0
    context = getattr(model, "context", None) or DEFAULT_CONTEXT
    if size > MAX_TOKEN_BYTES * context:
        raise ValidationError(
            f"the prompt is {size / 1e6:.1f} MB, more than {model.id}'s {context:,}-token "
            "context could hold", fix="send a shorter prompt (or a summary of the text)")


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Params))
