"""``{name}`` in a cell body becomes the value of that notebook variable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import GemmaError, ValidationError

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by ``str(namespace[name])`` when the name exists.

    Unknown names stay as written (prompts often contain braces), ``{{`` and ``}}`` give
    literal braces.
    """

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        return _text_of(name, namespace[name]) if name in namespace else token

    return _FIELD.sub(replace, text)


def _text_of(name: str, value: Any) -> str:
    """``str(value)``; an object whose ``__str__`` raises is named in one line."""
    try:
        text = str(value)
    except GemmaError:
        raise
    except Exception as exc:
        raise ValidationError(
            f"{{{name}}}: str() of its {type(value).__name__} object raised "
            f"{type(exc).__name__}: {_first_line(exc)}",
            fix=f"give {name} a value that converts to text, or write {{{{{name}}}}} "
                "for literal braces") from None
    if not isinstance(text, str):
        raise ValidationError(f"{{{name}}}: str() of its {type(value).__name__} object "
                              "returned no text") from None
    return text


def _first_line(exc: BaseException) -> str:
    try:
        return (str(exc).splitlines() or [""])[0][:200]
    except Exception:  # an exception whose own __str__ raises
        return "(no message)"
