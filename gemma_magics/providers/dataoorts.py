"""Dataoorts serverless API: ``POST https://cloud.dataoorts.com/api/v1``.

Wire format only (see providers.md): the parameters nest under ``data``, the answer is the
Workers AI envelope. Streaming is undocumented, so calls are never streamed: a streamed
request is sent whole and its text arrives as one delta.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Secret
from ..errors import APIError, CapabilityError
from ..events import Event
from .base import Request
from .cloudflare import CloudflareStream, envelope_events
from .error_bodies import api_error
from .http import HttpProvider
from .wire import HttpCall, StreamParser, WireFormat, chat_messages, check_features, sampling
from .workers_body import workers_input, workers_messages, workers_response_format, workers_tool


class DataoortsProvider(HttpProvider):
    client_side_stop = True  # no stop parameter is documented

    def make_wire(self) -> DataoortsWire:
        return DataoortsWire(self.name, "dataoorts")  # Cloudflare's envelope and codes


class DataoortsWire(WireFormat):
    def build(self, request: Request, base_url: str, api_key: Secret | None) -> HttpCall:
        model = request.model
        check_features(request)
        if request.lora:
            raise CapabilityError(f"{self.provider} takes no LoRA adapter",
                                  fix="LoRA runs on cloudflare's -lora base models")
        # the documented body is `messages`; only a raw prompt goes as `prompt`. Messages and
        # tools take Workers AI's gemma-3-12b-it shapes (the same model behind the same
        # envelope; Dataoorts publishes no schema of its own)
        text = workers_input(request) if request.raw else {"messages": workers_messages(
            chat_messages(request, system_role=model.supports("system")))}
        data: dict[str, Any] = {**text, **sampling(request, model.param_names)}
        if request.tools:
            data["tools"] = [workers_tool(t) for t in request.tools]
        if request.response_format:
            data["response_format"] = workers_response_format(request.response_format)
        return HttpCall(base_url, {"model": model.id, "data": data}, stream=False,
                        api_key=api_key)

    def answer(self, data: Any) -> list[Event]:
        return envelope_events(self, data)

    def stream_parser(self) -> StreamParser:
        return CloudflareStream(self.provider)  # should it ever answer with a stream anyway

    def error(self, status: int | None, body: str, headers: Mapping[str, str]) -> APIError:
        return api_error(self.provider, status, body, headers, style=self.error_style)
