"""Structured output: ``%%gemma --json`` / ``--schema NAME`` and ``generate(json=True|schema=...)``.

A schema is a JSON Schema dict or a pydantic model class. It travels to each backend in
that backend's own shape (the providers map :attr:`OutputSpec.response_format`); the local
model is constrained by a llama.cpp grammar built from it. The answer is parsed and
validated here: a bad answer becomes one :class:`~gemma_magics.errors.OutputParseError`
while the raw text stays in the record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import OutputParseError, ValidationError

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def is_pydantic_model(obj: Any) -> bool:
    return isinstance(obj, type) and hasattr(obj, "model_json_schema") and hasattr(
        obj, "model_validate")


@dataclass(frozen=True)
class OutputSpec:
    """What the answer must be: any JSON object (``schema`` None) or one matching ``schema``."""

    schema: dict[str, Any] | None = None
    name: str = "output"
    model: Any = None  # the pydantic class, when one was given

    @property
    def response_format(self) -> dict[str, Any]:
        """The provider-neutral request field (see ``providers.base.Request``)."""
        if self.schema is None:
            return {"type": "json_object"}
        return {"type": "json_schema", "schema": self.schema, "name": self.name}

    def parse(self, text: str, structured: Any = None, *, finish_reason: str | None = None,
              max_tokens: int | None = None) -> Any:
        """The validated value of an answer (a pydantic instance when a model class was
        given); raises a one-line OutputParseError naming what is wrong."""
        value = structured if structured is not None else _loads(text, finish_reason, max_tokens)
        if self.model is not None:
            return self._pydantic(value)
        if self.schema is not None:
            _validate(value, self.schema, self.name)
        return value

    def _pydantic(self, value: Any) -> Any:
        try:
            return self.model.model_validate(value)
        except Exception as exc:  # pydantic.ValidationError, without importing pydantic
            errors = getattr(exc, "errors", lambda: [])()
            first = errors[0] if errors else {"loc": (), "msg": str(exc)}
            where = _path(first.get("loc", ()))
            raise OutputParseError(
                f"the answer does not match {self.name}: at {where}: {first.get('msg')}",
                fix="the raw text is in the record; simplify the schema or the prompt",
            ) from None


def output_spec(json_mode: bool = False, schema: Any = None) -> OutputSpec | None:
    """The spec for ``json=True`` and/or ``schema=`` (a dict or a pydantic class), checked
    before anything is sent; None when neither was asked."""
    if schema is None:
        return OutputSpec() if json_mode else None
    if is_pydantic_model(schema):
        return OutputSpec(schema.model_json_schema(), schema.__name__, schema)
    if not isinstance(schema, dict):
        raise ValidationError(
            f"schema must be a JSON Schema dict or a pydantic model class, not "
            f"{type(schema).__name__}", fix="pass a dict like {'type': 'object', ...}")
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise ValidationError(f"the schema is not a valid JSON Schema: {exc.message}",
                              fix="check it with jsonschema.validators.validator_for") from None
    name = str(schema.get("title") or "output")
    return OutputSpec(schema, re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output")


def _loads(text: str, finish_reason: str | None, max_tokens: int | None) -> Any:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:  # hosted models like to wrap JSON in a ```json fence
        body = fenced.group(1).strip()
    if not body:
        raise OutputParseError("the answer is empty, not JSON",
                               fix="the raw text is in the record; retry or raise max_tokens")
    try:
        return json.loads(body)
    except ValueError as exc:
        cut = finish_reason == "length"
        fix = (f"the answer was cut at max_tokens={max_tokens}; raise --max-tokens" if cut
               else "the raw text is in the record; retry or simplify the schema")
        raise OutputParseError(f"the answer is not valid JSON: {exc}", fix=fix) from None


def _validate(value: Any, schema: dict[str, Any], name: str) -> None:
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    error = best_match(validator_for(schema)(schema).iter_errors(value))
    if error is not None:
        raise OutputParseError(
            f"the answer does not match schema {name}: at {_path(error.absolute_path)}: "
            f"{_short(error.message)}",
            fix="the raw text is in the record; simplify the schema or the prompt",
        )


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_value(value: Any) -> Any:
    """A JSON-ready form of a parsed value (pydantic instances dumped)."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


class ValueRenderer:
    """Wraps a display renderer so a JSON answer ends as the parsed value, pretty-printed
    (a collapsible tree in JupyterLab via ``application/json``), fences and all removed."""

    def __init__(self, inner: Any, spec: OutputSpec):
        self.inner = inner
        self.spec = spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def finish(self, record: Any, error: Exception | None) -> None:
        if error is None and record is not None and record.response:
            try:
                value = self.spec.parse(record.response)
            except OutputParseError:
                value = None
            if value is not None and hasattr(self.inner, "parts"):
                self.inner.parts[:] = [json.dumps(render_value(value), ensure_ascii=False)]
        self.inner.finish(record, error)
