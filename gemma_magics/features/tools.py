"""Tools a model may call: specs from Python functions or JSON, and running one call.

Tools are Python functions (their JSON Schema comes from the signature's type hints and the
docstring's ``Args:`` section) or JSON tool specs (``{"name", "description", "parameters"}``
or OpenAI's ``{"type": "function", "function": {...}}``). The loop that sends results back
to the model until it answers in text is :mod:`gemma_magics.workflows.tool_loop`.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import time
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..events import ToolCall

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


@dataclass
class Tool:
    """A tool's spec, and the function that runs it (None for a JSON-only spec)."""

    spec: dict[str, Any]
    func: Callable[..., Any] | None = None

    @property
    def name(self) -> str:
        return self.spec["name"]


@dataclass
class ToolStep:
    """One executed tool call: what was asked, what came back, how long it took."""

    round: int
    name: str
    arguments: dict[str, Any]
    result: str
    error: str | None = None
    seconds: float = 0.0
    id: str | None = None

    def line(self) -> str:
        args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                         for k, v in self.arguments.items())
        outcome = f"error: {self.error}" if self.error else _clip(self.result, 120)
        return f"{self.name}({args}) → {outcome} · {self.seconds:.2f} s"


# -- specs -------------------------------------------------------------------------------


def json_type(tp: Any) -> dict[str, Any]:
    """A JSON Schema for a Python type hint (unknown hints give ``{}``: anything)."""
    if tp in (inspect.Parameter.empty, Any):
        return {}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        kinds = {_SIMPLE.get(type(a)) for a in args}
        out: dict[str, Any] = {"enum": list(args)}
        return {"type": kinds.pop(), **out} if len(kinds) == 1 and None not in kinds else out
    if origin in (typing.Union, getattr(types, "UnionType", ())):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return json_type(options[0])
        return {"anyOf": [json_type(a) for a in options]}
    if tp in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        item = json_type(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", **({"items": item} if item else {})}
    if tp is dict or origin in (dict, Mapping):
        return {"type": "object"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and hasattr(tp, "model_json_schema"):  # pydantic model
        return tp.model_json_schema()
    return {}


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:?\s*$")
_GOOGLE_ARG = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SPHINX_ARG = re.compile(r"^\s*:param\s+(?:[\w\[\], ]+\s+)?(\w+)\s*:\s*(.*)$")
_HEADINGS = re.compile(r"^(Returns?|Raises|Yields|Examples?|Notes?|See Also)\s*:?\s*$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google-style (``Args:``) or Sphinx
    (``:param x:``) docstring; the description is the text before the first section."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section, current, arg_indent = "summary", None, None
    for line in inspect.cleandoc(doc or "").splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if m := _SPHINX_ARG.match(line):
            current, section = m.group(1), "sphinx"
            params[current] = m.group(2)
        elif indent == 0 and _SECTION.match(stripped):
            section, current, arg_indent = "args", None, None
        elif indent == 0 and (_HEADINGS.match(stripped) or stripped.startswith(":")):
            section = "other"
        elif section == "summary" and stripped:
            summary.append(stripped)
        elif section == "args" and stripped:
            m = _GOOGLE_ARG.match(line)
            if m and (arg_indent is None or indent <= arg_indent):
                arg_indent, current = indent, m.group(1).lstrip("*")
                params[current] = m.group(3)
            elif current:
                params[current] += " " + stripped
        elif section == "sphinx" and stripped and current and indent > 0:
            params[current] += " " + stripped
    return " ".join(summary), {k: v.strip() for k, v in params.items()}


def function_spec(func: Callable[..., Any]) -> dict[str, Any]:
    """``{"name", "description", "parameters"}`` from a function's signature and docstring."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    description, docs = parse_docstring(inspect.getdoc(func))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = dict(json_type(hints.get(name, param.annotation)))
        if docs.get(name):
            schema["description"] = docs[name]
        if param.default is param.empty:
            required.append(name)
        elif isinstance(param.default, (str, int, float, bool)):
            schema["default"] = param.default
        properties[name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return {"name": func.__name__, "description": description or func.__name__,
            "parameters": parameters}


def as_tools(obj: Any) -> list[Tool]:
    """Functions and/or JSON specs (one, or a list) as :class:`Tool` objects."""
    items = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    tools: list[Tool] = []
    for index, item in enumerate(items, 1):
        try:
            tools.append(_tool_of(item))
        except ValidationError:
            raise
        except Exception as exc:  # a hostile __getattr__, a signature that cannot be read
            raise ValidationError(
                f"tool {index} (a {type(item).__name__}) could not be read: "
                f"{type(exc).__name__}: {_first_line(exc)}",
                fix="pass plain functions or {'name', 'description', 'parameters'} specs",
            ) from None
    for tool in tools:
        if not _TOOL_NAME.fullmatch(tool.name):
            raise ValidationError(
                f"tool name {tool.name[:70]!r} is not allowed: providers take letters, digits, "
                "_ and - (at most 64)", fix="define the tool with def and a plain name "
                "(a lambda is named '<lambda>'), or give the spec such a 'name'")
    names = [t.name for t in tools]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ValidationError(f"two tools are named {duplicate!r}", fix="give each a unique name")
    return tools


#: What OpenAI, Workers AI and Gemini all accept as a function name.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _tool_of(item: Any) -> Tool:
    if isinstance(item, Tool):
        return item
    if callable(item) and not isinstance(item, Mapping):
        return Tool(function_spec(item), item)
    if isinstance(item, Mapping):
        return Tool(_normalise_spec(item))
    raise ValidationError(f"a tool must be a function or a JSON spec, not "
                          f"{type(item).__name__}",
                          fix="pass functions or {'name', 'description', 'parameters'}")


def _first_line(exc: BaseException) -> str:
    try:
        return (str(exc).splitlines() or [""])[0][:200]
    except Exception:
        return "(no message)"


def _normalise_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    inner = spec.get("function") if spec.get("type") == "function" else spec
    if not isinstance(inner, Mapping) or not isinstance(inner.get("name"), str):
        raise ValidationError("a JSON tool spec needs a 'name'",
                              fix="use {'name', 'description', 'parameters': {JSON Schema}}")
    out = {"name": inner["name"], "description": str(inner.get("description") or inner["name"]),
           "parameters": dict(inner["parameters"]) if isinstance(inner.get("parameters"), Mapping)
           else {"type": "object", "properties": {}}}
    return out


def specs(tools: Any) -> list[dict[str, Any]] | None:
    """The provider-neutral specs for ``tools`` (None when there are none)."""
    if tools is None:
        return None
    return [t.spec for t in as_tools(tools)] or None


# -- running -------------------------------------------------------------------------------


def execute(tool: Tool | None, call: ToolCall, round_no: int) -> ToolStep:
    """Run one call; errors (unknown tool, bad arguments, an exception) become the result
    text sent back to the model, so it can recover."""
    start = time.perf_counter()
    step = ToolStep(round_no, call.name, dict(call.arguments), "", id=call.id)
    if tool is None or tool.func is None:
        step.error = f"no Python function named {call.name!r}"
    else:
        step.error = _check_arguments(tool, call.arguments)
    if step.error is None:
        try:
            value = tool.func(**call.arguments)
            step.result = value if isinstance(value, str) else json.dumps(
                value, default=str, ensure_ascii=False)
        except Exception as exc:
            step.error = f"{type(exc).__name__}: {exc}"
    if step.error:
        step.result = f"error: {step.error}"
    step.seconds = time.perf_counter() - start
    return step


def _check_arguments(tool: Tool, arguments: dict[str, Any]) -> str | None:
    if "_raw" in arguments and len(arguments) == 1:
        return f"the arguments were not a JSON object: {_clip(arguments['_raw'], 80)}"
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    schema = tool.spec.get("parameters") or {}
    error = best_match(validator_for(schema)(schema).iter_errors(arguments))
    return None if error is None else f"bad arguments: {error.message}"


def tool_turns(text: str, calls: list[ToolCall], steps: list[ToolStep]) -> list[dict[str, Any]]:
    """The assistant turn that asked for the calls and one ``tool`` turn per result, in the
    provider-neutral form the wire formats map (ids made up where the provider gave none)."""
    asked = [{"id": s.id, "name": c.name, "arguments": dict(c.arguments)}
             for c, s in zip(calls, steps)]
    turns: list[dict[str, Any]] = [{"role": "assistant", "content": text, "tool_calls": asked}]
    turns += [{"role": "tool", "tool_call_id": s.id, "name": s.name, "content": s.result}
              for s in steps]
    return turns


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
