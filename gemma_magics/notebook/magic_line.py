"""Splitting a magic's line into flags the way a shell would."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.utils.process import arg_split


def parse_line(magic_func: Any, line: str, help_name: str) -> Any:
    """Parse ``line`` with ``magic_func``'s magic_arguments parser.

    Quotes group words and are removed (``--system "Be brief."``, ``--temperature '0.5'``);
    IPython's own ``parse_argstring`` keeps them. Any problem is a one-line UsageError.
    """
    try:
        argv = arg_split(line, posix=True, strict=True)
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"{exc} (see {help_name}? for the flags)") from None
    try:
        return magic_func.parser.parse_args(argv)
    except UsageError as exc:
        raise UsageError(f"{exc} (see {help_name}? for the flags)") from None
