"""One run of the live grid, drawn: the ticker line, the full card (its answer streaming)
and the compact cell (status and one figure, the answer on hover), and the grid's CSS."""

from __future__ import annotations

import html
from string import Template

from .. import palette
from ..comparisons.gridstate import (
    CANCELLED,
    ERROR,
    INTERRUPTED,
    OK,
    QUEUED,
    REFUSED,
    RUNNING,
    SKIPPED,
    Cell,
    GridState,
)
from ..safe_text import escape, model_text_html
from .verdicts import verdict_html, verdict_text

ICONS = {QUEUED: "…", RUNNING: "●", OK: "✓", ERROR: "✗", INTERRUPTED: "■", SKIPPED: "↺",
         CANCELLED: "–", REFUSED: "⊘"}
COLORS = {QUEUED: palette.MUTED, RUNNING: palette.ACCENT, OK: palette.SUCCESS,
          ERROR: palette.ERROR, INTERRUPTED: palette.WARN, SKIPPED: palette.MUTED,
          CANCELLED: palette.MUTED, REFUSED: palette.WARN}
#: Characters of the answer (and of the error, and of the variant's label) a compact cell
#: carries in its hover text: the whole answer is in the DataFrame and the side-by-side
#: table; this bounds a 500-cell message (150 KB here with 5 KB answers, whatever their length).
HOVER_CHARS = 200

# No fixed widths: every track may shrink to the output area (800 px included), and long
# words (model ids, URLs in answers) break anywhere rather than push the grid wider.
CSS = Template("""
.gmc {font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px; max-width: 100%}
.gmc-top {margin: 2px 0 6px; color: $text; overflow-wrap: anywhere}
.gmc-note {color: $warn; font-size: 11px; overflow-wrap: anywhere}
.gmc-grid {display: grid; gap: 4px 6px; align-items: start; min-width: 0}
.gmc-head {font-weight: 600; padding: 2px 4px; border-bottom: 2px solid
  var(--jp-border-color1, #ccc); overflow-wrap: anywhere; color: $muted; font-size: 11px}
.gmc-label {grid-column: 1 / -1; font-weight: 600; padding-top: 6px; color: $text;
  overflow-wrap: anywhere; border-bottom: 1px solid var(--jp-border-color2, #ddd)}
.gmc-row {display: contents}
.gmc-cell {border: 1px solid var(--jp-border-color2, #ddd); border-left-width: 3px;
  border-radius: 3px; padding: 3px 6px; min-width: 0}
.gmc-empty {min-width: 0}
.gmc-tick {font-size: 11px; color: $muted; margin-bottom: 2px; overflow-wrap: anywhere}
.gmc-text {white-space: pre-wrap; overflow-wrap: anywhere; max-height: 18em; overflow-y: auto;
  font-family: var(--jp-content-font-family, sans-serif); font-size: 13px}
.gmc-err {color: $error; font-size: 11px; white-space: pre-wrap; overflow-wrap: anywhere}
.gmc-v {font-weight: 600; font-size: 11px; overflow-wrap: anywhere}
.gmc-verdict {font-weight: 600; cursor: help}
.gmc-compact {grid-template-columns: minmax(5em, 13em) minmax(0, 1fr); gap: 2px 6px}
.gmc-compact .gmc-label {grid-column: auto; padding-top: 2px; font-size: 11px; border: 0}
.gmc-runs {display: grid; grid-template-columns: repeat(auto-fill, 4.6em); gap: 2px}
.gmc-c {border: 1px solid var(--jp-border-color2, #ddd); border-left-width: 3px;
  border-radius: 2px; padding: 0 3px; font-size: 11px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; cursor: help; min-width: 0}
.gmc-sum {border-collapse: collapse; font-size: 11px; max-width: 100%}
.gmc-sum th, .gmc-sum td {padding: 1px 6px; text-align: right; overflow-wrap: anywhere;
  border-bottom: 1px solid var(--jp-border-color2, #ddd)}
.gmc-sum th:first-child, .gmc-sum td:first-child {text-align: left}
.gmc-sub {font-weight: 600; margin: 6px 0 2px; color: $text}
""").substitute(
    text=palette.TEXT, muted=palette.MUTED, warn=palette.WARN, error=palette.ERROR) + "".join(
    # a class per status, not a colour per cell: 500 compact cells stay small
    f".gmc-c.gmc-{status} {{border-left-color: {color}}}\n" for status, color in COLORS.items())


