"""Cloudflare Workers AI, native route: ``POST /client/v4/accounts/{id}/ai/run/{model}``.

Wire format only (see providers.md): bodies as each model's published schema has them
(``workers_body``: Gemma 2/3 fields, or Gemma 4's OpenAI-style ones); answers in the
``{"result", "success", "errors"}`` envelope (HTTP 200 with ``success: false`` is an error);
streams of ``{"response", "p"}`` frames (``p`` is padding against length side channels) with
usage on any frame, or OpenAI-shaped chunks on the same URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import Secret
from ..errors import APIError, StreamError
from ..events import Event, Finish, StructuredOutput, TextDelta, Usage
from .base import Request
from .error_bodies import api_error
from .http import HttpProvider
from .openai import OpenAIStream, answer_events, stream_error, tool_call
from .wire import HttpCall, StreamParser, WireFormat, check_features, load_json, usage_event
from .workers_body import (  # noqa: F401 (workers_input and friends: Dataoorts shares them)
    LORA_MODELS,
    openai_style_body,
    workers_body,
    workers_input,
    workers_messages,
    workers_response_format,
)


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
        """The body the model's published schema takes (see ``workers_body``)."""
        model = request.model
        check_features(request)
        # Workers AI answers JSON mode and tool calls whole, never as a stream
        stream = request.stream and not request.response_format and not request.tools
        if model.body == "openai":
            body = openai_style_body(request, stream=stream)
        else:
            body = workers_body(request)
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
