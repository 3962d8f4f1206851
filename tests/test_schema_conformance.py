"""Every body we build for a Workers AI Gemma model fits that model's published input schema,
strictly (unknown keys are violations).

The schemas are Cloudflare's (cloudflare/cloudflare-docs, ``src/content/workers-ai-models``;
transcribed in ``gemma_magics/emulator/schemas`` with their source and commit), closed by
``schemas.closed``. Bodies come from the real wire formats (``CloudflareWire.build`` for
``ai/run``, ``OpenAIWire.build`` for ``/ai/v1``), fed :class:`Request` objects as ``api.py``
builds them (settings resolved against the catalog). For each model the matrix covers: a plain
prompt, a system prompt, a chat, every ranged setting at both ends of its range, stop
sequences, stream on and off, JSON mode, a JSON Schema, tools and the tool-result round,
images, raw (with and without a system prompt) and LoRA (alone and with a system prompt).
A case the catalog says the model lacks must be refused before sending instead.
"""

from __future__ import annotations

import itertools

import pytest

from gemma_magics.catalog import capabilities
from gemma_magics.catalog.models import RANGED_PARAMS, ModelInfo, load_catalog
from gemma_magics.emulator import schemas
from gemma_magics.errors import CapabilityError
from gemma_magics.params import Params, resolve
from gemma_magics.providers.base import Request
from gemma_magics.providers.cloudflare import CloudflareWire
from gemma_magics.providers.openai import OpenAIWire

