"""Workers AI's published input schemas of its Gemma models, and strict validation by them.

Each ``*.json`` here is an abridged transcription of the ``schema.input`` of one model page in
cloudflare/cloudflare-docs (``src/content/workers-ai-models/``), with the source path and
commit in its ``$comment`` (see README.md). The emulator rejects bodies these schemas reject,
and the schema-conformance tests validate the client's bodies by them: both *closed* (every
object ``additionalProperties: false``), so a key a branch does not list is a violation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

#: Model id -> schema file (without ``.json``).
SCHEMAS = {
    "@cf/google/gemma-4-26b-a4b-it": "gemma-4-26b-a4b-it",
    "@cf/google/gemma-3-12b-it": "gemma-3-12b-it",
    "@hf/google/gemma-7b-it": "gemma-7b-it",
    "@cf/google/gemma-2b-it-lora": "gemma-2b-it-lora",
    "@cf/google/gemma-7b-it-lora": "gemma-7b-it-lora",
}
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("items", "not", "if", "then", "else", "contains")


def closed(schema: Any) -> Any:
    """A copy of ``schema`` in which every object that lists ``properties`` and says nothing
    of others gets ``additionalProperties: false`` (a ``oneOf`` branch then matches only a
    body whose every key it lists)."""
    if not isinstance(schema, Mapping):
        return schema
    out = dict(schema)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: closed(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    elif isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = closed(out["additionalProperties"])
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [closed(s) for s in out[key]]
    for key in _SUBSCHEMAS:
        if isinstance(out.get(key), Mapping):
            out[key] = closed(out[key])
    return out


@cache
def published(model: str) -> dict[str, Any] | None:
    """The input schema as transcribed (open, as published), or None for a model without one."""
    name = SCHEMAS.get(model)
    if name is None:
        return None
    return json.loads(files(__name__).joinpath(f"{name}.json").read_text("utf-8"))


@cache
def _validator(model: str) -> Any:
    from jsonschema import Draft202012Validator  # imported here: the emulator starts light

    return Draft202012Validator(closed(published(model)))


def violations(body: Any, model: str) -> list[str]:
    """Every way ``body`` breaks ``model``'s closed schema, one line each (empty: it fits).

    A ``oneOf`` failure is reported through the branch the body meant (``prompt`` or
    ``messages``), so the line names the key that does not belong.
    """
    if published(model) is None:
        return []
    out = []
    for error in _validator(model).iter_errors(body):
        deepest = _branch_error(error, body)
        where = "/" + "/".join(str(p) for p in deepest.absolute_path)
        out.append(f"In property '{where}', {deepest.message}")
    return out


def _branch_error(error: Any, body: Any) -> Any:
    """Descend ``oneOf``/``anyOf`` failures into the branch the body meant: the top-level
    branch titled after the key it has (``prompt`` or ``messages``), else the branch whose
    own type/enum checks passed (e.g. the message item whose ``role`` matches)."""
    wanted = "messages" if isinstance(body, Mapping) and "messages" in body else "prompt"

    def score(group: list[Any]) -> tuple[bool, bool, int, int]:
        title = str(group[0].schema.get("title", "")) if isinstance(group[0].schema, Mapping) \
            else ""
        at_root = [e for e in group if not e.relative_path]
        wrong_kind = any(e.validator in ("type", "enum", "const") for e in at_root) or any(
            e.validator in ("type", "enum", "const") and list(e.relative_path) == ["role"]
            for e in group)
        return (title.lower() == wanted, not wrong_kind,
                max(len(e.absolute_path) for e in group), -len(group))

    while error.validator in ("oneOf", "anyOf") and error.context:
        groups: dict[Any, list[Any]] = {}
        for e in error.context:
            groups.setdefault(e.relative_schema_path[0], []).append(e)
        best = max(groups.values(), key=score)
        error = max(best, key=lambda e: len(e.absolute_path))
    return error
