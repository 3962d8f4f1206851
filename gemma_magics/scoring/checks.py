"""Checks: deterministic scorers of one answer, written as short text or as Python.

Text form (fits a magic line and a DataFrame column)::

    contains:TEXT      icontains:TEXT    equals:TEXT     starts-with:TEXT
    regex:PATTERN      is-json           json-schema:NAME
    number:42          number:{expected}~0.01    number:3.14~1%     (the last number in the answer)
    max-tokens:N       max-chars:N       finish:stop     python:NAME

``not-`` before any of them negates it (``not-icontains:sorry``). ``{expected}`` is replaced by
the prompt's reference answer (``compare(..., expected=...)``, a DataFrame's ``expected``
column); inside ``regex:`` it is matched literally. A leading ``[weight=2 threshold=0.5]``
sets the check's weight in the run's score and the value it must reach to pass (default 0.5:
a yes/no check passes on yes). ``NAME`` (``python:``, ``json-schema:``) is a variable of the
notebook, or a key of the ``functions=`` mapping: a function ``(answer, row) -> bool | float |
(bool, reason)`` or a JSON Schema (a dict, or a pydantic model class).

Python form: ``Check("icontains:Paris", weight=2)``, or any function ``(answer, row)``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..version import __version__

#: (value 0-1, reason); value None means the check could not be made (a recorded failure).
Outcome = tuple["float | None", str]
Evaluator = Callable[[str, Mapping[str, Any], Any], Outcome]

KINDS = ("contains", "icontains", "equals", "starts-with", "regex", "is-json", "json-schema",
         "python", "max-tokens", "max-chars", "finish", "number")
_NEEDS_ARG = set(KINDS) - {"is-json"}
_OPTIONS = re.compile(r"^\[\s*((?:(?:weight|threshold)\s*=\s*[-+0-9.eE]+\s*)+)\]\s*")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
EXPECTED = "{expected}"
MISSING_EXPECTED = "no reference answer for this prompt"


@dataclass
class Verdict:
    """What a check says about one answer."""

    value: float | None
    passed: bool | None
    reason: str


class Check:
    """One deterministic scorer. ``check(answer, row, expected)`` returns a :class:`Verdict`.

    ``spec`` is the text form (see the module help) or a function ``(answer, row)``.
    """

    kind = "check"

    def __init__(self, spec: str | Callable[..., Any], *, weight: float | None = None,
                 threshold: float | None = None, functions: Mapping[str, Any] | None = None,
                 name: str | None = None):
        self.weight, self.threshold = 1.0, 0.5
        if callable(spec):
            self.name = name or f"python:{getattr(spec, '__name__', 'check')}"
            self.negate = False
            self._evaluate = _python(spec)
        elif isinstance(spec, str):
            text = spec.strip()
            options = _OPTIONS.match(text)
            if options:
                for part in options.group(1).split():
                    key, _, value = part.partition("=")
                    setattr(self, key.strip(), float(value))
                text = text[options.end():]
            self.name = name or text
            self.negate = text.startswith("not-")
            body = text[4:] if self.negate else text
            kind, sep, arg = body.partition(":")
            if kind not in KINDS:
                raise ValidationError(
                    f"unknown check {kind!r} in {spec!r}",
                    fix="use one of " + ", ".join(KINDS) + " (optionally with not-)")
            if kind in _NEEDS_ARG and not sep:
                raise ValidationError(f"check {spec!r} needs a value after '{kind}:'",
                                      fix=f"e.g. {kind}:{_EXAMPLES[kind]}")
            self._evaluate = _FACTORIES[kind](arg, functions)
        else:
            raise ValidationError(f"a check is a string or a function, not {type(spec).__name__}",
                                  fix='e.g. checks=["icontains:{expected}", "max-chars:200"]')
        if weight is not None:
            self.weight = float(weight)
        if threshold is not None:
            self.threshold = float(threshold)
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            raise ValidationError(f"check {self.name!r}: weight must be a number ≥ 0")
        self.version = __version__

    def __call__(self, answer: str | None, row: Mapping[str, Any] | None = None,
                 expected: Any = None) -> Verdict:
        return Verdict(*self.evaluate(answer or "", row or {}, expected))

    def evaluate(self, answer: str, row: Mapping[str, Any],
                 expected: Any) -> tuple[float | None, bool | None, str]:
        """(value, passed, reason): :meth:`__call__` without the Verdict object."""
        try:
            value, reason = self._evaluate(answer, row, expected)
        except Exception as exc:  # a user's python: check that raised: a failure, not a pass
            return None, None, f"the check raised {type(exc).__name__}: {exc}"
        if value is None:
            return None, None, reason
        value = float(value)
        if not 0.0 <= value <= 1.0:
            value = 0.0 if value < 0.0 else 1.0 if value > 1.0 else math.nan
        if self.negate:
            value, reason = 1.0 - value, f"not: {reason}"
        return value, value >= self.threshold, reason

    def __repr__(self) -> str:
        return f"Check({self.name!r}, weight={self.weight:g}, threshold={self.threshold:g})"


def parse_checks(specs: Any, functions: Mapping[str, Any] | None = None) -> list[Check]:
    """``checks=`` as given (a string, a list of strings/functions/Checks) → Checks."""
    if specs is None:
        return []
    if isinstance(specs, (str, Check)) or callable(specs):
        specs = [specs]
    out = []
    for spec in specs:
        out.append(spec if isinstance(spec, Check) else Check(spec, functions=functions))
    names = [c.name for c in out]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValidationError(f"the check {dup!r} is given twice", fix="give each check once")
    return out


_EXAMPLES = {"contains": "Paris", "icontains": "{expected}", "equals": "42",
             "starts-with": "Yes", "regex": r"\d+", "json-schema": "my_schema",
             "python": "my_check", "max-tokens": "100", "max-chars": "280", "finish": "stop",
             "number": "{expected}~0.01"}


# -- the evaluators ---------------------------------------------------------------------------


def _text(arg: str, literal: Callable[[str], str] = str) -> Callable[[Any], str | None]:
    """The check's argument for one row: ``{expected}`` filled in (None when missing)."""
    if EXPECTED not in arg:
        return lambda expected: arg

    def fill(expected: Any) -> str | None:
        if expected is None or (isinstance(expected, float) and math.isnan(expected)):
            return None
        return arg.replace(EXPECTED, literal(str(expected)))

    return fill


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _contains(arg: str, functions: Any) -> Evaluator:
    want = _text(arg)

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        needle = want(expected)
        if needle is None:
            return None, MISSING_EXPECTED
        hit = needle in answer
        return float(hit), f"{'contains' if hit else 'does not contain'} {_shown(needle)}"

    return run


