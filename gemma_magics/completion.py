"""The result of one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import ToolCall
from .records.log import Record


@dataclass
class Completion:
    """What :func:`gemma_magics.generate` returns and ``%%gemma -o NAME`` stores.

    ``text`` is the answer (partial if the call failed or was interrupted), ``record`` the
    logged record with every setting and metric, ``value`` the parsed object in JSON mode,
    ``tool_calls`` the calls the model asked for, ``steps`` the tools run by
    :func:`gemma_magics.features.tools.run_tools` (each a ``ToolStep``), ``reasoning`` a
    thinking model's reasoning (empty when it did not think; never part of ``text``).
    """

    text: str
    record: Record
    tool_calls: list[ToolCall] = field(default_factory=list)
    value: Any = None
    error: Exception | None = None
    steps: list[Any] = field(default_factory=list)
    reasoning: str = ""

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        r = self.record
        head = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return (
            f"Completion({head!r}, provider={r.provider!r}, model={r.model!r}, "
            f"status={r.status!r}, completion_tokens={r.completion_tokens})"
        )


def empty_after_thinking(record: Record) -> str | None:
    """The one line shown instead of an empty answer when thinking used the whole budget
    (finish reason ``length``, reasoning but no answer text); None otherwise."""
    if record.finish_reason != "length" or record.response or not record.reasoning:
        return None
    budget = f"all {record.max_tokens} max_tokens" if record.max_tokens else "the token budget"
    return (f"no answer: thinking used {budget} before the answer began (raise --max-tokens, "
            "e.g. --max-tokens 2048, or use --think off)")

