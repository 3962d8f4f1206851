"""The thinking switch as each provider takes it, and the reasoning as each one returns it.

``params.resolve`` has already decided ``request.params.think``: True or False for a model
that thinks (the user's choice, else :data:`gemma_magics.catalog.thinking.DEFAULT_THINK`),
None for one that does not. A decided switch is always sent, in the provider's own field,
never left to the provider's default (the sources disagree on what that default is):

============  ================================================  ==============================
provider      field sent (on / off)                              source
============  ================================================  ==============================
cloudflare,   ``chat_template_kwargs: {enable_thinking: b}``      cloudflare/cloudflare-docs
cloudflare-                                                       src/content/workers-ai-models/
openai                                                            gemma-4-26b-a4b-it.json (both
                                                                  the ``prompt`` and ``messages``
                                                                  branches; ``reasoning_effort``
                                                                  there is only low/medium/high,
                                                                  so it cannot say "off": not
                                                                  sent)
openrouter    ``reasoning: {enabled: b}``                         openrouter.ai/docs/use-cases/
                                                                  reasoning-tokens
aimlapi       ``reasoning_effort: "high"`` / ``"low"``            aimlapi/api-docs docs/api-
                                                                  references/text-models-llm/
                                                                  Google/ (gemma-4-31b-it: low,
                                                                  medium, high; no "off", so
                                                                  off is the least: unconfirmed
                                                                  that low means no thinking)
google        ``reasoning_effort: "high"`` / ``"minimal"``        Gemini API OpenAI compatibility
                                                                  (reasoning_effort maps to the
                                                                  thinking level; Gemma 4 has
                                                                  HIGH and MINIMAL): UNCONFIRMED
ollama        ``reasoning_effort: "medium"`` / ``"none"``         ollama/ollama openai/openai.go
                                                                  (FromChatRequest: "none" is
                                                                  think=false, high/medium/low
                                                                  think; its OpenAI route has no
                                                                  ``think`` field)
vllm          ``chat_template_kwargs: {enable_thinking: b}``      vllm-project/vllm vllm/reasoning/
                                                                  gemma4_reasoning_parser.py
                                                                  (enable_thinking puts <|think|>
                                                                  in a system turn; the parsed
                                                                  thought is ``reasoning``)
llamacpp      ``chat_template_kwargs: {enable_thinking: b}``,     ggml-org/llama.cpp
              with ``reasoning_format: "deepseek"`` when on       tools/server/README.md (both
                                                                  per-request fields; "deepseek"
                                                                  puts thoughts in
                                                                  ``reasoning_content``, "none"
                                                                  leaves them in the text)
other         ``chat_template_kwargs: {enable_thinking: b}``      what vLLM, llama-server and
OpenAI-                                                           SGLang share for Gemma 4
compatible
============  ================================================  ==============================

Reasoning comes back as ``reasoning_content`` (Workers AI, llama-server, vLLM before 0.10)
or ``reasoning`` (OpenRouter, Ollama, vLLM) in the message or the delta, and OpenRouter adds
``reasoning_details`` (read only when neither of the others came, so nothing is doubled).
Its token count is ``usage.completion_tokens_details.reasoning_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import CapabilityError
from .base import Request


def _template_switch(on: bool) -> dict[str, Any]:
    return {"chat_template_kwargs": {"enable_thinking": on}}


def _llamacpp(on: bool) -> dict[str, Any]:
    fields = _template_switch(on)
    if on:
        fields["reasoning_format"] = "deepseek"
    return fields


_FIELDS = {
    "cloudflare": _template_switch,
    "cloudflare-openai": _template_switch,
    "openrouter": lambda on: {"reasoning": {"enabled": on}},
    "aimlapi": lambda on: {"reasoning_effort": "high" if on else "low"},
    "google": lambda on: {"reasoning_effort": "high" if on else "minimal"},
    "ollama": lambda on: {"reasoning_effort": "medium" if on else "none"},
    "vllm": _template_switch,
    "llamacpp": _llamacpp,
}


def think_fields(provider: str, request: Request) -> dict[str, Any]:
    """The body fields that carry ``request.params.think`` to ``provider`` (empty when the
    model has no switch). A raw prompt carries its own switch (``<|think|>`` in the
    system turn), so nothing is added to it."""
    think = request.params.think
    if think is None or request.raw:
        return {}
    if provider == "dataoorts":
        raise CapabilityError(f"{provider} takes no thinking switch", fix="drop --think")
    return _FIELDS.get(provider, _template_switch)(think)


def reasoning_text(part: Mapping[str, Any]) -> str:
    """The reasoning in one message or delta, whichever field the server uses."""
    text = part.get("reasoning_content") or part.get("reasoning")
    if type(text) is str:
        return text
    details = part.get("reasoning_details")
    if not details or type(details) is not list:
        return ""
    return "".join(d.get("text") or d.get("summary") or "" for d in details
                   if isinstance(d, Mapping) and isinstance(d.get("text") or d.get("summary"),
                                                            str))


def reasoning_tokens(usage: Mapping[str, Any]) -> int | None:
    """``completion_tokens_details.reasoning_tokens`` (or ``output_tokens_details``)."""
    details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    if not isinstance(details, Mapping):
        return None
    value = details.get("reasoning_tokens")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
