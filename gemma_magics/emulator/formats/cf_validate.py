"""Workers AI input checks: parameter ranges and message shapes, as 400 code 5006."""

from __future__ import annotations

from typing import Any

from .. import schemas
from . import shapes
from .common import WireError

BAD_INPUT = 5006
NO_SUCH_MODEL = 5007

# (low, high, integer?) per parameter; gemma-3-12b-it values, with gemma-7b-it exceptions.
RANGES: dict[str, tuple[float, float, bool]] = {
    "max_tokens": (1, 1_000_000, True),
    "temperature": (0, 5, False),
    "top_p": (0, 2, False),
    "top_k": (1, 50, True),
    "seed": (1, 9_999_999_999, True),
    "repetition_penalty": (0, 2, False),
    "frequency_penalty": (0, 2, False),
    "presence_penalty": (0, 2, False),
}
RANGES_GEMMA_7B = {
    **RANGES,
    "top_p": (0.001, 1, False),
    "frequency_penalty": (-2, 2, False),
    "presence_penalty": (-2, 2, False),
}
ROLES = ("system", "user", "assistant", "tool")
VISION_MODELS = ("@cf/google/gemma-3-12b-it", "google/gemma-3-12b-it")
#: Models whose ai/run route takes OpenAI-style fields and answers a chat.completion.
OPENAI_STYLE_MODELS = ("@cf/google/gemma-4-26b-a4b-it",)


def bad_input(detail: str) -> WireError:
    return WireError(400, f"AiError: Bad input: Error: {detail}", BAD_INPUT)


def check_model(model: str, known: list[str]) -> None:
    if model not in known:
        raise WireError(400, f"No such model {model} or task", NO_SUCH_MODEL)


def check_ranges(body: dict[str, Any], model: str) -> None:
    ranges = RANGES_GEMMA_7B if "gemma-7b-it" in model else RANGES
    for name, (low, high, integer) in ranges.items():
        if body.get(name) is None:
            continue
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_input(f"In property '/{name}', must be number")
        if integer and value != int(value):
            raise bad_input(f"In property '/{name}', must be integer")
        if value < low:
            raise bad_input(f"In property '/{name}', must be >= {low}")
        if value > high:
            raise bad_input(f"In property '/{name}', must be <= {high}")
    for name in ("stream", "raw"):
        if name in body and not isinstance(body[name], bool):
            raise bad_input(f"In property '/{name}', must be boolean")


def check_messages(body: dict[str, Any], model: str) -> None:
    prompt, messages = body.get("prompt"), body.get("messages")
    if prompt is None and messages is None:
        raise bad_input("must have required property 'prompt', must have required property "
                        "'messages', must match exactly one schema in oneOf")
    if prompt is not None and messages is not None:
        raise bad_input("must match exactly one schema in oneOf")
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt:
            raise bad_input("In property '/prompt', must be a non-empty string")
        return
    if not isinstance(messages, list) or not messages:
        raise bad_input("In property '/messages', must be a non-empty array")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            raise bad_input(f"In property '/messages/{i}/role', must be one of {ROLES}")
        _check_content(msg.get("content"), f"/messages/{i}/content", model)


def _check_content(content: Any, where: str, model: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or model not in VISION_MODELS:
        raise bad_input(f"In property '{where}', must be string")
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if isinstance(url, str) and url.startswith("data:"):
                continue
            raise bad_input(f"In property '{where}/{j}/image_url/url', only data URLs are "
                            "supported")
        raise bad_input(f"In property '{where}/{j}', unsupported content part")


def check_workers_body(body: Any, model: str, known: list[str],
                       by_schema: bool = True) -> dict[str, Any]:
    """Raise WireError like Workers AI would; return the body as a dict.

    A model with a published input schema (``emulator/schemas``) is checked by it, closed:
    a key its branch does not list is bad input, as is a value out of its range. Others get
    the older hand-written checks.
    """
    check_model(model, known)
    if not isinstance(body, dict):
        raise bad_input("request body must be a JSON object")
    if by_schema and schemas.published(model) is not None:
        problems = schemas.violations(body, model)
        if problems:
            raise bad_input(problems[0])
        shapes.check_messages(body.get("messages") or [], "workers")  # image data itself
        return body
    check_ranges(body, model)
    check_messages(body, model)
    if body.get("lora") is not None and not isinstance(body["lora"], str):
        raise bad_input("In property '/lora', must be string")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        raise bad_input("In property '/tools', must be array")
    shapes.check_tools(body.get("tools"), "workers")
    shapes.check_messages(body.get("messages") or [], "workers")
    shapes.check_response_format(body, "workers")
    return body
