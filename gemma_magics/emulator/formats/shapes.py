"""Checks of the richer request shapes (images, tools, tool-call turns, JSON schemas) that
the emulated services reject with a 400, so tests see a client's mistakes as a real
service would report them.

``style`` is "openai" (chat completions) or "workers" (Workers AI / Dataoorts): Workers AI
takes tool specs flat (``{name, description, parameters}``, or OpenAI-shaped), message
content as a string or parts, and only data URLs for images; OpenAI-compatible services
take ``{"type": "function", "function": {...}}`` tools, and an assistant turn's
``tool_calls`` with arguments as a JSON string, each answered by a ``tool`` message whose
``tool_call_id`` names a call.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .common import WireError

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def bad(style: str, detail: str) -> WireError:
    if style == "workers":
        return WireError(400, f"AiError: Bad input: Error: {detail}", 5006)
    return WireError(400, detail)


def check_image_url(url: Any, where: str, style: str) -> None:
    """A data URL with an image type and valid base64 (http URLs only on OpenAI routes)."""
    if not isinstance(url, str) or not url:
        raise bad(style, f"{where}: image_url.url must be a non-empty string")
    if url.startswith(("http://", "https://")) and style == "openai":
        return
    head, _, payload = url.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        raise bad(style, f"{where}: only base64 data URLs are supported")
    if head[5:-7] not in _IMAGE_TYPES:
        raise bad(style, f"{where}: unsupported image type {head[5:-7]!r}")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad(style, f"{where}: the image data is not valid base64") from None


def check_tools(tools: Any, style: str) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad(style, "'tools' must be an array")
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) and "function" in tool else tool
        if style == "openai" and not (isinstance(tool, dict) and tool.get("type") == "function"):
            raise bad(style, f"tools[{i}].type must be 'function'")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad(style, f"tools[{i}] must have a 'name'")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise bad(style, f"tools[{i}].parameters must be a JSON Schema object")


def check_messages(messages: list[Any], style: str) -> None:
    """Image parts, assistant tool calls and the tool results that answer them."""
    open_ids: set[str] = set()
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "image_url":
                    check_image_url((part.get("image_url") or {}).get("url"),
                                    f"messages[{i}].content[{j}]", style)
        calls = msg.get("tool_calls")
        if msg.get("role") == "assistant" and calls is not None:
            open_ids |= _check_calls(calls, i, style)
        if msg.get("role") == "tool":
            if not isinstance(content, str):
                raise bad(style, f"messages[{i}]: a tool message's content must be a string")
            call_id = msg.get("tool_call_id")
            if style == "openai" and call_id not in open_ids:
                raise bad(style, f"messages[{i}]: messages with role 'tool' must be a response "
                                 "to a preceding message with 'tool_calls'")


def _check_calls(calls: Any, i: int, style: str) -> set[str]:
    if not isinstance(calls, list) or not calls:
        raise bad(style, f"messages[{i}].tool_calls must be a non-empty array")
    ids = set()
    for j, call in enumerate(calls):
        where = f"messages[{i}].tool_calls[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if style == "openai":
            if not isinstance(fn, dict) or call.get("type") != "function" or not call.get("id"):
                raise bad(style, f"{where} must be {{id, type: 'function', function}}")
            args = fn.get("arguments")
            try:
                ok = isinstance(args, str) and isinstance(json.loads(args), dict)
            except ValueError:
                ok = False
            if not ok:
                raise bad(style, f"{where}.function.arguments must be a JSON object string")
            ids.add(call["id"])
        elif not isinstance(call, dict) or not isinstance(call.get("arguments", {}), dict):
            raise bad(style, f"{where}.arguments must be an object")
    return ids


def check_response_format(body: dict[str, Any], style: str) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema",
                                                            "text"):
        raise bad(style, "response_format.type must be json_object, json_schema or text")
    if fmt["type"] != "json_schema":
        return
    inner = fmt.get("json_schema")
    if not isinstance(inner, dict):
        raise bad(style, "response_format.json_schema must be an object")
    if style == "openai" and not (isinstance(inner.get("name"), str)
                                  and isinstance(inner.get("schema"), dict)):
        raise bad(style, "response_format.json_schema needs 'name' and 'schema'")


def tool_rounds(messages: list[Any]) -> int:
    """How many times tool results were already sent back in this conversation."""
    return sum(1 for a, b in zip(messages, messages[1:])
               if isinstance(a, dict) and isinstance(b, dict)
               and a.get("role") == "assistant" and b.get("role") == "tool")
