"""The live grid of a very large sweep (issue 19: 10,000 runs): a line per variant with
its counts and medians, then the slowest and the failing runs, and what is not drawn.

Every part is capped, so a display message has a size bound that does not grow with the
number of runs: :data:`MAX_VARIANTS` lines, :data:`SLOWEST` + :data:`FAILING` cells, labels
and errors cut to a fixed length.
"""

from __future__ import annotations

import html

from ..comparisons.gridlayout import Tally, VariantLine, run_label
from ..comparisons.gridstate import GridState
from .grid_cells import compact_html

#: Variant lines drawn; the others are counted in one line.
MAX_VARIANTS = 40
#: Slowest runs drawn, and failing runs drawn (the first ones, in grid order).
SLOWEST = 10
FAILING = 10
#: Characters of a variant label or an error shown in the summary.
LABEL_CHARS = 120
ERROR_CHARS = 160


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _many_prompts(state: GridState) -> bool:
    first = state.cells[0].prompt_index if state.cells else 0
    return any(c.prompt_index != first for c in state.cells)


def hidden_text(state: GridState, drawn: int) -> str:
    """The sentence that says what the summary does not draw."""
    total = len(state.cells)
    return (f"{total:,} runs: a line per variant, the slowest and the failing runs "
            f"({drawn} drawn); {total - drawn:,} runs are not drawn one by one (every run "
            "is in the DataFrame compare() returns)")


def new_tally() -> Tally:
    """What a live grid keeps between draws of its summary."""
    return Tally(SLOWEST, FAILING)


def summary_parts(state: GridState, now: float, tally: Tally | None = None,
                  ) -> tuple[str, str, list[str]]:
    """(the HTML body, the note saying what is hidden, the plain-text lines) of the summary
    layout; ``tally`` carries the finished runs' figures from the previous draw."""
    got = (tally or new_tally()).summary(state, now)
    lines, slow, failed, n_failed = got.lines, got.slowest, got.failed, got.n_failed
    many = _many_prompts(state)
    head = ("<tr><th>variant</th><th>runs</th><th>ok</th><th>failed</th><th>running</th>"
            "<th>queued</th><th>other</th><th>median TTFT (s)</th><th>median tok/s</th></tr>")
    body = "".join(_line_html(line) for line in lines[:MAX_VARIANTS])
    text = [f"{_cut(v.variant, LABEL_CHARS)}: {v.ok}/{v.runs} ok · {v.failed} failed · "
            f"{v.running} running · TTFT {_num(v.ttft_s, '.3f')} s · "
            f"{_num(v.tokens_per_s, '.1f')} tok/s" for v in lines[:MAX_VARIANTS]]
    if len(lines) > MAX_VARIANTS:
        rest = lines[MAX_VARIANTS:]
        body += (f'<tr><td>…and {len(rest):,} more variants</td>'
                 f"<td>{sum(v.runs for v in rest):,}</td><td>{sum(v.ok for v in rest):,}</td>"
                 f"<td>{sum(v.failed for v in rest):,}</td>"
                 f"<td>{sum(v.running for v in rest):,}</td>"
                 f"<td>{sum(v.queued for v in rest):,}</td>"
                 f"<td>{sum(v.other for v in rest):,}</td><td></td><td></td></tr>")
        text.append(f"…and {len(rest):,} more variants")
    parts = [f'<table class="gmc-sum"><thead>{head}</thead><tbody>{body}</tbody></table>']
    if slow:
        parts.append(f'<div class="gmc-sub">slowest {len(slow)}</div>'
                     + _cells(slow, now, many))
        text += [f"slow: [{_cut(c.variant, LABEL_CHARS)} · {run_label(c, many)}]"
                 for c in slow]
    if failed:
        shown = f"{len(failed)} of {n_failed:,}" if n_failed > len(failed) else f"{n_failed}"
        errors = "".join(
            f'<div class="gmc-err">{html.escape(_cut(c.variant, LABEL_CHARS))} · '
            f"{html.escape(run_label(c, many))}: {html.escape(_cut(c.error or '', ERROR_CHARS))}"
            "</div>" for c in failed)
        parts.append(f'<div class="gmc-sub">failed: {shown}</div>'
                     + _cells(failed, now, many) + errors)
        text += [f"failed: [{_cut(c.variant, LABEL_CHARS)} · {run_label(c, many)}] "
                 f"{_cut(c.error or '', ERROR_CHARS)}" for c in failed]
    drawn = len({c.index for c in (*slow, *failed)})
    return "".join(parts), hidden_text(state, drawn), text


def _cells(cells: list, now: float, many: bool) -> str:
    inner = "".join(compact_html(c, now, run_label(c, many)) for c in cells)
    return f'<div class="gmc-runs">{inner}</div>'


def _line_html(line: VariantLine) -> str:
    return (f"<tr><td>{html.escape(_cut(line.variant, LABEL_CHARS))}</td>"
            f"<td>{line.runs:,}</td><td>{line.ok:,}</td><td>{line.failed:,}</td>"
            f"<td>{line.running:,}</td><td>{line.queued:,}</td><td>{line.other:,}</td>"
            f"<td>{_num(line.ttft_s, '.3f')}</td><td>{_num(line.tokens_per_s, '.1f')}</td></tr>")
