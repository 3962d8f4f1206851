"""Emulated thinking: whether a request turned it on (in its provider's own field), which
field the answer carries it in, and the scripted reasoning tokens.

On: ``chat_template_kwargs.enable_thinking: true`` (Workers AI, vLLM, llama-server),
``reasoning: {enabled: true}`` or ``{effort}`` not "none" (OpenRouter), ``reasoning_effort``
low/medium/high (Ollama, AIML API, Workers AI, the Gemini API's OpenAI route). Anything
else, "none" and "minimal" included, is off: no reasoning at all.

The answer field follows the server: ``reasoning_content`` on Workers AI and llama-server
(which a client asks for with ``reasoning_format``), ``reasoning`` on OpenRouter, Ollama
and vLLM; ``Settings.reasoning_field`` overrides it.
"""

from __future__ import annotations

from typing import Any

from ..text import split_tokens

DEFAULT_REASONING = (
    "The user asks a question. I should recall what I know, check it step by step, and "
    "then answer briefly and plainly."
)
_ON_EFFORTS = ("low", "medium", "high", "xhigh")


def requested(body: Any) -> bool:
    """Whether the request body turns thinking on."""
    if not isinstance(body, dict):
        return False
    kwargs = body.get("chat_template_kwargs")
    if isinstance(kwargs, dict) and "enable_thinking" in kwargs:
        return kwargs["enable_thinking"] is True
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        if "enabled" in reasoning:
            return reasoning["enabled"] is True
        return reasoning.get("effort") in _ON_EFFORTS
    return body.get("reasoning_effort") in _ON_EFFORTS


def answer_field(body: Any, route: str, override: str | None = None) -> str:
    """``reasoning_content`` or ``reasoning``, as the emulated server would name it."""
    if override:
        return override
    if route.startswith("cloudflare") or (isinstance(body, dict) and "reasoning_format" in body):
        return "reasoning_content"
    return "reasoning"


def reasoning_tokens(text: str | None, n_tokens: int) -> list[str]:
    """The scripted thinking: ``text`` (or the default) as tokens, at most ``n_tokens``."""
    tokens = split_tokens(text if text is not None else DEFAULT_REASONING)
    return tokens[:n_tokens]