CATALOG = load_catalog()
PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}
TOOL = {"name": "get_weather", "description": "Weather now", "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                     "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city"]}}
CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Again"}]
#: The tool-result round as tool_turns() writes it, once with the provider's call id and
#: once without (Workers AI's older models send none).
TOOL_ROUNDS = {
    "with id": [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
                {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
                 "content": '{"temp": 21}'}],
    "without id": [{"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": "", "tool_calls": [
                       {"id": None, "name": "get_weather", "arguments": {"city": "Paris"}}]},
                   {"role": "tool", "tool_call_id": None, "name": "get_weather",
                    "content": '{"temp": 21}'}],
}
ROUTES = {"cloudflare": CloudflareWire("cloudflare", "acct"),
          "cloudflare-openai": OpenAIWire("cloudflare-openai", "cloudflare")}
BASE = {"cloudflare": "https://api.cloudflare.com",
        "cloudflare-openai": "https://api.cloudflare.com/client/v4/accounts/acct/ai/v1"}


def published_models() -> list[ModelInfo]:
    """Every catalog model, on a Workers AI route, that has a published schema. The
    older models' schemas describe ``ai/run`` only, so ``/ai/v1`` is checked for Gemma 4."""
    out = []
    for route in ROUTES:
        for model in CATALOG.provider(route).models.values():
            if schemas.published(model.id) is None:
                continue
            if route == "cloudflare-openai" and "model" not in _branch_keys(model.id):
                continue
            out.append(model)
    return out


def _branch_keys(model_id: str) -> set[str]:
    return {k for b in schemas.published(model_id)["oneOf"] for k in b["properties"]}


def cases(model: ModelInfo):
    """(label, request kwargs, settings, wanted capability or None) for the whole matrix."""
    yield "plain", {}, {}, None
    yield "system", {}, {"system": "Be brief."}, None
    yield "chat", {"messages": CHAT, "chat": True}, {}, None
    yield "chat+system", {"messages": CHAT, "chat": True}, {"system": "Be brief."}, None
    for name in RANGED_PARAMS:
        allowed = model.range(name)
        for end, value in (("min", allowed.min), ("max", allowed.max)):
            if value is not None:
                yield f"{name}={end}", {}, {name: value}, None
    every = {name: model.range(name).max for name in RANGED_PARAMS
             if model.range(name).max is not None}
    yield "every setting at max, with a system prompt", {}, {**every, "system": "x"}, None
    yield "stop (4)", {}, {"stop": ["a", "b", "c", "d"]}, None
    yield "stop (5, cut on our side)", {}, {"stop": ["a", "b", "c", "d", "e"]}, None
    for stream, rest in itertools.product((True, False), ("plain", "system")):
        settings = {"system": "x"} if rest == "system" else {}
        yield f"stream={stream} {rest}", {"stream": stream}, settings, None
    yield "json", {"response_format": {"type": "json_object"}}, {}, "json"
    yield "json+system", {"response_format": {"type": "json_object"}}, {"system": "x"}, "json"
    yield "schema", {"response_format": {"type": "json_schema", "schema": SCHEMA,
                                         "name": "person"}}, {}, "json"
    yield "tools", {"tools": [TOOL]}, {}, "tools"
    yield "tools+stream", {"tools": [TOOL], "stream": True}, {}, "tools"
    for label, turns in TOOL_ROUNDS.items():
        yield f"tool-result round ({label})", {"tools": [TOOL], "messages": turns}, {}, "tools"
    yield "images", {"images": [PNG]}, {}, "images"
    yield "images+system", {"images": [PNG]}, {"system": "x"}, "images"
    yield "raw", {"raw": True, "prompt": "<start_of_turn>user\nHi<end_of_turn>\n"}, {}, "raw"
    yield "raw+system", {"raw": True}, {"system": "x"}, "raw"
    yield "raw chat", {"raw": True, "messages": CHAT, "chat": True}, {}, "raw"
    yield "lora", {"lora": "my-adapter"}, {}, "lora"
    yield "lora+stream", {"lora": "my-adapter", "stream": True}, {}, "lora"
    yield "lora+system (refused)", {"lora": "my-adapter"}, {"system": "x"}, "refused"
    yield "lora+chat (refused)", {"lora": "my-adapter", "messages": CHAT, "chat": True}, {}, \
        "refused"


def able(model: ModelInfo, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "raw":
        return "raw" not in model.unsupported
    if wanted == "refused":
        return False
    return model.supports(wanted)


def build(route: str, model: ModelInfo, kwargs: dict, settings: dict) -> dict:
    kwargs = dict(kwargs)
    prompt = kwargs.pop("prompt", "Hi")
    if "messages" in kwargs:
        prompt = kwargs["messages"][-1]["content"] if kwargs["messages"][-1]["role"] == "user" \
            else prompt
    params, _ = resolve(Params.from_kwargs(**settings), model)
    capabilities.check(CATALOG, CATALOG.provider(route), model, images=bool(kwargs.get("images")),
                       tools=bool(kwargs.get("tools")), json=bool(kwargs.get("response_format")),
                       lora=kwargs.get("lora"), raw=bool(kwargs.get("raw")))  # as api.py does
    request = Request(prompt=prompt, params=params, model=model,
                      **{"stream": False, **kwargs})
    return ROUTES[route].build(request, BASE[route], None).body


def check_model(model: ModelInfo) -> tuple[int, int, list[str]]:
    """(bodies checked, refusals seen, violations) for one model's whole matrix."""
    bodies = refusals = 0
    violations: list[str] = []
    for label, kwargs, settings, wanted in cases(model):
        if not able(model, wanted):
            with pytest.raises(CapabilityError):
                build(model.provider, model, kwargs, settings)
            refusals += 1
            continue
        body = build(model.provider, model, kwargs, settings)
        bodies += 1
        violations += [f"{model.provider} {model.id} [{label}]: {v}"
                       for v in schemas.violations(body, model.id)]
    return bodies, refusals, violations


@pytest.mark.parametrize("model", published_models(), ids=lambda m: f"{m.provider}:{m.id}")
def test_every_body_fits_the_published_schema(model, capsys):
    bodies, refusals, violations = check_model(model)
    with capsys.disabled():
        print(f"\n{model.provider} {model.id}: {bodies} bodies checked, {refusals} refused "
              f"before sending, {len(violations)} violations")
    assert violations == []
    assert bodies >= 20  # the matrix really ran: plain, system, chat, every setting edge...


def test_the_matrix_covers_every_catalog_model_with_a_schema():
    covered = {(m.provider, m.id) for m in published_models()}
    assert ("cloudflare", "@cf/google/gemma-4-26b-a4b-it") in covered
    assert ("cloudflare-openai", "@cf/google/gemma-4-26b-a4b-it") in covered
    assert {m for _, m in covered} == set(schemas.SCHEMAS)
    total = sum(check_model(m)[0] for m in published_models())
    print(f"\nschema conformance: {total} bodies checked across {len(covered)} model routes")


@pytest.mark.parametrize(("model", "body", "key"), [
    # the four ways the 2025 bodies broke the schemas (issue 14), and Gemma 4's old shape
    ("@cf/google/gemma-3-12b-it", {"prompt": "x", "response_format": {"type": "json_object"}},
     "response_format"),
    ("@hf/google/gemma-7b-it", {"prompt": "x", "response_format": {"type": "json_object"}},
     "response_format"),
    ("@cf/google/gemma-3-12b-it", {"prompt": "x", "tools": []}, "tools"),
    ("@cf/google/gemma-3-12b-it", {"messages": [
        {"role": "tool", "name": "f", "tool_call_id": "c", "content": "1"}]}, "name"),
    ("@cf/google/gemma-2b-it-lora", {"messages": [{"role": "user", "content": "x"}],
                                     "lora": "a"}, "lora"),
    ("@cf/google/gemma-4-26b-a4b-it", {"prompt": "x", "top_k": 5}, "top_k"),
    ("@cf/google/gemma-4-26b-a4b-it", {"prompt": "x", "raw": True}, "raw"),
    ("@cf/google/gemma-4-26b-a4b-it", {"messages": [{"role": "user", "content": "x"}],
                                       "tools": [TOOL]}, "type"),
    ("@cf/google/gemma-4-26b-a4b-it", {"prompt": "x", "temperature": 5}, "temperature"),
    ("@cf/google/gemma-4-26b-a4b-it", {"prompt": "x", "response_format": {
        "type": "json_schema", "json_schema": SCHEMA}}, "json_schema"),
])
def test_the_strict_check_catches_what_the_old_bodies_sent(model, body, key):
    found = schemas.violations(body, model)
    assert found and key in found[0]


def test_closing_leaves_free_form_objects_open():
    # a tool's parameters (Gemma 4) and a JSON Schema to fill (guided_json) are any object
    body = {"messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {**TOOL, "parameters": {
                "type": "object", "additionalProperties": False, "$defs": {}}}}]}
    assert schemas.violations(body, "@cf/google/gemma-4-26b-a4b-it") == []
    assert schemas.violations({"prompt": "x", "guided_json": {"anything": [1]}},
                              "@cf/google/gemma-3-12b-it") == []
