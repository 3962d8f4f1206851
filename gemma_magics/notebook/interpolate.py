"""``{name}`` in a cell body becomes the value of that notebook variable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
        return str(namespace[name]) if name in namespace else token

    return _FIELD.sub(replace, text)
