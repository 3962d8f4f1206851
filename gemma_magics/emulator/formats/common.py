"""Pieces shared by the wire formats: the normalised request, SSE frames, usage, prompts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..text import count_words

INVALID_JSON = object()
"""Stands for a request body that was not valid JSON."""

DONE = b"data: [DONE]\n\n"

Frame = tuple[str, bytes]
"""``(kind, bytes)`` with kind "token" (one answer token), "tail" (finish/usage frames) or
"done" (the ``[DONE]`` sentinel). Stream faults count "token" and "tail" frames."""
FrameStream = Iterator[Frame]


class WireError(Exception):
    """A request the emulated service rejects: rendered in the route's error format."""

    def __init__(self, status: int, message: str, code: int | str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class ChatRequest:
    """A request reduced to what the emulator needs, whatever the wire format."""

    model: str = ""
    stream: bool = False
    max_tokens: int | None = None
    prompt: str = ""
    prompt_words: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)
    tools: list[Any] | None = None
    json_mode: bool = False
    json_schema: Any = None
    include_usage: bool = False
    messages: list[Any] = field(default_factory=list)
    raw: bool = False
    #: Emulated thinking (see ``reasoning.py``): its tokens, and the answer field for them.
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str = "reasoning"
    billed_per_token: float = 0.0  # Settings.billed_cost_per_token, for this route's style
    cost_style: str = "openai"


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "seed", "repetition_penalty",
                   "frequency_penalty", "presence_penalty", "min_p", "repeat_penalty")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sse(obj: Any) -> bytes:
    """One SSE event carrying ``obj`` as JSON."""
    return b"data: " + dumps(obj) + b"\n\n"


def usage(prompt_tokens: int, completion_tokens: int,
          reasoning_tokens: int | None = None) -> dict[str, Any]:
    """Usage; with thinking, completion_tokens include the reasoning tokens, which
    ``completion_tokens_details.reasoning_tokens`` counts."""
    out: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens}
    if reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return out


def content_text(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and p.get("type") == "text")
    return ""


def gemma_prompt(messages: list[dict[str, Any]]) -> str:
    """Gemma's chat template; a system message is folded into the first user turn."""
    system = "\n\n".join(content_text(m.get("content")) for m in messages
                         if m.get("role") == "system")
    turns = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            continue
        text = content_text(m.get("content"))
        if system and role == "user":
            text, system = f"{system}\n\n{text}", ""
        turn_role = "model" if role == "assistant" else "user"
        turns.append(f"<start_of_turn>{turn_role}\n{text}<end_of_turn>\n")
    return "<bos>" + "".join(turns) + "<start_of_turn>model\n"


def fill_prompt(req: ChatRequest, prompt: Any, messages: Any, raw: bool = False) -> None:
    """Set ``req.prompt`` and ``req.prompt_words`` from a prompt string or messages."""
    req.raw = raw
    if isinstance(prompt, str):
        req.prompt = prompt if raw else gemma_prompt([{"role": "user", "content": prompt}])
        req.prompt_words = count_words(prompt)
    else:
        msgs = [m for m in messages or [] if isinstance(m, dict)]
        req.messages = msgs
        req.prompt = gemma_prompt(msgs)
        req.prompt_words = sum(count_words(content_text(m.get("content"))) for m in msgs)


def json_schema_of(body: dict[str, Any]) -> tuple[bool, Any]:
    """(json mode?, schema or None) from ``response_format`` / ``guided_json``."""
    if body.get("guided_json") is not None:
        return True, body["guided_json"]
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return False, None
    schema = fmt.get("json_schema")
    if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
        schema = schema["schema"]
    return True, schema
