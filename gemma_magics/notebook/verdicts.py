"""What a comparison shows besides the answers: a scored cell's ✓/✗ badge with the score
and its reasons on hover (escaped: a judge's reason may quote model text), plain-text
summary lines, and the charts as images."""

from __future__ import annotations

import html

from ..comparisons.gridstate import Cell
from ..palette import ERROR, SUCCESS, WARN
from ..safe_text import NO_MATH


def verdict_text(cell: Cell) -> str:
    """``✓ pass`` / ``✗ fail`` / ``? no verdict`` once the cell is scored, else ''."""
    if cell.verdict is None:
        return ""
    passed = cell.verdict[0]
    return "? no verdict" if passed is None else ("✓ pass" if passed else "✗ fail")


def verdict_html(cell: Cell) -> str:
    """The verdict badge; the score and the reasons (checks' and judges' words, model text
    among them) on hover, escaped as an attribute."""
    text = verdict_text(cell)
    if not text:
        return ""
    passed, value, reasons = cell.verdict
    hover = (f"score {value:.2f}\n" if value is not None else "") + reasons
    color = _VERDICT_COLORS[passed]
    return (f' · <span class="gmc-verdict" style="color:{color}" '
            f'title="{html.escape(hover, quote=True)}">{html.escape(text)}</span>')


_VERDICT_COLORS = {True: SUCCESS, False: ERROR, None: WARN}


class PlainText:
    """Text shown as text (a summary line naming variants, which are user input)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<pre class="{NO_MATH}">{html.escape(self.text)}</pre>'
