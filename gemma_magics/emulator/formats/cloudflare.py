"""Cloudflare's envelope: Workers AI native route, its ``/ai/v1`` route, and Dataoorts.

Answers: ``{"result": {...}, "success": true, "errors": [], "messages": []}``.
Errors: ``{"errors": [{"message", "code"}], "success": false, "result": {}, "messages": []}``.
Native streams: ``data: {"response": "...", "p": "<padding>"}`` frames, usage per
``cf_usage``, then ``[DONE]``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

from ..text import Generation
from . import openai
from .cf_validate import OPENAI_STYLE_MODELS, check_model, check_workers_body
from .common import (
    DONE,
    INVALID_JSON,
    SAMPLING_FIELDS,
    ChatRequest,
    Frame,
    WireError,
    dumps,
    fill_prompt,
    json_schema_of,
    sse,
    usage,
)

DEFAULT_MAX_TOKENS = 256
_DEFAULT_CODES = {400: 5006, 401: 10000, 403: 10000, 404: 7003, 408: 3007, 413: 3006,
                  429: 3040, 503: 3040}
_DEFAULT_MESSAGES = {
    3040: "Capacity temporarily exceeded, please try again.",
    3036: "You have used up your daily free allocation of 10,000 neurons.",
    3043: "Internal server error",
    3007: "AiError: Request timeout",
    3006: "Request is too large",
    5006: "AiError: Bad input",
    7003: "Could not route to the requested resource, perhaps your object identifier is "
          "invalid?",
    10000: "Authentication error",
}
_PAD = string.ascii_letters + string.digits


def error_body(status: int, code: int | str | None = None,
               message: str | None = None) -> dict[str, Any]:
    """The Cloudflare error envelope for an HTTP error status."""
    code = code if code is not None else _DEFAULT_CODES.get(status, 3043)
    message = message or _DEFAULT_MESSAGES.get(code, f"Error {code}")  # type: ignore[arg-type]
    return {"errors": [{"message": message, "code": code}], "success": False, "result": {},
            "messages": []}


def error_frame(code: int | str | None = None, message: str | None = None) -> dict[str, Any]:
    """Payload of a mid-stream error frame."""
    code = code if code is not None else 3043
    return {"success": False, "errors": [{"message": message or _DEFAULT_MESSAGES.get(
        code, "Internal server error"), "code": code}]}  # type: ignore[arg-type]


def _body_or_error(body: Any) -> Any:
    if body is INVALID_JSON:
        raise WireError(400, "AiError: Bad input: Error: request body is not valid JSON", 5006)
    return body


def _request(body: dict[str, Any], model: str, stream: bool) -> ChatRequest:
    json_mode, schema = json_schema_of(body)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    req = ChatRequest(
        model=model,
        stream=stream,
        max_tokens=int(max_tokens) if max_tokens is not None else DEFAULT_MAX_TOKENS,
        sampling={k: body[k] for k in SAMPLING_FIELDS if body.get(k) is not None},
        tools=body.get("tools") or None,
        json_mode=json_mode,
        json_schema=schema,
    )
    fill_prompt(req, body.get("prompt"), body.get("messages"), raw=body.get("raw") is True)
    return req


def parse_native(body: Any, model: str, known: list[str]) -> ChatRequest:
    """``POST /client/v4/accounts/{account}/ai/run/{model}``."""
    body = check_workers_body(_body_or_error(body), model, known)
    req = _request(body, model, body.get("stream") is True)
    options = body.get("stream_options")
    req.include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return req


def openai_style(model: str) -> bool:
    """Whether ``model`` answers ``ai/run`` with a ``chat.completion`` (Gemma 4)."""
    return model in OPENAI_STYLE_MODELS


def completion_result(completion: dict[str, Any]) -> dict[str, Any]:
    """Gemma 4's answer on ai/run: a ``chat.completion`` inside the Workers AI envelope."""
    return {"result": completion, "success": True, "errors": [], "messages": []}


def parse_dataoorts(body: Any, known: list[str]) -> ChatRequest:
    """``POST /api/v1`` with ``{"model", "data": {...}}``; streams only if data.stream."""
    body = _body_or_error(body)
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise WireError(400, "AiError: Bad input: Error: must have required property 'model'",
                        5006)
    data = body.get("data")
    if not isinstance(data, dict):
        raise WireError(400, "AiError: Bad input: Error: must have required property 'data'",
                        5006)
    check_workers_body(data, body["model"], known)
    return _request(data, body["model"], data.get("stream") is True)


def parse_openai_route(body: Any, known: list[str]) -> ChatRequest:
    """``POST /client/v4/accounts/{account}/ai/v1/chat/completions``."""
    body = _body_or_error(body)
    if not isinstance(body, dict):
        raise WireError(400, "AiError: Bad input: Error: request body must be an object", 5006)
    model = body.get("model")
    if not isinstance(model, str):
        raise WireError(400, "AiError: Bad input: Error: must have required property 'model'",
                        5006)
    check_model(model, known)
    if openai_style(model):  # its published schema lists `model` and the OpenAI fields
        check_workers_body(body, model, known)
    else:  # the older models' schemas describe ai/run only: the older checks here
        check_workers_body({k: v for k, v in body.items() if k != "model"}, model, known,
                           by_schema=False)
    req = openai.parse(body)
    if req.max_tokens is None:
        req.max_tokens = DEFAULT_MAX_TOKENS
    return req


def result(req: ChatRequest, response: Any, n_tokens: int,
           tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The non-streamed Workers AI envelope."""
    return {"result": {"response": response, "tool_calls": list(tool_calls or []),
                       "usage": usage(req.prompt_words, n_tokens)},
            "success": True, "errors": [], "messages": []}


def success_false(code: int | str | None, message: str | None) -> dict[str, Any]:
    """HTTP 200 with ``success: false``."""
    return error_body(200, code if code is not None else 3040, message)


def native_frames(req: ChatRequest, gen: Generation, usage_mode: str) -> Iterator[Frame]:
    """Workers AI native frames: ``{"response", "p"}``, usage per mode, then ``[DONE]``."""
    rng = random.Random()
    pad = "".join(rng.choice(_PAD) for _ in range(32)).encode()
    n = 0
    for token in gen:
        n += 1
        frame = b'data: {"response":' + dumps(token) + b',"p":"' + pad[:rng.randint(1, 32)]
        if usage_mode == "every":
            frame += b'","usage":' + dumps(usage(req.prompt_words, n)) + b"}\n\n"
        else:
            frame += b'"}\n\n'
        yield "token", frame
    if usage_mode == "last":
        yield "tail", sse({"response": "", "usage": usage(req.prompt_words, n)})
    yield "done", DONE


def model_search(models: list[str], properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``GET /client/v4/accounts/{account}/ai/models/search``: the models, each with the
    ``properties`` list the model pages show (context_window, price)."""
    result = []
    for m in models:
        known = properties.get(m, {})
        props: list[dict[str, Any]] = []
        if "context" in known:
            props.append({"property_id": "context_window", "value": str(known["context"])})
        if "price_in" in known:
            props.append({"property_id": "price", "value": [
                {"unit": "per M input tokens", "price": known["price_in"], "currency": "USD"},
                {"unit": "per M output tokens", "price": known.get("price_out", 0),
                 "currency": "USD"}]})
        result.append({"name": m, "task": {"name": "Text Generation"}, "properties": props})
    return {"result": result, "success": True, "errors": [], "messages": []}
