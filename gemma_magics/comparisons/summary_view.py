"""The per-variant summary as it is shown after every comparison (issue 18 item 10): the
columns people decide on first, with headers that wrap, and every other column behind a
``<details>``, so it fits an 800 px output area. :func:`gemma_magics.summary` still
returns every column; only this view chooses."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..safe_text import NO_MATH
from . import quality as q
from .plan import short_model
from .table_style import FIT_STYLES, VARIANT_COLUMNS, untrusted

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

#: The decision columns, in order, with the header the lead table shows.
LEAD = {
    "provider": "provider",
    "model": "model",
    "runs": "runs",
    "ok": "ok",
    "pass_rate": "pass rate",
    "score_mean": "mean score",
    "ttft_s_median": "median TTFT (s)",
    "tokens_per_s_median": "median tokens/s",
    "cost_per_1k_calls": "cost per 1k calls (USD)",
}


def _formats(table: pd.DataFrame) -> dict[str, str]:
    formats = {c: "{:.6f}" if c.startswith("cost") else "{:.3f}" for c in table.columns
               if c.endswith(("_median", "_iqr", "_calls"))}
    formats.update({c: f for c, f in q.SUMMARY_FORMATS.items() if c in table.columns})
    return formats


def styled(table: pd.DataFrame, columns: str = "lead", transposed: bool = False) -> Styler:
    """``table`` (a :func:`summary` frame) formatted for reading: the lead columns with
    readable headers, or ``columns="all"`` every column under its DataFrame name;
    ``transposed``: a row per column and a column per variant (two dozen columns do not
    fit 800 px side by side; a few variants do)."""
    if columns not in ("lead", "all"):
        raise ValueError(f"columns={columns!r}: use 'lead' or 'all'")
    table = table.copy()
    # the id without its "@cf/google/" path, as side_by_side() heads its columns
    table["model"] = table["model"].map(lambda m: short_model(str(m)))
    if columns == "lead":
        table = table[[c for c in LEAD if c in table.columns]]
        caption = "Per variant, median of its successful runs (every column below)"
    else:
        caption = "Per variant: median and interquartile range (iqr) of successful runs"
        if "pass_rate" in table.columns:
            caption += "; pass rate with its 95 % interval, Δ and p against the baseline"
    if "flaky_prompts" in table.columns:
        table["flaky_prompts"] = table["flaky_prompts"].map(len)
    if transposed:
        import pandas as pd

        styler = table.T.style.format(escape="html", na_rep="n/a")
        for name, fmt in _formats(table).items():
            styler = styler.format(fmt, subset=pd.IndexSlice[[name], :], na_rep="n/a")
    else:
        styler = table.style.format(escape="html", na_rep="n/a").format(_formats(table),
                                                                      na_rep="n/a")
    styler = untrusted(styler)
    if columns == "lead":
        # our own names, no markup in them (relabelling replaces the escaping formatter)
        styler = styler.relabel_index([LEAD[c] for c in table.columns], axis=1)
    elif transposed:  # "completion_tokens_median" may break after each "_" (escaped first)
        styler = styler.relabel_index(
            [html.escape(str(c)).replace("_", "_<wbr>") for c in table.columns], axis=0)
    styles = [*FIT_STYLES, VARIANT_COLUMNS] if transposed else FIT_STYLES
    return styler.set_table_styles(styles, overwrite=False).set_caption(caption)


class SummaryTables:
    """What a comparison shows as its summary: the lead table, then every column in a
    ``<details>`` element (transposed: a row per column; it scrolls sideways only when
    there are more variants than fit). Plain text (a terminal, a saved notebook's text) is the lead
    table."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.lead = styled(table, "lead")
        self.full = styled(table, "all", transposed=True)

    def _repr_html_(self) -> str:
        rest = [c for c in self.table.columns if c not in LEAD]
        names = html.escape(", ".join(rest[:6]) + (", …" if len(rest) > 6 else ""))
        return (f'<div class="gm-summary {NO_MATH}" style="max-width:100%">'
                f"{self.lead.to_html()}"
                '<details class="gm-summary-all"><summary style="cursor:pointer">'
                f"every column ({names})</summary>"
                f'<div style="overflow-x:auto">{self.full.to_html()}</div></details></div>')

    def __repr__(self) -> str:
        return self.table[[c for c in LEAD if c in self.table.columns]].to_string()

    def to_html(self) -> str:
        return self._repr_html_()
