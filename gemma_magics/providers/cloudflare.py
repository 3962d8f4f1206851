"""Cloudflare Workers AI, native route: ``POST /client/v4/accounts/{id}/ai/run/{model}``.

Wire format only (see providers.md): ``prompt`` for a plain prompt, ``messages`` for a
conversation, ``raw: true`` with a client-built Gemma template, ``lora``; answers in the
``{"result", "success", "errors"}`` envelope (HTTP 200 with ``success: false`` is an error);
streams of ``{"response", "p"}`` frames (``p`` is padding against length side channels) with
usage on any frame, or OpenAI-shaped chunks on the same URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..catalog.thinking import is_gemma4
from ..config import Secret
from ..errors import APIError, CapabilityError, StreamError
from ..events import Event, Finish, StructuredOutput, TextDelta, Usage
from .base import Request, chat_template
from .error_bodies import api_error
from .http import HttpProvider
from .openai import OpenAIStream, answer_events, stream_error, tool_call
from .thinking import think_fields
from .wire import (
    HttpCall,
    StreamParser,
    WireFormat,
    chat_messages,
    check_features,
    check_images,
    json_schema_of,
    load_json,
    sampling,
    usage_event,
)

LORA_MODELS = "@cf/google/gemma-2b-it-lora or @cf/google/gemma-7b-it-lora"


class CloudflareProvider(HttpProvider):
    """Workers AI through its native ``ai/run`` route."""

    client_side_stop = True  # ai/run takes no stop sequences

    def make_wire(self) -> CloudflareWire:
        return CloudflareWire(self.name, self.endpoint.account_id or "")


class CloudflareWire(WireFormat):
    def __init__(self, provider: str, account_id: str):
        super().__init__(provider, "cloudflare")
        self.account_id = account_id

    def build(self, request: Request, base_url: str, api_key: Secret | None) -> HttpCall:
        model = request.model
        check_features(request)
        body = workers_input(request)
        body.update(sampling(request))
        body.update(think_fields(self.provider, request))
        if request.lora:
            if model.known and not model.supports("lora"):
                raise CapabilityError(f"{model.id} takes no LoRA adapter", fix=f"use {LORA_MODELS}")
            body["lora"] = request.lora
        if request.response_format:
            body["response_format"] = workers_response_format(request.response_format)
        if request.tools:
            body["tools"] = [dict(t) for t in request.tools]
        # Workers AI answers JSON mode and tool calls whole, never as a stream
        stream = request.stream and not request.response_format and not request.tools
        if stream:
            body["stream"] = True
        url = f"{base_url}/client/v4/accounts/{self.account_id}/ai/run/{model.id}"
        return HttpCall(url, body, stream, api_key)

    def answer(self, data: Any) -> list[Event]:
        return envelope_events(self, data)

    def stream_parser(self) -> CloudflareStream:
        return CloudflareStream(self.provider)

    def error(self, status: int | None, body: str, headers: Mapping[str, str]) -> APIError:
        return api_error(self.provider, status, body, headers, style="cloudflare")


def workers_input(request: Request) -> dict[str, Any]:
    """``prompt`` or ``messages`` (shared with Dataoorts' ``data``).

    Raw: a conversation or system prompt is written out with Gemma's template by the client
    (the service applies none); a plain prompt is sent exactly as typed.
    """
    model = request.model
    plain = (request.messages == [{"role": "user", "content": request.prompt}]
             and not request.params.system)
    if request.raw:
        if request.images:
            check_images(request)
            raise CapabilityError("images cannot go with a raw prompt", fix="drop --raw")
        prompt = request.prompt if plain else chat_template(
            request.messages, request.params.system, gemma4=is_gemma4(model.id),
            think=bool(request.params.think))
        return {"prompt": prompt, "raw": True}
    if plain and not request.images and not request.chat:
        return {"prompt": request.prompt}
    return {"messages": workers_messages(
        chat_messages(request, system_role=model.supports("system")))}


def workers_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool-call turns as Workers AI takes them: message content is always a string, so the
    assistant's calls are written as JSON text (``[{"name", "arguments"}]``), and each
    result is a ``tool`` message naming its tool (``tool_call_id`` kept for models that
    want it)."""
    out = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["name"], "arguments": c.get("arguments") or {}}
                     for c in m["tool_calls"]]
            text = "\n".join(filter(None, [m.get("content"),
                                           json.dumps(calls, ensure_ascii=False)]))
            out.append({"role": "assistant", "content": text})
        elif m.get("role") == "tool":
            out.append({"role": "tool", "name": m.get("name", ""),
                        "tool_call_id": m.get("tool_call_id"),
                        "content": str(m.get("content", ""))})
        else:
            out.append(m)
    return out


