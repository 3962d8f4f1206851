"""Small tables shown by ``%gemma providers``/``models``/``config``: HTML in a notebook,
aligned text elsewhere, with no pandas import."""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..safe_text import NO_MATH


class Table:
    """Rows with a header; displays as HTML in Jupyter and as aligned text in a terminal."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], title: str = ""):
        self.header = [str(h) for h in header]
        self.rows = [["" if c is None else str(c) for c in row] for row in rows]
        self.title = title

    def __repr__(self) -> str:
        widths = [len(h) for h in self.header]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]
        lines = [self.title] if self.title else []
        lines.append("  ".join(h.ljust(w) for h, w in zip(self.header, widths)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in self.rows
        )
        title = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        return f"{title}<table class=\"{NO_MATH}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
