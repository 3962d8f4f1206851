"""The built-in catalog checked against what a provider serves today.

Asks the provider itself: ``GET {base_url}/models`` on OpenAI-compatible services (OpenRouter
adds ``context_length`` and per-token ``pricing``), Workers AI's model search
``GET /client/v4/accounts/{id}/ai/models/search?search=gemma`` (each model with the
``context_window`` and ``price`` properties its page shows). Then, for the Gemma ids: which
the provider has that the catalog lacks, which the catalog lists that the provider no longer
has, and where context or price differ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog.models import ModelInfo, ProviderInfo
from ..errors import APIError, ConfigError
from ..providers.error_bodies import api_error
from ..session import Session

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveModel:
    """One model as the provider lists it (None: the listing does not say)."""

    id: str
    context: int | None = None
    price_in: float | None = None  # USD per million tokens
    price_out: float | None = None


@dataclass(frozen=True)
class ModelCheck:
    """One Gemma id, as the catalog and the provider see it."""

    id: str
    status: str  # listed | new | gone | retired | retired, still listed
    catalog_context: int | None
    live_context: int | None
    catalog_price: str
    live_price: str
    differs: str  # "" or what differs ("context", "price")


def fetch(session: Session, provider: str) -> list[LiveModel]:
    """What ``provider`` lists now (one HTTP request; errors as one-line APIErrors)."""
    import httpx  # imported here: importing the package stays light

    endpoint = session.config.endpoint(provider)
    info = endpoint.provider
    if info.kind == "local":
        raise ConfigError("the local model is one file, not a service",
                          fix="use --live with a hosted provider, e.g. cloudflare or ollama")
    headers = {"Authorization": f"Bearer {endpoint.api_key.reveal()}"} if endpoint.api_key \
        else {}
    workers = info.kind in ("cloudflare", "dataoorts") or info.error_style == "cloudflare"
    if info.kind == "dataoorts":
        raise ConfigError("Dataoorts publishes no model list", fix="check its web page")
    if workers:
        root = endpoint.base_url.split("/client/v4/")[0]
        url = f"{root}/client/v4/accounts/{endpoint.account_id}/ai/models/search"
        params = {"search": "gemma"}
    else:
        url, params = f"{endpoint.base_url}/models", {}
    try:
        response = httpx.get(url, headers=headers, params=params, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise APIError(f"could not reach {provider} to list its models: {type(exc).__name__}",
                       provider=provider, fix="check the network and the base URL") from None
    if response.status_code >= 400:
        raise api_error(provider, response.status_code, response.text, response.headers,
                        style=info.error_style)
    try:
        data = response.json()
    except ValueError:
        raise APIError(f"{provider} answered its model list with something not JSON",
                       provider=provider, fix="check the base URL") from None
    return workers_models(data) if workers else openai_models(data)


def openai_models(data: Any) -> list[LiveModel]:
    """``{"data": [{"id", "context_length"?, "pricing"?: {"prompt", "completion"}}]}``."""
    items = data.get("data") if isinstance(data, Mapping) else data
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        model_id = str(item["id"]).removeprefix("models/")  # Google lists models/gemma-…
        pricing = item.get("pricing") if isinstance(item.get("pricing"), Mapping) else {}
        out.append(LiveModel(model_id, _int(item.get("context_length")),
                             _per_million(pricing.get("prompt")),
                             _per_million(pricing.get("completion"))))
    return out


def workers_models(data: Any) -> list[LiveModel]:
    """Workers AI's search: ``{"result": [{"name", "properties": [{"property_id", "value"}]}]}``."""
    items = data.get("result") if isinstance(data, Mapping) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        props = {p.get("property_id"): p.get("value") for p in item.get("properties") or []
                 if isinstance(p, Mapping)}
        price_in = price_out = None
        for price in props.get("price") or []:
            unit = str(price.get("unit", "")) if isinstance(price, Mapping) else ""
            if "input" in unit:
                price_in = _float(price.get("price"))
            elif "output" in unit:
                price_out = _float(price.get("price"))
        out.append(LiveModel(str(item["name"]), _int(props.get("context_window")),
                             price_in, price_out))
    return out


def compare(info: ProviderInfo, live: list[LiveModel]) -> list[ModelCheck]:
    """The Gemma ids of the catalog and of the live list, side by side."""
    served = {m.id: m for m in live if "gemma" in m.id.lower()}
    rows = []
    for model_id in sorted(set(info.models) | set(served)):
        known: ModelInfo | None = info.models.get(model_id)
        now = served.get(model_id)
        if known is None:
            status = "new"
        elif now is None:
            status = "retired" if known.retired is not None else "gone"
        else:
            status = "retired, still listed" if known.retired is not None else "listed"
        differs = []
        if known and now and now.context and known.context and now.context != known.context:
            differs.append("context")
        if known and now and _price_differs(known, now):
            differs.append("price")
        rows.append(ModelCheck(
            model_id, status, known.context if known else None, now.context if now else None,
            _price_text(known.price_in, known.price_out) if known else "",
            _price_text(now.price_in, now.price_out) if now else "", ", ".join(differs)))
    return rows


def _price_differs(known: ModelInfo, now: LiveModel) -> bool:
    pairs = ((known.price_in, now.price_in), (known.price_out, now.price_out))
    return any(b is not None and (math.isnan(a) or not math.isclose(a, b, rel_tol=1e-6))
               for a, b in pairs)


def _price_text(price_in: float | None, price_out: float | None) -> str:
    def one(v: float | None) -> str:
        return "?" if v is None or math.isnan(v) else f"{v:g}"

    return "" if (price_in is None and price_out is None) else f"{one(price_in)} / {one(price_out)}"


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _per_million(value: Any) -> float | None:
    per_token = _float(value)
    return None if per_token is None else round(per_token * 1e6, 9)
