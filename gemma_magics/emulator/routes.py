"""URL → wire format. Each route object knows its request shape, answers and error bodies.

| path (POST) | route |
| --- | --- |
| ``/client/v4/accounts/{account}/ai/run/{model}`` | Workers AI native |
| ``/client/v4/accounts/{account}/ai/v1/chat/completions`` | Cloudflare OpenAI-compatible |
| ``/api/v1`` | Dataoorts |
| any path ending in ``/chat/completions`` | OpenAI-compatible (error style per path) |
| any other path ending in ``/completions`` | OpenAI legacy text completions (raw prompt) |
| any path ending in ``/models`` (GET) | model list |
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .formats import cloudflare, error_styles, openai
from .formats.common import ChatRequest, FrameStream
from .settings import Settings
from .text import Generation


@dataclass
class Outcome:
    """What the answer consists of: text tokens, scripted tool calls, or a JSON object."""

    gen: Generation
    tool_calls: list[dict[str, Any]] | None = None
    json_obj: Any = None
    is_json: bool = False


class CloudflareNative:
    """Workers AI ``/ai/run/{model}``: envelope answers, native (or OpenAI-shaped) streams."""

    name = "cloudflare"

    def __init__(self, path: str, model: str = "") -> None:
        self.path = path
        self.model = model

    def parse(self, body: Any, settings: Settings) -> ChatRequest:
        return cloudflare.parse_native(body, self.model, settings.cloudflare_models)

    def streams(self, req: ChatRequest, outcome: Outcome) -> bool:
        """JSON mode and tool calls are answered whole, as Workers AI does."""
        return req.stream and not outcome.is_json and not outcome.tool_calls

    def answer(self, req: ChatRequest, outcome: Outcome, text: str, n_tokens: int,
               finish_reason: str) -> Any:
        if cloudflare.openai_style(self.model):  # Gemma 4: the envelope around a completion
            body = json.dumps(outcome.json_obj) if outcome.is_json else text
            return cloudflare.completion_result(
                openai.completion(req, body, n_tokens, finish_reason, outcome.tool_calls))
        response = outcome.json_obj if outcome.is_json else text
        return cloudflare.result(req, response, n_tokens, outcome.tool_calls)

    def frames(self, req: ChatRequest, outcome: Outcome, settings: Settings) -> FrameStream:
        if cloudflare.openai_style(self.model):
            return openai.chunks(req, outcome.gen, "last" if req.include_usage else "none")
        if settings.cf_openai_chunks:
            return openai.chunks(req, outcome.gen, settings.cf_usage)
        return cloudflare.native_frames(req, outcome.gen, settings.cf_usage)

    def error(self, status: int, code: Any = None, message: str | None = None) -> Any:
        return cloudflare.error_body(status, code, message)

    def success_false(self, code: Any = None, message: str | None = None) -> Any:
        return cloudflare.success_false(code, message)

    def error_frame(self, code: Any = None, message: str | None = None) -> Any:
        return cloudflare.error_frame(code, message)


class Dataoorts(CloudflareNative):
    """Dataoorts ``/api/v1``: nested ``data`` parameters, Workers AI envelope."""

    name = "dataoorts"

    def parse(self, body: Any, settings: Settings) -> ChatRequest:
        return cloudflare.parse_dataoorts(body, settings.dataoorts_models)

    def frames(self, req: ChatRequest, outcome: Outcome, settings: Settings) -> FrameStream:
        return cloudflare.native_frames(req, outcome.gen, settings.cf_usage)


class OpenAICompatible:
    """``.../chat/completions``: chat.completion answers and chunks; styled error bodies."""

    name = "openai"

    def __init__(self, path: str, style: str = "openai") -> None:
        self.path = path
        self.style = style

    def parse(self, body: Any, settings: Settings) -> ChatRequest:
        return openai.parse(body)

    def streams(self, req: ChatRequest, outcome: Outcome) -> bool:
        return req.stream

    def answer(self, req: ChatRequest, outcome: Outcome, text: str, n_tokens: int,
               finish_reason: str) -> Any:
        return openai.completion(req, text, n_tokens, finish_reason, outcome.tool_calls)

    def usage_mode(self, req: ChatRequest) -> str:
        return "last" if req.include_usage else "none"

    def frames(self, req: ChatRequest, outcome: Outcome, settings: Settings) -> FrameStream:
        return openai.chunks(req, outcome.gen, self.usage_mode(req), outcome.tool_calls)

    def error(self, status: int, code: Any = None, message: str | None = None) -> Any:
        return error_styles.error_body(self.style, status, message, code, self.path)

    def success_false(self, code: Any = None, message: str | None = None) -> Any:
        return self.error(500, code, message or "The upstream provider returned an error")

    def error_frame(self, code: Any = None, message: str | None = None) -> Any:
        return error_styles.error_frame(self.style, message or "Internal server error", code)


class OpenAICompletions(OpenAICompatible):
    """``.../completions`` (legacy text completions): a raw prompt, ``choices[].text``."""

    name = "openai-completions"

    def parse(self, body: Any, settings: Settings) -> ChatRequest:
        return openai.parse_completions(body)

    def answer(self, req: ChatRequest, outcome: Outcome, text: str, n_tokens: int,
               finish_reason: str) -> Any:
        return openai.text_completion(req, text, n_tokens, finish_reason)

    def frames(self, req: ChatRequest, outcome: Outcome, settings: Settings) -> FrameStream:
        return openai.text_chunks(req, outcome.gen, self.usage_mode(req))


class CloudflareOpenAI(OpenAICompatible):
    """Cloudflare ``/ai/v1/chat/completions``: usage on every chunk, Cloudflare errors."""

    name = "cloudflare-openai"

    def parse(self, body: Any, settings: Settings) -> ChatRequest:
        return cloudflare.parse_openai_route(body, settings.cloudflare_models)

    def usage_mode(self, req: ChatRequest) -> str:
        return "every"

    error = CloudflareNative.error
    success_false = CloudflareNative.success_false
    error_frame = CloudflareNative.error_frame


class ModelList:
    """``GET .../models``."""

    name = "models"

    def __init__(self, path: str, style: str = "openai") -> None:
        self.path = path
        self.style = style

    def error(self, status: int, code: Any = None, message: str | None = None) -> Any:
        return error_styles.error_body(self.style, status, message, code, self.path)

    def listing(self, settings: Settings) -> Any:
        return openai.models_list(settings.openai_models, settings.model_properties)


class CloudflareModelSearch(ModelList):
    """Workers AI ``GET .../ai/models/search``: the Cloudflare envelope around the models."""

    name = "cloudflare-models"

    def listing(self, settings: Settings) -> Any:
        # every model it knows, whatever ?search= says: the client keeps the Gemma ones
        return cloudflare.model_search(settings.cloudflare_models, settings.model_properties)

    error = CloudflareNative.error


Route = CloudflareNative | OpenAICompatible | ModelList

_CF_RUN = re.compile(r"^/client/v4/accounts/[^/]+/ai/run/(.+)$")
_CF_SEARCH = re.compile(r"^/client/v4/accounts/[^/]+/ai/models/search/?$")
_CF_V1 = re.compile(r"^/client/v4/accounts/[^/]+/ai/v1/chat/completions/?$")


def match(method: str, path: str, settings: Settings) -> Route | None:
    """The route for ``method`` and ``path`` (no query string), or None."""
    if method == "GET":
        if _CF_SEARCH.match(path):
            return CloudflareModelSearch(path)
        return ModelList(path, settings.style_for(path)) if path.endswith("/models") else None
    if method != "POST":
        return None
    if m := _CF_RUN.match(path):
        return CloudflareNative(path, unquote(m.group(1)))
    if _CF_V1.match(path):
        return CloudflareOpenAI(path)
    if path.rstrip("/") == "/api/v1":
        return Dataoorts(path)
    if path.rstrip("/").endswith("/chat/completions"):
        return OpenAICompatible(path, settings.style_for(path))
    if path.rstrip("/").endswith("/completions"):
        return OpenAICompletions(path, settings.style_for(path))
    return None
