"""The emulator's adjustable behaviour, one dataclass shared by all request threads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ERROR_STYLES = ("openai", "openrouter", "aimlapi", "google")
CF_USAGE_MODES = ("last", "every", "none")
TEXT_SOURCES = ("scripted", "local")

CLOUDFLARE_MODELS = (
    "@cf/google/gemma-4-26b-a4b-it",
    "@cf/google/gemma-3-12b-it",
    "@hf/google/gemma-7b-it",
    "@cf/google/gemma-2b-it-lora",
    "@cf/google/gemma-7b-it-lora",
)
DATAOORTS_MODELS = ("google/gemma-3-12b-it",)
#: What the model listings (``GET .../models``, Workers AI's model search) say of a model.
MODEL_PROPERTIES: dict[str, dict[str, Any]] = {
    "@cf/google/gemma-4-26b-a4b-it": {"context": 256000, "price_in": 0.10, "price_out": 0.30},
}
OPENAI_MODELS = (
    "google/gemma-4-31b-it",
    "google/gemma-4-26b-a4b-it",
    "gemma-4-31b-it",
    "gemma4:e4b",
    "google/gemma-3-4b-it",
    "google/gemma-3-12b-it",
    "google/gemma-3-27b-it",
    "gemma-3-12b-it",
    "gemma3:270m",
)


@dataclass
class Settings:
    """What the emulator answers and how.

    text: fixed answer split into tokens on word boundaries; None means the scripted default
      paragraph, cycled to ``answer_tokens`` words. Either way ``max_tokens`` cuts it
      (finish_reason "length").
    answer_tokens: natural length in words of the default scripted answer.
    text_source: "scripted" or "local" (the real Gemma 3 270M through llama_cpp).
    tool_calls: scripted tool calls ``[{"name": ..., "arguments": {...}}]`` returned when the
      request carries ``tools``; None means answer with text even if tools are offered.
    tool_rounds: how many times the tool calls are asked for in one conversation: once the
      conversation carries that many rounds of tool results, the answer is text.
    json_response: object returned in JSON mode; None builds one from the request's schema;
      a str is sent as the raw answer text (e.g. malformed JSON, to test a client's parser).
    first_byte_latency / per_token_latency: seconds before the status line / between frames.
    error_style: error body shape on OpenAI-compatible routes (see ``ERROR_STYLES``).
    error_styles: ``{path substring: style}`` overrides, first match wins.
    sse_comment: if set, every stream starts with ``: <sse_comment>`` (e.g.
      "OPENROUTER PROCESSING").
    cf_usage: where Workers AI native streams put usage: "last" frame, "every" frame, "none".
    cf_openai_chunks: Workers AI native URL streams OpenAI-shaped chunks instead.
    reasoning_text / reasoning_tokens: the thinking streamed before the answer when a request
      turns thinking on (None: a scripted default), cut to that many tokens; they count
      toward max_tokens. reasoning_field: the answer field for it (None: as the server the
      request came for names it; see ``formats/reasoning.py``).
    require_auth / api_key: demand ``Authorization: Bearer <non-empty>``; if api_key is set the
      token must equal it (it is never echoed).
    billed_cost_per_token: when > 0, OpenAI-compatible answers report a billed cost of
      total tokens × this, as OpenRouter does (``usage.cost``) or, on aimlapi-styled paths,
      as AIML does (``meta.usage.usd_spent``).
    answer_book / answer_seed / degrade: answer known questions from a book, as a host or a
      degraded host would (see ``answer_book.py``); degrade is the chance (0..1) that an
      answer is damaged, or ``{path fragment: chance}`` to degrade some routes only.
    *_models: model ids each route knows (Cloudflare/Dataoorts reject others with 5007); the
      OpenAI-compatible route accepts any model and lists ``openai_models`` on GET /v1/models;
      Workers AI's model search lists ``cloudflare_models``.
    model_properties: ``{id: {"context", "price_in", "price_out"}}`` the listings report
      (context_length/pricing per token on /models, properties on the model search).
    """

    text: str | None = None
    answer_tokens: int = 64
    text_source: str = "scripted"
    tool_calls: list[dict[str, Any]] | None = None
    tool_rounds: int = 1
    json_response: Any = None
    first_byte_latency: float = 0.0
    per_token_latency: float = 0.0
    error_style: str = "openai"
    error_styles: dict[str, str] = field(default_factory=dict)
    sse_comment: str | None = None
    cf_usage: str = "last"
    cf_openai_chunks: bool = False
    billed_cost_per_token: float = 0.0
    require_auth: bool = True
    api_key: str | None = field(default=None, repr=False)
    reasoning_text: str | None = None
    reasoning_tokens: int = 24
    reasoning_field: str | None = None
    cloudflare_models: list[str] = field(default_factory=lambda: list(CLOUDFLARE_MODELS))
    dataoorts_models: list[str] = field(default_factory=lambda: list(DATAOORTS_MODELS))
    openai_models: list[str] = field(default_factory=lambda: list(OPENAI_MODELS))
    answer_book: dict[str, Any] | None = None
    answer_seed: int = 0
    degrade: float | dict[str, float] = 0.0
    model_properties: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {k: dict(v) for k, v in MODEL_PROPERTIES.items()})

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ValueError on an out-of-range setting."""
        styles = [self.error_style, *self.error_styles.values()]
        bad = [s for s in styles if s not in ERROR_STYLES]
        if bad:
            raise ValueError(f"unknown error style {bad[0]!r}; use one of {ERROR_STYLES}")
        if self.cf_usage not in CF_USAGE_MODES:
            raise ValueError(f"cf_usage must be one of {CF_USAGE_MODES}")
        if self.text_source not in TEXT_SOURCES:
            raise ValueError(f"text_source must be one of {TEXT_SOURCES}")
        if self.first_byte_latency < 0 or self.per_token_latency < 0:
            raise ValueError("latencies must be >= 0")
        if self.answer_tokens < 0:
            raise ValueError("answer_tokens must be >= 0")
        if self.billed_cost_per_token < 0:
            raise ValueError("billed_cost_per_token must be >= 0")
        levels = self.degrade.values() if isinstance(self.degrade, dict) else [self.degrade]
        if not all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in levels):
            raise ValueError("degrade must be between 0 and 1 (or {path fragment: level})")

    def updated(self, **changes: Any) -> Settings:
        """A checked copy with ``changes`` applied; unknown names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def style_for(self, path: str) -> str:
        """Error style for a request path."""
        for fragment, style in self.error_styles.items():
            if fragment in path:
                return style
        return self.error_style

    def public(self) -> dict[str, Any]:
        """JSON-ready view, the API key masked."""
        out = dataclasses.asdict(self)
        out["api_key"] = "REDACTED" if self.api_key else None
        return out


def latency_changes(first_byte: float | None, per_token: float | None) -> dict[str, float]:
    """The settings a ``set_latency(first_byte, per_token)`` call changes (None: unchanged)."""
    changes = {}
    if first_byte is not None:
        changes["first_byte_latency"] = first_byte
    if per_token is not None:
        changes["per_token_latency"] = per_token
    return changes
