"""What a hosted provider's wire-format module supplies to the shared HTTP plumbing.

A wire format is pure mapping, with no I/O: :meth:`WireFormat.build` turns a
:class:`~.base.Request` into an :class:`HttpCall`; :meth:`WireFormat.answer` turns a
non-streamed body into events; a :class:`StreamParser` turns one SSE frame at a time into
events; :meth:`WireFormat.error` turns an error body into an
:class:`~gemma_magics.errors.APIError`. ``gemma_magics.providers.transport`` does the sending, for the
sync and async paths alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog.models import RANGED_PARAMS, ModelInfo
from ..catalog.thinking import takes_system
from ..config import Secret
from ..errors import APIError, CapabilityError, StreamError
from ..events import Event, Usage
from .base import Request
from .thinking import reasoning_tokens

#: The sampling settings every hosted format may carry, in the order they are sent.
SAMPLING_FIELDS = RANGED_PARAMS
MESSAGE_LIMIT = 300  # characters of a provider's message kept in a one-line error


@dataclass
class HttpCall:
    """One HTTP request to send. The key stays a :class:`Secret` until the moment of sending,
    so no repr of a call can show it."""

    url: str
    body: dict[str, Any]
    stream: bool
    api_key: Secret | None = None
    headers: dict[str, str] = field(default_factory=dict)


class StreamParser:
    """Per-call state while reading an SSE stream.

    :meth:`feed` takes the ``data`` of one SSE event and returns its events (raising
    :class:`StreamError` for an error frame); :meth:`end` is called when the stream ended
    normally and returns what was held back (usage, pending tool calls).
    """

    #: Set when the provider said the answer is over (``[DONE]`` or a finish reason).
    finished = False
    #: Set on ``[DONE]``: nothing more will come, stop reading.
    done = False

    def feed(self, data: str, event: str = "message") -> list[Event]:
        raise NotImplementedError

    def end(self) -> list[Event]:
        return []


class WireFormat:
    """The mapping between one provider API and the common request/events."""

    def __init__(self, provider: str, error_style: str = "openai"):
        self.provider = provider
        self.error_style = error_style

    def build(self, request: Request, base_url: str, api_key: Secret | None) -> HttpCall:
        raise NotImplementedError

    def answer(self, data: Any) -> list[Event]:
        raise NotImplementedError

    def stream_parser(self) -> StreamParser:
        raise NotImplementedError

    def error(self, status: int | None, body: str, headers: Mapping[str, str]) -> APIError:
        raise NotImplementedError


# -- helpers shared by the formats ---------------------------------------------------------


try:  # optional: about 3x faster per stream frame; json.loads decides whenever it refuses
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = json.loads


def load_json(text: str, what: str, provider: str) -> Any:
    """Parse a JSON frame or body, or raise a one-line StreamError quoting its start."""
    try:
        return _fast_loads(text)
    except ValueError:
        pass  # orjson is stricter (NaN, integers past 64 bits): let json have the last word
    try:
        return json.loads(text)
    except ValueError:
        raise StreamError(
            f"unreadable {what}: {one_line(text, 80) or '(empty)'}",
            provider=provider,
            fix="the answer was cut or malformed; retry",
        ) from None


def one_line(text: Any, limit: int = MESSAGE_LIMIT) -> str:
    """Any text as one line of at most ``limit`` characters (HTML pages by their title)."""
    text = str(text or "")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(value: Any) -> int | None:
    """A token count as an int, or None when absent, zero, negative or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return int(value)


def usage_event(raw: Any) -> Usage | None:
    """A provider usage object as :class:`Usage`, or None when it reports nothing useful.

    A zero completion count under an answer is a known provider bug (AIML API): zeros become
    None so the recorder counts with the tokenizer instead of believing them, and the total
    is dropped with it since it was computed from that zero.
    """
    if not isinstance(raw, Mapping):
        return None
    prompt = _count(raw.get("prompt_tokens", raw.get("input_tokens")))
    completion = _count(raw.get("completion_tokens", raw.get("output_tokens")))
    total = _count(raw.get("total_tokens")) if completion is not None else None
    if prompt is None and completion is None:
        return None
    return Usage(prompt, completion, total, source="provider",
                 reasoning_tokens=reasoning_tokens(raw))


def sampling(request: Request, renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings that were set and the backend honours, under the backend's names."""
    values = request.params.as_dict()
    out: dict[str, Any] = {}
    for name in SAMPLING_FIELDS:
        value = values.get(name)
        if value is None or name in request.model.unsupported:
            continue
        out[(renames or {}).get(name, name)] = value
    return out


def chat_messages(request: Request, *, system_role: bool) -> list[dict[str, Any]]:
    """The conversation in OpenAI roles, the system prompt as a ``system`` message or folded
    into the first user turn, images attached to the last user message as data-URL parts."""
    from .base import fold_system

    system = request.params.system
    system_role = system_role or takes_system(request.model)  # Gemma 4 has a system turn
    if system_role and system:
        messages = [{"role": "system", "content": system}, *[dict(m) for m in request.messages]]
    else:
        messages = fold_system(request.messages, system)
    if request.images:
        check_images(request)
        last = max(i for i, m in enumerate(messages) if m["role"] == "user")
        text = messages[last]["content"]
        parts = [{"type": "text", "text": text}] if isinstance(text, str) else list(text)
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in request.images]
        messages[last] = {**messages[last], "content": parts}
    return messages


def check_features(request: Request) -> None:
    """Refuse tools or JSON mode the catalog says the model lacks (users can add the
    capability in their config), before anything is sent."""
    model: ModelInfo = request.model
    for wanted, capability, what in ((request.tools, "tools", "tool calls"),
                                     (request.response_format, "json", "JSON mode")):
        if wanted and model.known and not model.supports(capability):
            raise CapabilityError(
                f"{model.provider} {model.id} has no {what}",
                fix="see %gemma models for models that have it",
            )


def check_images(request: Request) -> None:
    """Refuse images a model cannot take, and anything but data URLs, before sending."""
    model: ModelInfo = request.model
    if model.known and not model.supports("images"):
        raise CapabilityError(
            f"{model.provider} {model.id} does not accept images",
            fix="use a vision model: Gemma 4 (the cloudflare default) or Gemma 3 4B+",
        )
    if any(not str(url).startswith("data:") for url in request.images):
        raise CapabilityError(
            "images must be sent as data URLs", fix="pass the image bytes or a file path"
        )


def json_schema_of(response_format: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(schema, name) from a request's ``response_format`` in any of the accepted shapes."""
    inner = response_format.get("json_schema")
    if isinstance(inner, Mapping):
        schema = inner.get("schema", inner)
        return dict(schema), str(inner.get("name") or response_format.get("name") or "output")
    schema = response_format.get("schema")
    return (dict(schema) if isinstance(schema, Mapping) else None,
            str(response_format.get("name") or "output"))
