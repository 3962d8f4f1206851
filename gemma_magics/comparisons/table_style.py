"""How the comparison tables are made safe and made to fit (issue 18 items 2 and 10).

Headers and labels (prompts, variant names) are user or model text: escaped, and the
table kept from MathJax. Every cell may wrap and no column has a fixed width,
so the browser's automatic table layout shrinks a wide table to the output area (800 px
included) and the columns share it, instead of cutting off the last ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..safe_text import NO_MATH, escape

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

FIT_STYLES = [
    {"selector": "", "props": "max-width: 100%; table-layout: auto"},
    # One selector each: pandas prefixes the table's id to the whole string, so "th, td"
    # would style every td of the page. Words and numbers stay whole (a break only inside
    # one longer than its column); answers break anywhere by their own style, so a URL in
    # one does not set its column's width. Nothing stronger: a cell's own style, set per
    # cell, would lose to these.
    {"selector": "th", "props": "overflow-wrap: break-word"},
    {"selector": "td", "props": "overflow-wrap: break-word"},
]
#: For a table with a column per variant (side by side, the transposed summary): their
#: headers (model ids, "provider · temperature=0.9") break anywhere, so the columns share
#: the width instead of each keeping its longest word.
VARIANT_COLUMNS = {"selector": "th.col_heading", "props": "overflow-wrap: anywhere"}


def untrusted(styler: Styler) -> Styler:
    """Headers and labels escaped; the table kept from MathJax."""
    return (styler.format_index(escape, axis=0, level=None)
            .format_index(escape, axis=1, level=None)
            .set_table_attributes(f'class="{NO_MATH}"'))
