"""OpenAI-compatible chat completions: AIML API, OpenRouter, Google AI Studio, Ollama,
llama-server, vLLM, any ``OPENAI_BASE_URL``, and Workers AI's ``/ai/v1`` route.

Wire format only (see providers.md): the request body, the ``chat.completion`` answer, the
chunk stream (``stream_options.include_usage``, ``[DONE]``, mid-stream ``{"error": ...}``
frames) and every error body shape, chosen by the catalog's ``error_style``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import Secret
from ..errors import APIError, CapabilityError, StreamError
from ..events import Event, Finish, TextDelta, ToolCall, Usage
from .base import Request
from .error_bodies import api_error, details
from .http import HttpProvider, StopCutter
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

#: Most stop sequences a service takes (Workers AI's Gemma 4 schema: 4); beyond that the
#: first ones are sent and all are cut on our side.
STOP_LIMITS = {"cloudflare": 4}


class OpenAIProvider(HttpProvider):
    """Any OpenAI-compatible endpoint; the catalog entry says which service it is."""

    def make_wire(self) -> OpenAIWire:
        return OpenAIWire(self.name, self.info.error_style, self.info.extra_param_names)

    def _stop_cutter(self, request: Request) -> StopCutter | None:
        stops = request.params.stop
        limit = STOP_LIMITS.get(self.info.error_style)
        return StopCutter(stops) if stops and limit is not None and len(stops) > limit else None


class OpenAIWire(WireFormat):
    def __init__(self, provider: str, error_style: str = "openai",
                 renames: Mapping[str, str] | None = None):
        super().__init__(provider, error_style)
        self.renames = dict(renames or {})

    def build(self, request: Request, base_url: str, api_key: Secret | None) -> HttpCall:
        if request.lora:
            raise CapabilityError(
                f"{self.provider} takes no LoRA adapter",
                fix="LoRA runs on cloudflare with @cf/google/gemma-2b-it-lora or -7b-it-lora",
            )
        model = request.model
        check_features(request)
        renames = {**self.renames, **model.param_names}
        if request.raw:
            # a raw prompt skips the chat template: the legacy completions route takes it as is
            if request.images:
                check_images(request)
                raise CapabilityError("images cannot go with a raw prompt", fix="drop --raw")
            body: dict[str, Any] = {"model": model.id, "prompt": request.prompt}
            url = f"{base_url}/completions"
        else:
            messages = chat_messages(request, system_role=model.supports("system"))
            body = {"model": model.id, "messages": openai_messages(messages)}
            url = f"{base_url}/chat/completions"
        body.update(sampling(request, renames))
        if request.params.stop:
            body["stop"] = list(request.params.stop)[:STOP_LIMITS.get(self.error_style)]
        if request.response_format:
            # Workers AI's /ai/v1 (Gemma 4's schema) takes json_schema as {name, schema, strict}
            strict = True if self.error_style == "cloudflare" else None
            body["response_format"] = openai_response_format(request.response_format,
                                                             strict=strict)
        if request.tools:
            body["tools"] = [openai_tool(t) for t in request.tools]
        body["stream"] = request.stream
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        return HttpCall(url, body, request.stream, api_key)

    def answer(self, data: Any) -> list[Event]:
        if not isinstance(data, Mapping) or "choices" not in data:
            # an error object (or Cloudflare envelope) sent with HTTP 200
            raise self.error(200, json.dumps(data), {})
        return answer_events(data)

    def stream_parser(self) -> OpenAIStream:
        return OpenAIStream(self.provider)

    def error(self, status: int | None, body: str, headers: Mapping[str, str]) -> APIError:
        return api_error(self.provider, status, body, headers, style=self.error_style)


def openai_response_format(fmt: Mapping[str, Any], *, strict: bool | None = None
                           ) -> dict[str, Any]:
    """``{"type": "json_object"}``, or a JSON Schema as ``{"type": "json_schema",
    "json_schema": {"name", "schema"[, "strict"]}}`` (``strict`` where the service takes it)."""
    schema, name = json_schema_of(fmt)
    if fmt.get("type") == "json_schema" and schema is not None:
        inner: dict[str, Any] = {"name": name, "schema": schema}
        if strict is not None:
            inner["strict"] = strict
        return {"type": "json_schema", "json_schema": inner}
    return {"type": "json_object"}


def openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool-call turns in OpenAI's shape: the assistant's ``tool_calls`` with ``type`` and
    arguments as a JSON string, each result as ``{"role": "tool", "tool_call_id", ...}``.
    A call the provider sent without an id gets ``call_<n>``, and its result the same id
    (ids are strings in every schema that has them)."""
    out = []
    unanswered: list[str] = []  # ids given to id-less calls, in order, for their results
    given = 0
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                call_id = c.get("id")
                if not call_id:
                    call_id = f"call_{given}"
                    given += 1
                    unanswered.append(call_id)
                calls.append({"id": str(call_id), "type": "function",
                              "function": {"name": c["name"],
                                           "arguments": json.dumps(c.get("arguments") or {})}})
            out.append({"role": "assistant", "content": m.get("content") or None,
                        "tool_calls": calls})
        elif m.get("role") == "tool":
            call_id = m.get("tool_call_id") or (unanswered.pop(0) if unanswered else "call_0")
            out.append({"role": "tool", "tool_call_id": str(call_id),
                        "content": str(m.get("content", ""))})
        else:
            out.append(m)
    return out


