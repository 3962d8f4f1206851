"""Judge-free checks of one probe's answer: every check text of
:mod:`gemma_magics.scoring.checks` (``number:391``, ``icontains:paris``, ``regex:^YES$``,
``equals:``, ``max-chars:``...), plus two that need the probe: ``json-schema`` without a
name (the probe's own schema; also reports whether the answer was JSON at all) and
``tool:NAME`` (a call of NAME whose arguments parse, match the tool's schema and equal the
probe's expected arguments). ``not-`` negates any of them.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


@dataclass
class Outcome:
    """A check's verdict on one answer; ``valid`` is the JSON / tool-call validity (None
    when the probe asks for neither)."""

    passed: bool
    valid: bool | None = None


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


def run_check(check: str, answer: str, tool_calls: Any = None, probe: Any = None,
              row: Any = None) -> Outcome:
    """Apply one check text to an answer (and the tool calls that came with it).

    ``json-schema`` (no name: the probe's schema) and ``tool:NAME`` are the verifier's own;
    every other form is :class:`gemma_magics.scoring.checks.Check` (a ``None`` verdict, a
    check that could not decide, counts as a failure)."""
    negate = check.startswith("not-")
    form, _, arg = check[4 if negate else 0:].partition(":")
    text = answer or ""
    valid: bool | None = None
    if form == "json-schema" and not arg:
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
        return Outcome(bool(_scoring_check(check)(text, row or {}).passed))
    return Outcome(passed != negate, valid)


@functools.lru_cache(maxsize=256)
def _scoring_check(check: str) -> Any:
    from ..scoring.checks import Check

    return Check(check)


def check_text(check: str) -> str:
    """Validate a check before anything runs (one clear error); returns it."""
    form, _, arg = check.removeprefix("not-").partition(":")
    if not (form == "tool" or (form == "json-schema" and not arg)):
        _scoring_check(check)
    return check