def _icontains(arg: str, functions: Any) -> Evaluator:
    want = _text(arg)

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        needle = want(expected)
        if needle is None:
            return None, MISSING_EXPECTED
        hit = needle.casefold() in answer.casefold()
        return float(hit), f"{'contains' if hit else 'does not contain'} {_shown(needle)} (any case)"

    return run


def _equals(arg: str, functions: Any) -> Evaluator:
    want = _text(arg)

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        target = want(expected)
        if target is None:
            return None, MISSING_EXPECTED
        same = answer.strip() == target.strip()
        return float(same), f"{'equals' if same else 'differs from'} {_shown(target)}"

    return run


def _starts_with(arg: str, functions: Any) -> Evaluator:
    want = _text(arg)

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        prefix = want(expected)
        if prefix is None:
            return None, MISSING_EXPECTED
        hit = answer.lstrip().startswith(prefix)
        return float(hit), f"{'starts' if hit else 'does not start'} with {_shown(prefix)}"

    return run


def _regex(arg: str, functions: Any) -> Evaluator:
    want = _text(arg, literal=re.escape)
    try:
        fixed = None if EXPECTED in arg else re.compile(arg)
    except re.error as exc:
        raise ValidationError(f"regex:{arg} is not a valid pattern: {exc}",
                              fix="check the pattern (Python re syntax)") from None

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        pattern = fixed
        if pattern is None:
            text = want(expected)
            if text is None:
                return None, MISSING_EXPECTED
            pattern = re.compile(text)
        hit = pattern.search(answer) is not None
        return float(hit), f"{'matches' if hit else 'does not match'} /{pattern.pattern}/"

    return run


