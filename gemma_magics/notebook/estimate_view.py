"""How a dry run is shown: the estimate per provider × model, its total, the notes, and
the runs refused because they cannot fit their context window."""

from __future__ import annotations

import html
import math
from typing import Any

from ..frontend import in_notebook
from ..safe_text import NO_MATH

COLUMNS = (
    ("provider", "provider"), ("model", "model"), ("runs", "runs"), ("refused", "refused"),
    ("prompt_tokens", "prompt tok"), ("completion_tokens", "completion tok"),
    ("cost", "cost low / expected / high"), ("time", "time expected (spread)"),
)


def _usd(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def _seconds(row: dict[str, Any]) -> str:
    if row.get("time_expected_s") is None:
        return "unknown"
    return (f"{row['time_expected_s']:.1f} s ({row['time_low_s']:.1f}–"
            f"{row['time_high_s']:.1f})")


def _cells(row: dict[str, Any]) -> list[str]:
    prompt = f"{row['prompt_tokens']:,} {row['prompt_count']}"
    basis = ("from the log" if row["completion_basis"] == "log" else
             "max_tokens bound" if row["completion_basis"] == "max_tokens"
             else row["completion_basis"])
    completion = f"{row['completion_tokens']:,} ({basis})"
    cost = " / ".join(_usd(row[f"cost_{k}_usd"]) for k in ("low", "expected", "high"))
    return [str(row["provider"]), str(row["model"]), str(row["runs"]), str(row["refused"]),
            prompt, completion, cost, _seconds(row)]


def _parts(frame: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    info = frame.attrs.get("dry_run", {})
    return frame.to_dict("records"), info


def estimate_text(frame: Any) -> str:
    rows, info = _parts(frame)
    table = [[title for _, title in COLUMNS]] + [_cells(r) for r in rows]
    if info.get("total"):
        table.append(_cells(info["total"]))
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["dry run: nothing was sent"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
              for line in table]
    lines += [f"note: {n}" for n in info.get("notes", [])]
    if info.get("resumed"):
        lines.append(f"{info['resumed']} runs already finished in the log (resume) are left out")
    for refused in info.get("refused", []):
        lines.append(f"refused: run {refused['run'] + 1} ({refused['variant']}): "
                     f"{refused['reason']}")
    return "\n".join(lines)


def estimate_html(frame: Any) -> str:
    rows, info = _parts(frame)
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>"
                   for r in rows)
    if info.get("total"):
        body += ('<tr style="font-weight:600">'
                 + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(info["total"]))
                 + "</tr>")
    notes = [*info.get("notes", [])]
    if info.get("resumed"):
        notes.append(f"{info['resumed']} runs already finished in the log (resume) are left out")
    notes += [f"refused: run {r['run'] + 1} ({r['variant']}): {r['reason']}"
              for r in info.get("refused", [])]
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (f'<div class="{NO_MATH}"><b>dry run</b>: nothing was sent'
            f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f"{f'<ul>{items}</ul>' if items else ''}</div>")


class EstimateTable:
    """A dry-run estimate frame shown with its notes (``_repr_html_`` in a notebook)."""

    def __init__(self, frame: Any):
        self.frame = frame

    def _repr_html_(self) -> str:
        return estimate_html(self.frame)

    def __repr__(self) -> str:
        return estimate_text(self.frame)


def draw_estimate(frame: Any, display: Any) -> None:
    """:func:`show_estimate`, with a stop while it draws ending in the one quiet line (the
    dry run's estimate is its result: ``gm.Interrupted.result`` carries it)."""
    from ..errors import Interrupted

    try:
        show_estimate(frame, display)
    except KeyboardInterrupt:
        raise Interrupted("stopped while drawing the estimate (nothing was sent)",
                          result=frame) from None


def show_estimate(frame: Any, display: Any) -> None:
    """Draw a dry run where ``compare(display=...)`` would draw the grid."""
    if display is False or display is None:
        return
    table = EstimateTable(frame)
    if hasattr(display, "outputs"):  # an ipywidgets.Output (the panel)
        data = {"text/html": estimate_html(frame), "text/plain": estimate_text(frame)}
        display.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
    elif in_notebook():
        from IPython.display import display as ipy_display

        ipy_display(table)
    else:
        print(estimate_text(frame), flush=True)
