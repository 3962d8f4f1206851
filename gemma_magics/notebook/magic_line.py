"""Splitting a magic's line into flags the way a shell would."""

from __future__ import annotations

import re
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
        raise UsageError(f"{exc}{_did_you_mean(magic_func.parser, argv)} "
                         f"(see {help_name}? for the flags)") from None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def escaped(value: str) -> str:
    """A flag value with ``\\n``, ``\\t``, ``\\r`` and ``\\\\`` read as the characters they
    name: a stop sequence of a newline has no other way onto a magic's line
    (``--stop "\\n"``). Other backslashes stay as typed."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], value)


def plain_help(func: Any) -> Any:
    """Above ``@magic_arguments()``: the help as plain text. ``%%gemma?`` shows the
    docstring raw, so reST markup (````name````, ``::`` blocks) would show as such."""
    doc = re.sub(r"^::\n", "Usage:\n", func.__doc__ or "")
    func.__doc__ = re.sub(r"::\n", ":\n", doc.replace("``", ""))
    return func


def _did_you_mean(parser: Any, argv: list[str]) -> str:
    """``; did you mean --temperature?`` for each misspelt flag on the line."""
    import difflib  # here: only a misspelt flag needs it, not %load_ext

    flags = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for word in argv:
        name = word.split("=", 1)[0]
        if name.startswith("--") and name not in flags:
            close = difflib.get_close_matches(name, flags, n=1, cutoff=0.7)
            hints += close
    return f"; did you mean {', '.join(hints)}?" if hints else ""
