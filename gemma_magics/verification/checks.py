"""Judge-free checks of one answer, in the compact text form of the scoring issue:
``number:391``, ``equals:TEXT``, ``icontains:TEXT``, ``contains:TEXT``, ``regex:PATTERN``,
``json-schema`` (the probe's schema), ``tool:NAME`` (a call of NAME with the probe's
arguments); ``not-`` negates any of them.

A private stand-in for ``gemma_magics.scoring.checks`` (issue 15, built in parallel): when
that lands, :func:`run_check` should delegate to it for the shared forms.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
FORMS = ("number", "equals", "icontains", "contains", "regex", "json-schema", "tool")


@dataclass
class Outcome:
    """A check's verdict on one answer; ``valid`` is the JSON / tool-call validity (None
    when the probe asks for neither)."""

    passed: bool
    valid: bool | None = None


def first_number(text: str) -> float | None:
    match = _NUMBER.search(text or "")
    if match is None:
        return None
    try:
        return float(match.group().replace(",", ""))
    except ValueError:
        return None


def parse_json(text: str) -> Any:
    """The JSON value of an answer (a ```json fence allowed); raises ValueError."""
    body = text or ""
    fenced = _FENCE.match(body)
    return json.loads(fenced.group(1) if fenced else body)


def _schema_ok(value: Any, schema: dict[str, Any] | None) -> bool:
    if schema is None:
        return True
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema).is_valid(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return a == b


def _tool_outcome(name: str, calls: list[dict[str, Any]], probe: Any) -> Outcome:
    mine = [c for c in calls if c.get("name") == name]
    if not mine:
        return Outcome(False, False)
    args = mine[0].get("arguments")
    params = (probe.tool or {}).get("parameters") if probe is not None else None
    valid = isinstance(args, dict) and "_raw" not in args and _schema_ok(args, params)
    wanted = (probe.arguments if probe is not None else None) or {}
    correct = valid and all(_same(args.get(k), v) for k, v in wanted.items())
    return Outcome(bool(correct), bool(valid))


def tool_calls_of(value: Any) -> list[dict[str, Any]]:
    """A record's ``tool_calls`` (JSON text or a list) as a list of dicts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def run_check(check: str, answer: str, tool_calls: Any = None, probe: Any = None) -> Outcome:
    """Apply one check text to an answer (and the tool calls that came with it)."""
    negate = check.startswith("not-")
    form, _, arg = check[4 if negate else 0:].partition(":")
    text = answer or ""
    valid: bool | None = None
    if form == "number":
        got, want = first_number(text), first_number(arg)
        passed = got is not None and want is not None and math.isclose(got, want, abs_tol=1e-9)
    elif form == "equals":
        passed = text.strip() == arg.strip()
    elif form == "icontains":
        passed = arg.lower() in text.lower()
    elif form == "contains":
        passed = arg in text
    elif form == "regex":
        passed = re.search(arg, text) is not None
    elif form == "json-schema":
        try:
            value = parse_json(text)
            valid = True
        except ValueError:
            value, valid = None, False
        passed = bool(valid) and _schema_ok(value, getattr(probe, "schema", None))
    elif form == "tool":
        result = _tool_outcome(arg, tool_calls_of(tool_calls), probe)
        passed, valid = result.passed, result.valid
    else:
        raise ValidationError(f"unknown check {check!r}", fix=f"use one of: {', '.join(FORMS)}")
    return Outcome(passed != negate, valid)


def check_text(check: str) -> str:
    """Validate a check's form before anything runs; returns it."""
    form = check.removeprefix("not-").partition(":")[0]
    if form not in FORMS:
        raise ValidationError(f"unknown check {check!r}", fix=f"use one of: {', '.join(FORMS)}")
    if form == "regex":
        try:
            re.compile(check.partition(":")[2])
        except re.error as exc:
            raise ValidationError(f"check {check!r} is not a valid regex: {exc}") from None
    return check
