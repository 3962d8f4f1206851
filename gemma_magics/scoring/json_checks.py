"""The checks that read JSON (``is-json``, ``json-schema:NAME``), and how a check's
``NAME`` is found (the ``functions=`` mapping, then the notebook's namespace)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError

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


def is_json(arg: str, functions: Any) -> Any:
    def run(answer: str, row: Any, expected: Any) -> tuple[float, str]:
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


def json_schema(arg: str, functions: Any) -> Any:
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

    def run(answer: str, row: Any, expected: Any) -> tuple[float, str]:
        value, error = parse_json(answer)
        if error:
            return 0.0, error
        problem = next(iter(validator.iter_errors(value)), None)
        if problem is None:
            return 1.0, f"matches the schema {arg}"
        return 0.0, f"schema {arg}: {problem.message}"

    return run