def ticker_text(cell: Cell, now: float | None = None) -> str:
    """E.g. ``✓ 42 tok · TTFT 0.31 s · 85.2 tok/s`` (``≈`` marks live estimates)."""
    t = cell.ticker(now)
    parts = [ICONS.get(cell.status, "?")]
    if cell.status == QUEUED:
        parts.append("queued")
    elif cell.status == CANCELLED:
        parts.append("not run")
    elif cell.status == REFUSED:
        parts.append("not sent")
    else:
        if t["tokens"] is not None:
            parts.append(f"{'' if t['exact'] else '≈'}{t['tokens']} tok")
        if t["ttft_s"] is not None:
            parts.append(f"TTFT {t['ttft_s']:.2f} s")
        if t["tokens_per_s"] is not None:
            parts.append(f"{t['tokens_per_s']:.1f} tok/s")
        if cell.status == SKIPPED:
            parts.append("earlier run")
        elif cell.status not in (RUNNING, OK):
            parts.append(cell.status)
    return " · ".join([parts[0] + " " + parts[1], *parts[2:]]) if len(parts) > 1 else parts[0]


def progress_text(state: GridState) -> str:
    """E.g. ``12/32 done · 1 error · 8 running · 3.2 s``. Done are the runs that ended
    with an answer or an error (or earlier, resumed); interrupted, not run and not sent are
    counted beside them, so the parts add up to the total."""
    c = state.counts()
    total = len(state.cells)
    parts = [f"{c[OK] + c[ERROR] + c[SKIPPED]}/{total} done"]
    for status, word in ((ERROR, "error"), (INTERRUPTED, "interrupted"), (SKIPPED, "resumed"),
                         (CANCELLED, "not run"), (REFUSED, "not sent")):
        if c[status]:
            plural = "s" if status == ERROR and c[status] > 1 else ""
            parts.append(f"{c[status]} {word}{plural}")
    if c[RUNNING]:
        parts.append(f"{c[RUNNING]} running")
    parts.append(f"{state.elapsed():.1f} s")
    return " · ".join(parts)


def card_html(cell: Cell, now: float, label: str | None, col: int | None = None) -> str:
    """The full card: ``label`` (which run it is), the ticker, notes, the answer, an error;
    ``col``: its column in the grid (a data attribute, for tests and scripts)."""
    color = COLORS.get(cell.status, palette.MUTED)
    head = f'<div class="gmc-v">{html.escape(label)}</div>' if label else ""
    note = f'<div class="gmc-note">{html.escape(cell.note)}</div>' if cell.note else ""
    error = f'<div class="gmc-err">{html.escape(cell.error)}</div>' if cell.error else ""
    where = "" if col is None else f' data-col="{col}"'
    return (
        f'<div class="gmc-cell" data-run="{cell.index}"{where} style="border-left-color:{color}">'
        f'{head}<div class="gmc-tick" style="color:{color}">'
        f'{html.escape(ticker_text(cell, now))}{verdict_html(cell)}</div>{note}'
        f'{model_text_html(cell.text, cls="gmc-text", style="")}{error}</div>'
    )


def key_figure(cell: Cell, now: float) -> str:
    """The one number a compact cell shows: seconds taken once done, tokens while
    streaming, the state otherwise."""
    if cell.status == RUNNING:
        return f"{cell.deltas}" if cell.deltas else "…"
    if cell.status in (QUEUED, CANCELLED, REFUSED):
        return ""
    rec = cell.record
    if rec is not None and rec.latency_s is not None and rec.latency_s == rec.latency_s:
        return f"{rec.latency_s:.1f}s"
    return ""


def compact_html(cell: Cell, now: float, label: str) -> str:
    """A small cell: icon, verdict mark and key figure; which run it is, its ticker, its
    error and the start of its answer on hover (escaped by the rule of safe_text)."""
    verdict = verdict_text(cell)
    mark = verdict[:1] if verdict else ""
    hover = f"{cell.variant[:HOVER_CHARS]} · {label}\n{ticker_text(cell, now)}"
    if verdict:
        hover += f" · {verdict}"
    if cell.error:
        hover += f"\n{cell.error[:HOVER_CHARS]}"
    text = cell.text
    if text:
        hover += "\n\n" + (text if len(text) <= HOVER_CHARS else text[:HOVER_CHARS] + "…")
    shown = " ".join(p for p in (ICONS.get(cell.status, "?"), mark, key_figure(cell, now)) if p)
    return (f'<div class="gmc-c gmc-{cell.status}" data-run="{cell.index}" '
            f'title="{escape(hover)}">{html.escape(shown)}</div>')
