"""Answer text: deterministic scripted tokens, or the real local model (see ``local.py``).

A :class:`Generation` is an iterable of token strings; once exhausted its ``finish_reason``
is "stop" or "length". One token becomes one stream frame, and usage counts are
prompt words / tokens sent.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

DEFAULT_PARAGRAPH = (
    "Gemma is a family of lightweight open models built from the same research and "
    "technology used to create the Gemini models. This answer comes from the gemma_magics "
    "emulator, which streams a fixed paragraph one word at a time so that tests and "
    "benchmarks see the same text on every run, whatever provider format they speak."
)
_DEFAULT_WORDS = [w + " " for w in DEFAULT_PARAGRAPH.split()]
_TOKEN_RE = re.compile(r"\S+\s*|\s+")


class Generation:
    """Tokens of one answer. Iterate once; then read ``finish_reason``."""

    def __init__(self, tokens: Iterable[str], finish_reason: str = "stop") -> None:
        self._tokens = tokens
        self.finish_reason = finish_reason

    def __iter__(self) -> Iterator[str]:
        yield from self._tokens

    def close(self) -> None:
        """Release a lazily generating source (no-op for scripted text)."""
        close = getattr(self._tokens, "close", None)
        if close is not None:
            close()


def split_tokens(text: str) -> list[str]:
    """Split on word boundaries so that ``"".join(split_tokens(t)) == t``."""
    return _TOKEN_RE.findall(text)


def count_words(text: str) -> int:
    """The emulator's token count for prompts: whitespace-separated words."""
    return len(text.split())


def scripted_tokens(text: str | None, answer_tokens: int) -> list[str]:
    """Tokens of the scripted answer before any max_tokens cut."""
    if text is not None:
        return split_tokens(text)
    return list(itertools.islice(itertools.cycle(_DEFAULT_WORDS), answer_tokens))


def scripted_generation(text: str | None, answer_tokens: int,
                        max_tokens: int | None) -> Generation:
    """The scripted answer, cut to ``max_tokens`` (finish_reason "length") when longer."""
    tokens = scripted_tokens(text, answer_tokens)
    if max_tokens is not None and len(tokens) > max_tokens:
        return Generation(tokens[:max_tokens], "length")
    return Generation(tokens, "stop")


def schema_instance(schema: Any, words: list[str]) -> Any:
    """A small value that satisfies a simple JSON schema (for JSON mode answers)."""
    if not isinstance(schema, dict):
        return {"response": "".join(words).strip()}
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties") or {}
        if not props:
            return {"response": "".join(words).strip()}
        return {name: schema_instance(sub, words) for name, sub in props.items()}
    if kind == "array":
        return [schema_instance(schema.get("items", {"type": "string"}), words)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "".join(words[:5]).strip() or "text"
