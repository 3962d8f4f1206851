"""Providers and their models: prices, context windows, parameter ranges, capabilities.

The built-in table lives in ``catalog.toml`` beside this file; a user's config file can add
providers (their own endpoints) and models, or override prices, with the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import ConfigError

#: The sampling settings that have numeric ranges, in display order.
RANGED_PARAMS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
)
INTEGER_PARAMS = frozenset({"max_tokens", "top_k", "seed"})
KINDS = ("local", "cloudflare", "dataoorts", "openai")
#: How a retirement message names the provider.
PROVIDER_NAMES = {"cloudflare": "Cloudflare", "cloudflare-openai": "Cloudflare",
                  "google": "Google AI Studio", "aimlapi": "AIML API",
                  "openrouter": "OpenRouter", "ollama": "Ollama", "dataoorts": "Dataoorts"}


@dataclass(frozen=True)
class ParamRange:
    """Allowed values of one setting; ``default`` None means "the backend's own default"."""

    min: float | None = None
    max: float | None = None
    default: float | None = None

    def describe(self) -> str:
        lo = "" if self.min is None else _fmt(self.min)
        hi = "" if self.max is None else _fmt(self.max)
        text = f"{lo}–{hi}" if lo or hi else "any"
        return text if self.default is None else f"{text}, default {_fmt(self.default)}"

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 100_000 else f"{value:g}"


@dataclass(frozen=True)
class ModelInfo:
    """One model at one provider."""

    provider: str
    id: str
    context: int | None = None
    price_in: float = math.nan  # USD per million prompt tokens; NaN = unknown
    price_out: float = math.nan
    capabilities: frozenset[str] = frozenset()
    params: Mapping[str, ParamRange] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()
    instruction_tuned: bool | None = True  # None: not known (a GGUF the catalog has no entry for)
    known: bool = True  # False for an id the catalog has never heard of
    source: str = ""  # where the facts come from: "owner/repo path@commit" or a page
    unconfirmed: tuple[str, ...] = ()  # what no source showed
    retired: str | None = None  # retirement date ("" when none was published)
    replacement: str | None = None
    body: str = "workers"  # Workers AI native route: "workers" fields or "openai" (Gemma 4)
    json_field: str | None = None  # the key JSON mode travels in on Workers AI
    param_names: Mapping[str, str] = field(default_factory=dict)  # setting -> published name
    thinking: Mapping[str, Any] = field(default_factory=dict)  # the published thinking switch

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def retirement(self) -> str | None:
        """One line saying this model is retired and what to use, or None while it is served."""
        if self.retired is None:
            return None
        when = f" on {self.retired}" if self.retired else ""
        use = f"; use {self.replacement}" if self.replacement else ""
        return f"{self.id} was retired by {PROVIDER_NAMES.get(self.provider, self.provider)}{when}{use}"

    def range(self, name: str) -> ParamRange:
        return self.params.get(name, ParamRange())

    def cost(self, prompt_tokens: float | None, completion_tokens: float | None) -> float:
        """Cost in USD; NaN when a price or a token count is unknown."""
        if prompt_tokens is None or completion_tokens is None:
            return math.nan
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6


@dataclass(frozen=True)
class ProviderInfo:
    """A named backend: its wire format (``kind``), endpoint and credentials."""

    name: str
    kind: str
    description: str = ""
    base_url: str | None = None
    base_url_env: str | None = None
    api_key_env: tuple[str, ...] = ()
    account_id_env: str | None = None
    key_required: bool = True
    #: For a server run on this machine (ollama, llama.cpp, vLLM): the command that starts it.
    server: str | None = None
    default_model: str | None = None
    error_style: str = "openai"
    models: Mapping[str, ModelInfo] = field(default_factory=dict)
    extra_param_names: Mapping[str, str] = field(default_factory=dict)
    _defaults: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: entries built for ids the catalog does not list, one per id (a 10,000-run sweep of
    #: such a model built 10,000 identical ones: ~35 MiB and 0.8 s)
    _unlisted: dict[str, ModelInfo] = field(default_factory=dict, repr=False, compare=False)

    def served(self) -> list[str]:
        """The ids of the models it still serves (retired ones stay in ``models``)."""
        return [m.id for m in self.models.values() if m.retired is None]

    def model(self, model_id: str | None = None) -> ModelInfo:
        """The catalog entry for ``model_id`` (the default model when None).

        An id the catalog does not list still works (endpoints serve any model): it gets
        the provider's ranges and capabilities and unknown prices.
        """
        model_id = model_id or self.default_model
        if not model_id:
            raise ConfigError(
                f"provider {self.name!r} has no default model",
                fix=f"pass -m/--model (see %gemma models {self.name})",
            )
        if model_id in self.models:
            return self.models[model_id]
        found = self._unlisted.get(model_id)
        if found is None:  # ModelInfo is frozen: one entry serves every call
            found = self._unlisted[model_id] = _build_model(self.name, {"id": model_id},
                                                            self._defaults, known=False)
        return found


class Catalog:
    """All providers, built-in and user-defined."""

    def __init__(self, providers: Mapping[str, ProviderInfo]):
        self.providers = dict(providers)

    def provider(self, name: str) -> ProviderInfo:
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(self.providers)
            import difflib  # here: only a misspelt name needs it, not %load_ext

            close = difflib.get_close_matches(str(name), list(self.providers), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown provider {name!r}{hint}", fix=f"choose one of: {known}"
            ) from None

    def model(self, provider: str, model_id: str | None = None) -> ModelInfo:
        return self.provider(provider).model(model_id)

    def __contains__(self, name: str) -> bool:
        return name in self.providers

    def __iter__(self):
        return iter(self.providers.values())


def _merge(base: dict, extra: Mapping) -> dict:
    """Deep-merge ``extra`` into a copy of ``base``; model lists merge by ``id``."""
    out = dict(base)
    for key, value in extra.items():
        if key == "models" and isinstance(value, list):
            merged = {m["id"]: dict(m) for m in out.get("models", [])}
            for m in value:
                merged[m["id"]] = _merge(merged.get(m["id"], {}), m)
            out["models"] = list(merged.values())
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _ranges(*layers: Mapping[str, Any]) -> dict[str, ParamRange]:
    ranges: dict[str, ParamRange] = {}
    for name in RANGED_PARAMS:
        spec: dict[str, Any] = {}
        for layer in layers:
            if name in layer:
                spec = {**spec, **layer[name]} if isinstance(layer[name], Mapping) else spec
        if spec:
            ranges[name] = ParamRange(spec.get("min"), spec.get("max"), spec.get("default"))
    return ranges


def _price(value: Any) -> float:
    return math.nan if value is None else float(value)


def _build_model(provider: str, raw: Mapping, defaults: Mapping, known: bool = True) -> ModelInfo:
    return ModelInfo(
        provider=provider,
        id=raw["id"],
        context=raw.get("context", defaults.get("context")),
        price_in=_price(raw.get("price_in", defaults.get("price_in"))),
        price_out=_price(raw.get("price_out", defaults.get("price_out"))),
        capabilities=frozenset(
            raw.get("capabilities", defaults.get("capabilities", ("stream", "system")))
        ),
        params=_ranges(defaults.get("global_params", {}), defaults.get("params", {}),
                       raw.get("params", {})),
        unsupported=frozenset(raw.get("unsupported", ())) | frozenset(defaults.get("unsupported", ())),
        instruction_tuned=raw.get("instruction_tuned", True),
        known=known,
        source=str(raw.get("source", "")),
        unconfirmed=tuple(raw.get("unconfirmed", ())),
        retired=_retired(raw.get("retired")),
        replacement=raw.get("replacement"),
        body=raw.get("body", "workers"),
        json_field=raw.get("json_field"),
        param_names=dict(raw.get("param_names", {})),
        thinking=dict(raw.get("thinking", {})),
    )


def _retired(value: Any) -> str | None:
    """``retired = "2026-05-30"`` (a date), ``true`` (no date published) or absent."""
    if value is None or value is False:
        return None
    return "" if value is True else str(value)


def build_catalog(raw: Mapping[str, Any]) -> Catalog:
    """Turn the TOML layout (built-in merged with the user's) into a :class:`Catalog`."""
    global_params = raw.get("params", {})
    providers: dict[str, ProviderInfo] = {}
    for name, spec in raw.get("providers", {}).items():
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ConfigError(
                f"provider {name!r} has kind {kind!r}", fix=f"use one of: {', '.join(KINDS)}"
            )
        defaults = {**spec, "global_params": global_params}
        models = {m["id"]: _build_model(name, m, defaults) for m in spec.get("models", [])}
        keys = spec.get("api_key_env", ())
        providers[name] = ProviderInfo(
            name=name,
            kind=kind,
            description=spec.get("description", ""),
            base_url=spec.get("base_url"),
            base_url_env=spec.get("base_url_env"),
            api_key_env=(keys,) if isinstance(keys, str) else tuple(keys),
            account_id_env=spec.get("account_id_env"),
            key_required=spec.get("key_required", kind != "local"),
            server=spec.get("server"),
            default_model=spec.get("default_model") or next(iter(models), None),
            error_style=spec.get("error_style", "openai"),
            models=models,
            extra_param_names=spec.get("extra_param_names", {}),
            _defaults=defaults,
        )
    return Catalog(providers)


@lru_cache(maxsize=1)
def builtin_raw() -> dict[str, Any]:
    """The parsed built-in ``catalog.toml``."""
    from importlib.resources import files  # imported here: %load_ext parses nothing

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(files("gemma_magics.catalog").joinpath("catalog.toml").read_text("utf-8"))


def load_catalog(user: Mapping[str, Any] | None = None) -> Catalog:
    """The built-in catalog with a user's ``providers``/``params`` tables merged over it."""
    raw = builtin_raw()
    if user:
        raw = _merge(raw, {k: v for k, v in user.items() if k in ("providers", "params")})
    return build_catalog(raw)
