"""What every provider receives (:class:`Request`) and the interface it implements."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..catalog.models import ModelInfo
from ..config import Endpoint
from ..events import Event
from ..params import Params


@dataclass(slots=True)  # one per run of a sweep
class Request:
    """One call, in provider-neutral form.

    ``messages`` is the conversation in OpenAI roles (``user``/``assistant``/``tool``),
    without the system prompt, which travels in ``params.system``; providers fold it into
    the first user turn where the backend has no system role. ``prompt`` is the last user
    text (what a record shows). With ``raw`` the prompt is sent exactly as the model's input.
    """

    prompt: str
    params: Params
    model: ModelInfo
    messages: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = True
    raw: bool = False
    lora: str | None = None
    #: None, {"type": "json_object"} or {"type": "json_schema", "schema": {...}, "name": ...}
    response_format: dict[str, Any] | None = None
    #: Tool specs as {"name", "description", "parameters"} (JSON Schema object).
    tools: list[dict[str, Any]] | None = None
    #: Images as data URLs, attached to the last user message.
    images: list[str] = field(default_factory=list)
    #: A chat session's turn: use the chat template even for a single message.
    chat: bool = False

    def __post_init__(self) -> None:
        if not self.messages:
            self.messages = [{"role": "user", "content": self.prompt}]


def fold_system(messages: list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
    """Gemma has no system turn: put the system prompt before the first user message."""
    if not system:
        return list(messages)
    out = [dict(m) for m in messages]
    for m in out:
        if m["role"] == "user" and isinstance(m["content"], str):
            m["content"] = f"{system}\n\n{m['content']}"
            return out
    return [{"role": "user", "content": system}, *out]


def gemma_template(messages: list[dict[str, Any]], system: str | None) -> str:
    """The exact Gemma chat-format prompt for ``messages`` (see providers.md)."""
    parts = ["<bos>"]
    for m in fold_system(messages, system):
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"] if isinstance(m["content"], str) else _text_of(m["content"])
        parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    parts.append("<start_of_turn>model\n")
    return "".join(parts)


def gemma4_template(messages: list[dict[str, Any]], system: str | None,
                    think: bool = False) -> str:
    """Gemma 4's chat format: ``<|turn>ROLE\n…<turn|>`` turns, the system prompt in its own
    ``system`` turn (Gemma 4 has one), ``<|think|>`` at the start of that turn to think."""
    parts = ["<bos>"]
    if system or think:
        parts.append(f"<|turn>system\n{'<|think|>' if think else ''}{system or ''}<turn|>\n")
    for m in messages:
        role = {"assistant": "model", "system": "system"}.get(m["role"], "user")
        content = m["content"] if isinstance(m["content"], str) else _text_of(m["content"])
        parts.append(f"<|turn>{role}\n{content}<turn|>\n")
    parts.append("<|turn>model\n")
    return "".join(parts)


def chat_template(messages: list[dict[str, Any]], system: str | None, *, gemma4: bool,
                  think: bool = False) -> str:
    """The exact prompt in the model generation's own format (Gemma 4, else Gemma 3)."""
    if gemma4:
        return gemma4_template(messages, system, think)
    return gemma_template(messages, system)


def _text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


class Provider:
    """A backend. Subclasses implement :meth:`stream`; :meth:`astream` is derived from it
    unless the subclass has a native async path (the HTTP providers do)."""

    #: Whether only one call may run at a time (the in-process model).
    serial = False

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.info = endpoint.provider
        self.name = self.info.name

    def stream(self, request: Request) -> Iterator[Event]:
        raise NotImplementedError

    async def astream(self, request: Request) -> AsyncIterator[Event]:
        """Run the blocking :meth:`stream` in a worker thread, relaying its events."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def work() -> None:
            gen = self.stream(request)
            try:
                for event in gen:
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                    if stop.is_set():
                        break
            except BaseException as exc:  # delivered to the awaiting task
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                gen.close()
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = loop.run_in_executor(None, work)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            await asyncio.shield(worker)

    def close(self) -> None:
        """Release connections or model memory."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
