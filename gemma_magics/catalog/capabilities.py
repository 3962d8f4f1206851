"""Refuse, before anything is sent, what the chosen backend cannot do, naming where it works.

The catalog's ``capabilities`` (``images``, ``tools``, ``json``, ``lora``) decide; a model id
the catalog does not know is given the benefit of the doubt (the provider decides), except
on the local llama.cpp backend, which is text-only and has no tool calling.
"""

from __future__ import annotations

from ..errors import CapabilityError
from .models import Catalog, ModelInfo, ProviderInfo

LORA_BASES = "@cf/google/gemma-2b-it-lora or @cf/google/gemma-7b-it-lora"
#: OpenAI-compatible services without the ``/completions`` route a raw prompt needs.
NO_RAW_ROUTE = {"cloudflare-openai": "use -p cloudflare --raw (the native route takes raw)",
                "google": "AI Studio has only chat completions; drop --raw"}
_WHAT = {"images": "images", "tools": "tool calls", "json": "JSON mode"}


def where_supported(catalog: Catalog, capability: str) -> str:
    """E.g. ``cloudflare -m @cf/google/gemma-3-12b-it, aimlapi, openai``."""
    places = []
    for info in catalog:
        if info.kind == "local":
            continue
        models = [m for m in info.models.values() if m.retired is None] or [info.model()]
        able = [m for m in models if m.supports(capability)]
        if not able:
            continue
        places.append(info.name if len(able) == len(models) else f"{info.name} -m {able[0].id}")
    return ", ".join(places) or "no provider in the catalog"


def _refuse(info: ProviderInfo, model: ModelInfo, capability: str, catalog: Catalog) -> None:
    what = _WHAT[capability]
    lead = (f"{info.name} {model.id} is text-only: it does not accept images" if capability == "images"
            else f"{info.name} {model.id} has no {what}")
    raise CapabilityError(lead, fix=f"{what} work on: {where_supported(catalog, capability)}")


def check_served(model: ModelInfo) -> None:
    """Refuse a model the provider has retired, naming the date and the replacement (before
    anything is sent; records of earlier calls to it still load)."""
    line = model.retirement()
    if line:
        raise CapabilityError(line)


def check(catalog: Catalog, info: ProviderInfo, model: ModelInfo, *, images: bool = False,
          tools: bool = False, json: bool = False, lora: str | None = None,
          raw: bool = False) -> None:
    """Raise :class:`CapabilityError` for the first feature the backend lacks."""
    local = info.kind == "local"
    for wanted, capability in ((images, "images"), (tools, "tools"), (json, "json")):
        if not wanted:
            continue
        lacking = not model.supports(capability)
        if (local and capability != "json") or (lacking and (model.known or local)):
            _refuse(info, model, capability, catalog)
    if images and raw:
        raise CapabilityError("images cannot go with a raw prompt",
                              fix="drop --raw: images travel as chat message parts")
    if raw and "raw" in model.unsupported:
        raise CapabilityError(f"{info.name} {model.id} takes no raw prompt",
                              fix="drop --raw: the provider applies the chat template itself")
    if raw and info.name in NO_RAW_ROUTE:
        raise CapabilityError(f"{info.name} takes no raw prompt", fix=NO_RAW_ROUTE[info.name])
    if lora:
        if info.kind != "cloudflare":
            raise CapabilityError(
                f"LoRA adapters are a Workers AI feature; {info.name} takes none",
                fix=f"use -p cloudflare -m {LORA_BASES}")
        if model.known and not model.supports("lora"):
            raise CapabilityError(f"{model.id} takes no LoRA adapter",
                                  fix=f"use -m {LORA_BASES}")
