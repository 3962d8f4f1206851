"""Request bodies for Workers AI's native ``ai/run`` route, shaped by each model's published
input schema (cloudflare/cloudflare-docs ``src/content/workers-ai-models/*.json``).

Which fields exist in which branch decides what is sent:

- Gemma 2/3 and the LoRA bases (``body = "workers"``): ``prompt`` or ``messages``; ``tools``
  only in the messages branch (a call with tools sends ``messages``); ``lora`` only in the
  prompt branch (LoRA with a system prompt, a chat, images or tools is refused); message
  items are ``{role, content}`` with string content; JSON mode in the model's own field
  (``guided_json`` on gemma-3-12b-it, ``response_format`` on gemma-2b-it-lora); tool
  parameters as ``{type, properties: {name: {type, description}}, required}``.
- Gemma 4 (``body = "openai"``): OpenAI-style fields: ``max_completion_tokens``, ``stop`` (up
  to 4), ``response_format.json_schema`` as ``{name, schema, strict}``, tools as
  ``{type: "function", function: {...}}``, tool results as ``{role, content, tool_call_id}``,
  ``stream_options``; no ``raw``, ``lora``, ``top_k`` or ``repetition_penalty``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import CapabilityError
from .base import Request, gemma_template
from .openai import openai_messages, openai_response_format, openai_tool
from .wire import chat_messages, check_images, json_schema_of, sampling

LORA_MODELS = "@cf/google/gemma-2b-it-lora or @cf/google/gemma-7b-it-lora"
MAX_STOP = 4  # Gemma 4's schema: stop takes up to 4 sequences


def is_plain(request: Request) -> bool:
    """A single prompt with nothing that needs the messages branch."""
    return (request.messages == [{"role": "user", "content": request.prompt}]
            and not request.params.system and not request.images and not request.chat
            and not request.tools)


def workers_body(request: Request) -> dict[str, Any]:
    """The body for a Gemma 2/3 or LoRA-base model (fields per its schema), without ``stream``."""
    model = request.model
    body = workers_input(request)
    if request.lora:
        if model.known and not model.supports("lora"):
            raise CapabilityError(f"{model.id} takes no LoRA adapter", fix=f"use {LORA_MODELS}")
        if "messages" in body or request.tools:
            raise CapabilityError(
                "a LoRA adapter takes one plain prompt on Workers AI (lora exists only in the "
                "prompt branch of the model's schema)",
                fix="drop the system prompt, chat history, images and tools, or write the "
                    "system text into the prompt")
        body["lora"] = request.lora
    body.update(sampling(request, model.param_names))
    if request.response_format:
        field = model.json_field or "response_format"
        if field == "guided_json":
            schema, _ = json_schema_of(request.response_format)
            body["guided_json"] = schema if schema is not None else {"type": "object"}
        else:
            body["response_format"] = workers_response_format(request.response_format)
    if request.tools:
        body["tools"] = [workers_tool(t) for t in request.tools]
    return body


def workers_input(request: Request) -> dict[str, Any]:
    """``prompt`` or ``messages`` (shared with Dataoorts' ``data``).

    Raw: a conversation or system prompt is written out with Gemma's template by the client
    (the service applies none); a plain prompt is sent exactly as typed.
    """
    model = request.model
    if request.raw:
        if request.images:
            check_images(request)
            raise CapabilityError("images cannot go with a raw prompt", fix="drop --raw")
        plain = (request.messages == [{"role": "user", "content": request.prompt}]
                 and not request.params.system)
        prompt = request.prompt if plain else gemma_template(request.messages,
                                                             request.params.system)
        return {"prompt": prompt, "raw": True}
    if is_plain(request):
        return {"prompt": request.prompt}
    return {"messages": workers_messages(
        chat_messages(request, system_role=model.supports("system")))}


def workers_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Message items as the older models' schemas have them, ``{role, content}``: the
    assistant's tool calls written as JSON text (``[{"name", "arguments"}]``), each tool
    result a ``tool`` message with its content only."""
    out = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["name"], "arguments": c.get("arguments") or {}}
                     for c in m["tool_calls"]]
            text = "\n".join(filter(None, [m.get("content"),
                                           json.dumps(calls, ensure_ascii=False)]))
            out.append({"role": "assistant", "content": text})
        elif m.get("role") == "tool":
            out.append({"role": "tool", "content": str(m.get("content", ""))})
        else:
            out.append({"role": m["role"], "content": m.get("content", "")})
    return out


def workers_response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """The LoRA bases' shape: ``{"type": "json_schema", "json_schema": <the schema>}``."""
    schema, _ = json_schema_of(fmt)
    if fmt.get("type") == "json_schema" and schema is not None:
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"}


def workers_tool(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``{name, description, parameters}`` in the older schemas' shape: parameters hold only
    ``type``, ``required`` and ``properties``, each property only ``type`` and
    ``description`` (what else a JSON Schema says, e.g. ``enum``, has no place there)."""
    fn = spec.get("function") if spec.get("type") == "function" else spec
    fn = fn if isinstance(fn, Mapping) else {}
    params = fn.get("parameters") if isinstance(fn.get("parameters"), Mapping) else {}
    props = params.get("properties") if isinstance(params.get("properties"), Mapping) else {}
    parameters: dict[str, Any] = {"type": "object", "properties": {
        name: {"type": _json_type(p), "description": str(
            (p.get("description") if isinstance(p, Mapping) else None) or name)}
        for name, p in props.items()}}
    if params.get("required"):
        parameters["required"] = [str(r) for r in params["required"]]
    name = str(fn.get("name") or "")
    return {"name": name, "description": str(fn.get("description") or name),
            "parameters": parameters}


def _json_type(prop: Any) -> str:
    kind = prop.get("type") if isinstance(prop, Mapping) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return str(kind or "string")


def openai_style_body(request: Request, *, stream: bool) -> dict[str, Any]:
    """The body for Gemma 4 on ``ai/run``: OpenAI-style fields, per its schema."""
    model = request.model
    if request.raw:
        raise CapabilityError(f"{model.id} takes no raw prompt",
                              fix="drop --raw: the provider applies the chat template itself")
    if request.lora:
        raise CapabilityError(f"{model.id} takes no LoRA adapter", fix=f"use {LORA_MODELS}")
    if is_plain(request):
        body: dict[str, Any] = {"prompt": request.prompt}
    else:
        body = {"messages": openai_messages(
            chat_messages(request, system_role=model.supports("system")))}
    body.update(sampling(request, model.param_names))
    stop = request.params.stop
    if stop and len(stop) <= MAX_STOP:  # more are cut on our side (client_side_stop)
        body["stop"] = list(stop)
    if request.response_format:
        body["response_format"] = openai_response_format(request.response_format, strict=True)
    if request.tools:
        body["tools"] = [openai_tool(t) for t in request.tools]
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body
