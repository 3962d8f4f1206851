"""``gemma_magics.report(result, "verify.html")``: one self-contained HTML file (inline CSS,
charts as inline PNG, no script, nothing fetched) that a user can share.

Takes the result of :func:`gemma_magics.verify` or the DataFrame of
:func:`gemma_magics.compare` / :func:`gemma_magics.history`. Every piece of model text (and
every name a user or host chose) goes through :mod:`gemma_magics.safe_text`: escaped, shown
as text, never as live HTML or math.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..safe_text import NO_MATH, clean, escape
from .analysis import VerifyResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:72em;
color:#1d1d1f;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f6}.num{text-align:right;font-variant-numeric:tabular-nums}
.diff{color:#a40e26;font-weight:600}.same{color:#0b5227}
.text{white-space:pre-wrap;overflow-wrap:anywhere;max-width:28em;font-family:ui-monospace,monospace}
.pass{background:#e8f6ec}.fail{background:#fbe9eb}.note{color:#555}
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return '<td class="num">–</td>'
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{escape(clean(str(value)))}</td>"


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table whose every cell is escaped text."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def frame_table(frame: Any) -> str:
    return html_table([str(c) for c in frame.columns],
                      [list(r) for r in frame.itertuples(index=False)])


def _png(fig: Any, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _hbox(ax: Any, values: list[list[float]], labels: list[str]) -> None:
    """Horizontal box plots (labels set apart: the keyword changed across matplotlib)."""
    try:
        ax.boxplot(values, orientation="horizontal")
    except TypeError:  # matplotlib < 3.10
        ax.boxplot(values, vert=False)
    ax.set_yticks(range(1, len(labels) + 1), labels)


def _accuracy_chart(result: VerifyResult) -> str:
    plt = _pyplot()
    hosts = [h for h in result.hosts if h.checked]
    if not hosts:
        return ""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.5 + 0.45 * len(hosts)))
    y = list(range(len(hosts)))
    acc = [h.accuracy * 100 for h in hosts]
    low = [max(0.0, (h.accuracy - h.accuracy_ci[0]) * 100) for h in hosts]
    high = [max(0.0, (h.accuracy_ci[1] - h.accuracy) * 100) for h in hosts]
    left.errorbar(acc, y, xerr=[low, high], fmt="o", capsize=4)
    left.set_yticks(y, [h.host for h in hosts])
    left.set_xlim(0, 100)
    left.set_xlabel("checks passed (%), Wilson 95 % interval")
    left.invert_yaxis()
    _hbox(right, [h.answer_chars or [0] for h in hosts], [h.host for h in hosts])
    right.set_xlabel("answer length (characters)")
    right.invert_yaxis()
    fig.tight_layout()
    return _png(fig, "accuracy and answer length per host")


def _answers(result: VerifyResult, per_cell: int = 3) -> str:
    runs = result.runs
    hosts = [h.host for h in result.hosts]
    rows = []
    for probe in result.probes:
        mine = runs[runs["probe_id"] == probe.id]
        cells = []
        for host in hosts:
            texts = mine[mine["variant"] == host]
            parts = []
            for row in texts.head(per_cell).itertuples(index=False):
                mark = {True: "✓ ", False: "✗ "}.get(row.passed, "")
                css = {True: "pass", False: "fail"}.get(row.passed, "")
                shown = clean(str(row.text or row.error or ""))[:400]
                parts.append(f'<div class="{css}">{escape(mark + shown)}</div>')
            more = len(texts) - per_cell
            if more > 0:
                parts.append(f'<div class="note">… {more} more</div>')
            cells.append(f'<td class="text {NO_MATH}">{"".join(parts)}</td>')
        prompt = probe.prompt if len(probe.prompt) < 300 else "…" + probe.prompt[-250:]
        rows.append(f"<tr><td>{escape(probe.id)}</td><td class=\"text {NO_MATH}\">"
                    f"{escape(prompt)}</td><td>{escape(probe.check or '—')}</td>"
                    + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in ["probe", "prompt", "check", *hosts])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def verify_html(result: VerifyResult, title: str | None = None) -> str:
    title = title or f"Host check: {result.model}"
    verdicts = "".join(
        f'<li class="{"diff" if h.different else "same"}">{escape(h.verdict)}</li>'
        for h in result.hosts)
    table = result.table()
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">family {escape(result.family or "?")} · reference '
        f"{escape(result.reference)} · {result.repeats} repeats · α = {result.alpha:g} · "
        f"{escape(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}</p>",
        f"<h2>Verdicts</h2><ul>{verdicts}</ul><p>{escape(result.closing_note())}</p>",
        "<h2>Figures per host</h2>", frame_table(table),
        _accuracy_chart(result),
        "<h2>Answers per probe</h2>", _answers(result),
        '<p class="note">Accuracy: share of checked probe runs passed (Wilson 95 % interval). '
        "Δ: host minus reference on the same probe runs, 95 % interval, exact McNemar p. "
        "MMD: two-sample test of the first 100 characters of every answer (Gao, Liang & "
        "Guestrin, ICLR 2025), permutation p within each probe. Each test decides at α/2.</p>",
    ]
    return _page(title, body)


def comparison_html(df: Any, title: str | None = None) -> str:
    from ..comparisons.views import summary, variant_labels

    title = title or "Comparison"
    frame = df.copy()
    frame["shown_variant"] = variant_labels(frame)
    body = [f"<h1>{escape(title)}</h1>", f'<p class="note">{len(frame)} runs</p>',
            "<h2>Summary per variant</h2>", frame_table(summary(df)), _latency_chart(frame),
            "<h2>Answers</h2>",
            html_table(["prompt", "variant", "status", "answer"],
                       ([str(r.prompt)[:300], r.shown_variant, r.status,
                         str(r.response or r.error or "")[:2000]]
                        for r in frame.itertuples(index=False)))]
    return _page(title, body).replace("<td>", f'<td class="{NO_MATH}">')


def _latency_chart(frame: Any) -> str:
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return ""
    plt = _pyplot()
    groups = [(name, pd.to_numeric(g["latency_s"], errors="coerce").dropna().tolist())
              for name, g in ok.groupby("shown_variant", sort=False)]
    groups = [(n, v) for n, v in groups if v]
    if not groups:
        return ""
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.45 * len(groups)))
    _hbox(ax, [v for _, v in groups], [n for n, _ in groups])
    ax.set_xlabel("latency (s)")
    ax.invert_yaxis()
    return _png(fig, "latency per variant")


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>")


def report(result: Any, path: str | Path = "report.html", title: str | None = None) -> Path:
    """Write one self-contained HTML report of a host check (:func:`gemma_magics.verify`)
    or of a comparison's DataFrame (:func:`gemma_magics.compare`); returns its path.

    The file needs no network to open: styles are inline, charts are inline PNG images,
    there is no script. All model text in it is escaped.
    """
    if isinstance(result, VerifyResult):
        html_text = verify_html(result, title)
    elif hasattr(result, "columns") and "provider" in getattr(result, "columns", ()):
        html_text = comparison_html(result, title)
    else:
        raise TypeError("report() takes the result of gm.verify() or the DataFrame of "
                        "gm.compare() / gm.history()")
    out = Path(path)
    out.write_text(html_text, encoding="utf-8")
    return out
