"""Answering from an answer book, optionally as a degraded host.

Settings ``answer_book`` maps a question (the end of the last user message) to what a host
serving the model would answer::

    {"What is 17 * 23? Answer with the number only.":
        {"answers": ["391"], "wrong": "381"},
     "Write one sentence about the sea.":
        {"answers": ["The sea is wide.", "Waves fold over the sand.", ...]},
     "What is the weather in Paris? Use the tool.":
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}}

At temperature 0 the first answer is given; above it one of ``answers`` is drawn. Draws are
deterministic: the k-th request for a question on one route and model gets draw k of a
stream seeded by ``answer_seed``, the route path and the question, so a run's multiset of
answers does not depend on the order concurrent requests arrive in, and two routes (two
emulated hosts) sample independently from the same distribution.

``degrade`` (0..1, or ``{path fragment: level}`` for some routes only) makes a degraded host: each answer is, with that probability, damaged —
a checkable answer becomes its ``wrong`` one, free text is cut to its first half, tool-call
arguments arrive as broken JSON. ``degrade=0.2`` is "one wrong fact in five".
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from typing import Any

from .formats.common import ChatRequest, content_text

_lock = threading.Lock()


def question_of(req: ChatRequest) -> str:
    """The text the book is looked up by: the last user message, else the raw prompt."""
    for message in reversed(req.messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content")).strip()
    return (req.prompt or "").strip()


def find_entry(book: dict[str, Any], question: str) -> tuple[str, dict[str, Any]] | None:
    """The longest key the question ends with (a long-context probe ends with its question)."""
    hits = [key for key in book if question.endswith(key.strip())]
    if not hits:
        return None
    key = max(hits, key=len)
    return key, book[key]


def _rng(seed: int, path: str, model: str, key: str, draw: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{path}|{model}|{key}|{draw}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def next_draw(draws: dict[tuple[str, str, str], int], path: str, model: str, key: str) -> int:
    with _lock:
        n = draws.get((path, model, key), 0)
        draws[(path, model, key)] = n + 1
    return n


def broken_arguments(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same calls with their arguments cut mid-JSON (a string the client cannot parse)."""
    out = []
    for call in calls:
        text = json.dumps(call.get("arguments", {}))
        out.append({**call, "arguments": text[: max(1, len(text) // 2)]})
    return out


def degrade_level(degrade: float | dict[str, float], path: str) -> float:
    """The chance of damage on this route: a number, or the first matching path fragment."""
    if isinstance(degrade, dict):
        return next((float(v) for k, v in degrade.items() if k in path), 0.0)
    return float(degrade)


def book_answer(req: ChatRequest, settings: Any, draws: dict, path: str
                ) -> tuple[str | None, list[dict[str, Any]] | None] | None:
    """(text, tool calls) from the answer book, or None when the book has no such question.

    Exactly one of the two is set."""
    found = find_entry(settings.answer_book or {}, question_of(req))
    if found is None:
        return None
    key, entry = found
    rng = _rng(settings.answer_seed, path, req.model, key, next_draw(draws, path, req.model, key))
    damaged = rng.random() < degrade_level(settings.degrade, path)
    calls = entry.get("tool_calls")
    if calls and req.tools:
        return None, broken_arguments(calls) if damaged else calls
    answers = list(entry.get("answers") or [""])
    temperature = req.sampling.get("temperature")
    hot = temperature is not None and float(temperature) > 0 and len(answers) > 1
    text = answers[rng.randrange(len(answers))] if hot else answers[0]
    if damaged:
        wrong = entry.get("wrong")
        if wrong is not None:
            text = wrong
        else:
            words = text.split(" ")
            text = " ".join(words[: max(1, len(words) // 2)])
    return text, None
