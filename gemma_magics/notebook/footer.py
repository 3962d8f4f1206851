"""The one-line summary shown under an answer: provider, model, tokens, TTFT, speed, cost."""

from __future__ import annotations

import math

from ..records.log import Record


def _num(value: float | None, fmt: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return format(value, fmt)


def cost_text(cost: float | None) -> str:
    if cost is None or math.isnan(cost):
        return "cost n/a"
    if cost == 0:
        return "$0"
    return f"${cost:.6f}" if cost < 0.01 else f"${cost:.4f}"


def billed_disagrees(computed: float | None, billed: float | None) -> bool:
    """Whether a provider's billed cost differs from the computed one (by over 1%), or
    stands where no price was known."""
    if billed is None or math.isnan(billed):
        return False
    if computed is None or math.isnan(computed):
        return True
    return abs(billed - computed) > max(0.01 * max(abs(billed), abs(computed)), 1e-12)


def _stopped(record: Record) -> str | None:
    """Why generation ended: the model finished, or max_tokens cut it."""
    if record.status != "ok":
        return None
    if record.finish_reason == "length":
        return f"cut at max_tokens {record.max_tokens}" if record.max_tokens else "cut at max_tokens"
    return {"stop": "end of answer", "tool_calls": "tool call"}.get(record.finish_reason or "")


def footer_text(record: Record) -> str:
    """E.g. ``local · gemma-3-270m · 9 → 64 tokens · cut at max_tokens 64 · TTFT 0.04 s ·
    85.1 tok/s · $0``; a thinking model's ``9 → 80 tokens (40 thinking)`` counts its
    reasoning tokens apart."""
    parts = [record.provider, record.model]
    if record.prompt_tokens is not None or record.completion_tokens is not None:
        tokens = f"{record.prompt_tokens or 0} → {record.completion_tokens or 0} tokens"
        if record.reasoning_tokens:
            tokens += f" ({record.reasoning_tokens} thinking)"
        if record.usage_source and record.usage_source != "provider":
            tokens += f" ({record.usage_source})"
        parts.append(tokens)
    why = _stopped(record)
    if why:
        parts.append(why)
    ttft = _num(record.ttft_s, ".2f")
    if ttft:
        parts.append(f"TTFT {ttft} s")
    rate = _num(record.tokens_per_s, ".1f")
    if rate:
        parts.append(f"{rate} tok/s")
    latency = _num(record.latency_s, ".2f")
    if latency:
        parts.append(f"{latency} s total")
    parts.append(cost_text(record.cost_usd))
    if billed_disagrees(record.cost_usd, record.billed_cost_usd):
        parts.append(f"billed {cost_text(record.billed_cost_usd)}")
    if record.cached:
        parts.append("cached")
    if record.retries:
        parts.append(f"{record.retries} retr{'y' if record.retries == 1 else 'ies'}")
    if record.status != "ok":
        parts.append(record.status)
    return " · ".join(parts)
