"""OpenAI chat completions: request parsing, the answer object and its chunk stream.

Also used for Cloudflare's ``/ai/v1`` route and Workers AI's OpenAI-shaped streams, with a
different ``usage_mode``: "every" chunk, "last" (a final ``choices: []`` chunk) or "none".
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ..text import Generation
from . import shapes
from .common import (
    DONE,
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


def parse(body: Any) -> ChatRequest:
    """Validate loosely, as most OpenAI-compatible servers do."""
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "'messages' is a required property and must be a non-empty array")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool)
                                   or not isinstance(max_tokens, int) or max_tokens < 1):
        raise WireError(400, "max_tokens must be a positive integer")
    shapes.check_tools(body.get("tools"), "openai")
    shapes.check_messages(messages, "openai")
    shapes.check_response_format(body, "openai")
    json_mode, schema = json_schema_of(body)
    options = body.get("stream_options")
    req = ChatRequest(
        model=str(body.get("model") or ""),
        stream=body.get("stream") is True,
        max_tokens=max_tokens,
        sampling={k: body[k] for k in SAMPLING_FIELDS if body.get(k) is not None},
        tools=body.get("tools") or None,
        json_mode=json_mode,
        json_schema=schema,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )
    fill_prompt(req, None, messages)
    return req


def _ids(model: str) -> tuple[str, int]:
    return "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scripted ``[{"name", "arguments": {...}}]`` in OpenAI's shape (arguments a string)."""
    return [{"id": f"call_{i}_{uuid.uuid4().hex[:8]}", "type": "function",
             "function": {"name": c.get("name", ""),
                          "arguments": json.dumps(c.get("arguments", {}))}}
            for i, c in enumerate(calls)]


def completion(req: ChatRequest, text: str, n_tokens: int, finish_reason: str,
               tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    cid, created = _ids(req.model)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message = {"role": "assistant", "content": None,
                   "tool_calls": openai_tool_calls(tool_calls)}
        finish_reason = "tool_calls"
    return {"id": cid, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage(req.prompt_words, n_tokens)}


def chunks(req: ChatRequest, gen: Generation, usage_mode: str,
           tool_calls: list[dict[str, Any]] | None = None) -> Iterator[Frame]:
    """Chunk frames: one per token, a finish frame, maybe a ``choices: []`` usage frame,
    then ``[DONE]``. Token frames are assembled from pre-encoded pieces for speed."""
    cid, created = _ids(req.model)
    base = {"id": cid, "object": "chat.completion.chunk", "created": created,
            "model": req.model}
    head = b"data: " + dumps(base)[:-1] + b',"choices":[{"index":0,"delta":{'
    every = usage_mode == "every"
    n = 0
    if tool_calls:
        calls = openai_tool_calls(tool_calls)
        for i, call in enumerate(calls):
            n += 1
            delta = {"role": "assistant", "tool_calls": [{"index": i, **call}]}
            yield "token", sse({**base, "choices": [{"index": 0, "delta": delta,
                                                      "finish_reason": None}]})
        finish = "tool_calls"
    else:
        for token in gen:
            n += 1
            role = b'"role":"assistant",' if n == 1 else b""
            tail = b'},"finish_reason":null}]'
            if every:
                tail += b',"usage":' + dumps(usage(req.prompt_words, n))
            yield "token", head + role + b'"content":' + dumps(token) + tail + b"}\n\n"
        finish = gen.finish_reason
    last: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {},
                                                 "finish_reason": finish}]}
    if every:
        last["usage"] = usage(req.prompt_words, n)
    yield "tail", sse(last)
    if usage_mode in ("every", "last"):
        yield "tail", sse({**base, "choices": [], "usage": usage(req.prompt_words, n)})
    yield "done", DONE


def models_list(models: list[str], properties: dict[str, dict[str, Any]] | None = None
                ) -> dict[str, Any]:
    """``GET /v1/models`` answer; ``context_length`` and per-token ``pricing`` where known
    (as OpenRouter lists them)."""
    data = []
    for m in models:
        item: dict[str, Any] = {"id": m, "object": "model", "created": 0,
                                "owned_by": "gemma_magics-emulator"}
        known = (properties or {}).get(m, {})
        if "context" in known:
            item["context_length"] = known["context"]
        if "price_in" in known:
            item["pricing"] = {"prompt": str(known["price_in"] / 1e6),
                               "completion": str(known.get("price_out", 0) / 1e6)}
        data.append(item)
    return {"object": "list", "data": data}


# -- the legacy text completions route (``POST .../completions``): raw prompts --------------


def parse_completions(body: Any) -> ChatRequest:
    """``{"model", "prompt": "...", ...}``: the prompt is the model's exact input."""
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request.")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise WireError(400, "'prompt' is a required property and must be a non-empty string")
    if "messages" in body:
        raise WireError(400, "'messages' is not allowed on /completions; use /chat/completions")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool)
                                   or not isinstance(max_tokens, int) or max_tokens < 1):
        raise WireError(400, "max_tokens must be a positive integer")
    options = body.get("stream_options")
    req = ChatRequest(
        model=str(body.get("model") or ""), stream=body.get("stream") is True,
        max_tokens=max_tokens,
        sampling={k: body[k] for k in SAMPLING_FIELDS if body.get(k) is not None},
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )
    fill_prompt(req, prompt, None, raw=True)
    return req


def text_completion(req: ChatRequest, text: str, n_tokens: int,
                    finish_reason: str) -> dict[str, Any]:
    """A non-streamed ``text_completion`` object."""
    cid, created = _ids(req.model)
    return {"id": cid.replace("chatcmpl", "cmpl"), "object": "text_completion",
            "created": created, "model": req.model,
            "choices": [{"index": 0, "text": text, "logprobs": None,
                         "finish_reason": finish_reason}],
            "usage": usage(req.prompt_words, n_tokens)}


def text_chunks(req: ChatRequest, gen: Generation, usage_mode: str) -> Iterator[Frame]:
    """``text_completion`` chunks: ``choices[0].text`` per token, a finish chunk, usage."""
    cid, created = _ids(req.model)
    base = {"id": cid.replace("chatcmpl", "cmpl"), "object": "text_completion",
            "created": created, "model": req.model}
    n = 0
    for token in gen:
        n += 1
        yield "token", sse({**base, "choices": [{"index": 0, "text": token,
                                                  "finish_reason": None}]})
    yield "tail", sse({**base, "choices": [{"index": 0, "text": "",
                                            "finish_reason": gen.finish_reason}]})
    if usage_mode == "last":
        yield "tail", sse({**base, "choices": [], "usage": usage(req.prompt_words, n)})
    yield "done", DONE