_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```$", re.S)


def parse_json(answer: str) -> tuple[Any, str | None]:
    """The answer as JSON (a fenced ```json block is accepted); (value, error)."""
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not JSON ({exc})"


def _is_json(arg: str, functions: Any) -> Evaluator:
    def run(answer: str, row: Any, expected: Any) -> Outcome:
        _, error = parse_json(answer)
        return (0.0, error) if error else (1.0, "valid JSON")

    return run


def lookup(name: str, functions: Mapping[str, Any] | None, what: str) -> Any:
    """A ``NAME`` of a check: the ``functions`` mapping first, then the notebook's
    namespace (``__main__``)."""
    if functions and name in functions:
        return functions[name]
    main = vars(sys.modules.get("__main__", object()))
    if name in main:
        return main[name]
    raise ValidationError(f"{what}:{name}: no variable {name!r} in the notebook",
                          fix=f"define {name} first, or pass functions={{{name!r}: ...}}")


def _json_schema(arg: str, functions: Any) -> Evaluator:
    import jsonschema

    if arg.lstrip().startswith("{"):
        schema = json.loads(arg)
    else:
        schema = lookup(arg, functions, "json-schema")
        if hasattr(schema, "model_json_schema"):  # a pydantic model class
            schema = schema.model_json_schema()
    if not isinstance(schema, Mapping):
        raise ValidationError(f"json-schema:{arg} is a {type(schema).__name__}, not a schema",
                              fix="give a JSON Schema dict or a pydantic model class")
    validator = jsonschema.Draft202012Validator(schema)

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        value, error = parse_json(answer)
        if error:
            return 0.0, error
        problem = next(iter(validator.iter_errors(value)), None)
        if problem is None:
            return 1.0, f"matches the schema {arg}"
        return 0.0, f"schema {arg}: {problem.message}"

    return run


def _python(fn: Any, name: str = "") -> Evaluator:
    if not callable(fn):
        raise ValidationError(f"python:{name} is a {type(fn).__name__}, not a function",
                              fix="give a function (answer, row) -> bool | float")

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        result = fn(answer, row)
        reason = f"{getattr(fn, '__name__', 'check')} returned {result!r}"
        if isinstance(result, tuple) and len(result) == 2:
            result, reason = result
        if isinstance(result, Verdict):
            return result.value, result.reason
        if result is None or isinstance(result, str):
            return None, f"{getattr(fn, '__name__', 'check')} returned {result!r}, not a score"
        return float(result), str(reason)

    return run


def _python_named(arg: str, functions: Any) -> Evaluator:
    return _python(lookup(arg, functions, "python"), arg)


def _limit(arg: str, what: str) -> int:
    try:
        value = int(arg)
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationError(f"max-{what}:{arg}: the limit must be a whole number ≥ 0",
                              fix=f"e.g. max-{what}:200")
    return value


def _max_tokens(arg: str, functions: Any) -> Evaluator:
    limit = _limit(arg, "tokens")

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        tokens = row.get("completion_tokens")
        if tokens is None or tokens != tokens:
            return None, "the run has no token count"
        tokens = int(tokens)
        return float(tokens <= limit), f"{tokens} tokens ({'≤' if tokens <= limit else '>'} {limit})"

    return run


def _max_chars(arg: str, functions: Any) -> Evaluator:
    limit = _limit(arg, "chars")

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        n = len(answer)
        return float(n <= limit), f"{n} characters ({'≤' if n <= limit else '>'} {limit})"

    return run


def _finish(arg: str, functions: Any) -> Evaluator:
    def run(answer: str, row: Any, expected: Any) -> Outcome:
        reason = row.get("finish_reason")
        reason = None if reason is None or reason != reason else str(reason)
        return float(reason == arg), f"finish reason {reason or 'unknown'}"

    return run


def _number(arg: str, functions: Any) -> Evaluator:
    target_text, _, tol_text = arg.partition("~")
    relative = tol_text.strip().endswith("%")
    try:
        tolerance = float(tol_text.strip().rstrip("%") or 0) / (100 if relative else 1)
    except ValueError:
        raise ValidationError(f"number:{arg}: tolerance {tol_text!r} is not a number",
                              fix="e.g. number:42~0.5 or number:{expected}~1%") from None
    want = _text(target_text.strip())

    def run(answer: str, row: Any, expected: Any) -> Outcome:
        target_str = want(expected)
        if target_str is None:
            return None, MISSING_EXPECTED
        target = to_number(target_str)
        if target is None:
            return None, f"the reference {_shown(target_str)} is not a number"
        found = _NUMBER.findall(answer)
        if not found:
            return 0.0, "no number in the answer"
        got = to_number(found[-1])
        allowed = tolerance * abs(target) if relative else tolerance
        ok = got is not None and abs(got - target) <= allowed + 1e-12 * max(1.0, abs(target))
        return float(ok), f"{found[-1]} vs {target_str} (± {tol_text or 0})"

    return run


def to_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


_FACTORIES: dict[str, Callable[[str, Any], Evaluator]] = {
    "contains": _contains, "icontains": _icontains, "equals": _equals,
    "starts-with": _starts_with, "regex": _regex, "is-json": _is_json,
    "json-schema": _json_schema, "python": _python_named, "max-tokens": _max_tokens,
    "max-chars": _max_chars, "finish": _finish, "number": _number,
}