def workers_response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """Workers AI's shape: ``{"type": "json_schema", "json_schema": <the schema>}``."""
    schema, _ = json_schema_of(fmt)
    if fmt.get("type") == "json_schema" and schema is not None:
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"}


def envelope_events(wire: WireFormat, data: Any) -> list[Event]:
    """A Workers AI envelope answer (also Dataoorts') as events."""
    if not isinstance(data, Mapping):
        raise StreamError(f"unexpected answer: {json.dumps(data)[:80]}", provider=wire.provider,
                          status=200)
    if data.get("success") is False or data.get("errors") or "error" in data:
        raise wire.error(200, json.dumps(data), {})  # HTTP 200 carrying an error
    result = data.get("result", data)
    if not isinstance(result, Mapping):
        raise StreamError(f"unexpected result: {json.dumps(result)[:80]}",
                          provider=wire.provider, status=200)
    if "choices" in result:  # an OpenAI-shaped model behind the native route
        return answer_events(result)
    events: list[Event] = []
    response = result.get("response")
    if isinstance(response, str):
        if response:
            events.append(TextDelta(response))
    elif response is not None:  # JSON mode may return the object itself
        events += [TextDelta(json.dumps(response, ensure_ascii=False)),
                   StructuredOutput(response)]
    calls = [tool_call(c) for c in result.get("tool_calls") or [] if isinstance(c, Mapping)]
    events += calls
    usage = usage_event(result.get("usage"))
    if usage:
        events.append(usage)
    if calls:
        events.append(Finish("tool_calls"))
    return events


class CloudflareStream(StreamParser):
    """Native frames ``{"response": "...", "p": "..."}`` (usage on any of them), or
    OpenAI-shaped chunks, which newer models send through the same URL."""

    def __init__(self, provider: str):
        self.provider = provider
        self.usage: Usage | None = None
        self.chunks = OpenAIStream(provider)

    @property
    def finished(self) -> bool:  # type: ignore[override]
        return self.done or self.chunks.finished

    def feed(self, data: str, event: str = "message") -> list[Event]:
        data = data.strip()
        if data == "[DONE]":
            self.done = True
            return []
        if not data:
            return []
        frame = load_json(data, "stream frame", self.provider)
        if event == "error" or not isinstance(frame, Mapping) or frame.get("errors") \
                or frame.get("error") or frame.get("success") is False:
            raise stream_error(self.provider, data)
        if "choices" in frame:
            return self.chunks.chunk(frame)
        usage = usage_event(frame.get("usage"))
        if usage:
            self.usage = usage
        events: list[Event] = []
        text = frame.get("response")
        if isinstance(text, str) and text:
            events.append(TextDelta(text))
        elif text is not None and not isinstance(text, str):
            events.append(TextDelta(json.dumps(text, ensure_ascii=False)))
        events += [tool_call(c) for c in frame.get("tool_calls") or [] if isinstance(c, Mapping)]
        return events

    def end(self) -> list[Event]:
        events = self.chunks.end()
        if self.usage and not self.chunks.usage:
            events.append(self.usage)
        return events