def openai_tool(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A tool spec ``{name, description, parameters}`` (or already OpenAI-shaped)."""
    if spec.get("type") == "function" and "function" in spec:
        return dict(spec)
    fn = {k: spec[k] for k in ("name", "description", "parameters") if k in spec}
    return {"type": "function", "function": fn}


def tool_call(raw: Mapping[str, Any]) -> ToolCall:
    """A tool call in OpenAI's shape (arguments a JSON string) or Workers AI's (an object)."""
    fn = raw.get("function") if isinstance(raw.get("function"), Mapping) else raw
    return ToolCall(str(fn.get("name") or ""), tool_arguments(fn.get("arguments")), raw.get("id"))


def tool_arguments(args: Any) -> dict[str, Any]:
    """Arguments as a dict; text that is not a JSON object is kept under ``"_raw"``."""
    if isinstance(args, Mapping):
        return dict(args)
    if args in (None, ""):
        return {}
    try:
        value = json.loads(args)
    except (TypeError, ValueError):
        return {"_raw": str(args)}
    return value if isinstance(value, dict) else {"_raw": str(args)}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def answer_events(data: Mapping[str, Any]) -> list[Event]:
    """A non-streamed ``chat.completion`` (or ``text_completion``) as events."""
    events: list[Event] = []
    choices = data.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = choice.get("message") or {}
    text = _text(message.get("content")) or _text(choice.get("text"))
    if text:
        events.append(TextDelta(text))
    events += [tool_call(c) for c in message.get("tool_calls") or [] if isinstance(c, Mapping)]
    usage = usage_event(data.get("usage"))
    if usage:
        events.append(usage)
    if choice.get("finish_reason"):
        events.append(Finish(choice["finish_reason"]))
    return events


class OpenAIStream(StreamParser):
    """Chunks: ``choices[0].delta`` text and tool-call pieces, a finish reason, usage (on
    every chunk or a final ``choices: []`` chunk; the last one wins), then ``[DONE]``."""

    def __init__(self, provider: str):
        self.provider = provider
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.tools: dict[int, dict[str, Any]] = {}

    def feed(self, data: str, event: str = "message") -> list[Event]:
        data = data.strip()
        if data == "[DONE]":
            self.done = self.finished = True
            return []
        if not data:
            return []
        frame = load_json(data, "stream frame", self.provider)
        # json.loads gives a dict; the exact type test is much cheaper than the ABC check
        if event == "error" or not (type(frame) is dict or isinstance(frame, Mapping)) \
                or frame.get("error") or frame.get("success") is False:
            raise stream_error(self.provider, data)
        return self.chunk(frame)

    def chunk(self, frame: Mapping[str, Any]) -> list[Event]:
        # called once per streamed token: keep the common path (one text delta) lean
        events: list[Event] = []
        raw_usage = frame.get("usage")
        if raw_usage:
            usage = usage_event(raw_usage)
            if usage:
                self.usage = usage
        for choice in frame.get("choices") or ():
            if type(choice) is not dict and not isinstance(choice, Mapping):
                continue
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            text = content if type(content) is str else _text(content)
            if not text and "text" in choice:
                text = _text(choice["text"])
            if text:
                events.append(TextDelta(text))
            pieces = delta.get("tool_calls")
            if pieces:
                for piece in pieces:
                    self._add_tool_piece(piece)
            reason = choice.get("finish_reason")
            if reason:
                self.finished = True
                self.finish_reason = reason
        return events

    def _add_tool_piece(self, piece: Mapping[str, Any]) -> None:
        """Tool calls stream as pieces keyed by index: the name once, arguments in parts."""
        slot = self.tools.setdefault(piece.get("index", len(self.tools)),
                                     {"id": None, "name": "", "arguments": ""})
        slot["id"] = piece.get("id") or slot["id"]
        fn = piece.get("function") or {}
        slot["name"] += fn.get("name") or ""
        args = fn.get("arguments")
        if isinstance(args, Mapping):
            slot["arguments"] = dict(args)
        elif args:
            slot["arguments"] += args

    def end(self) -> list[Event]:
        events: list[Event] = [
            ToolCall(t["name"], tool_arguments(t["arguments"]), t["id"])
            for _, t in sorted(self.tools.items())
        ]
        if self.usage:
            events.append(self.usage)
        if self.finish_reason:
            events.append(Finish(self.finish_reason))
        return events


def stream_error(provider: str, data: str) -> StreamError:
    """An error frame inside a 200 stream: the answer so far is kept, this ends it."""
    message, code = details(data)
    return StreamError(message or "error frame in the stream", provider=provider, code=code,
                       fix="the partial answer was kept; retry for the rest")
