"""The quality side of the views: pass rates with intervals, Δ against the baseline, the
verdict mark beside each answer, and the pass-rate chart. ``views`` calls these when the
frame is scored (it has a ``passed`` column)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..palette import CHART_ACCENT, CHART_INK, CHART_MUTED
from ..scoring.summary import has_scores, score_summary, summary_line

if TYPE_CHECKING:
    import pandas as pd

#: Rows of the side-by-side table's "scores" block.
RATE_ROW = ("scores", "pass rate [95 % CI]")
DELTA_ROW = ("scores", "Δ vs baseline, p")


def baseline_of(df: Any) -> str | None:
    return (getattr(df, "attrs", None) or {}).get("scoring", {}).get("baseline")


def quality_table(frame: pd.DataFrame, variants: list[str],
                  baseline: str | None) -> pd.DataFrame | None:
    """:func:`~gemma_magics.scoring.summary.score_summary` of a frame with ``_variant``
    labels, or None when nothing is scored."""
    if not has_scores(frame):
        return None
    return score_summary(frame, frame["_variant"], variants, baseline)


def side_by_side_rows(quality: pd.DataFrame, variants: list[str]) -> dict[tuple[str, str], list]:
    return {RATE_ROW: [rate_text(quality.loc[v]) for v in variants],
            DELTA_ROW: [delta_text(quality.loc[v]) for v in variants]}


def rate_text(row: Any) -> str:
    if not row["scored"]:
        return "not scored"
    return (f"{row['pass_rate']:.0%} [{row['pass_low']:.0%}, {row['pass_high']:.0%}] "
            f"of {row['scored']}")


def delta_text(row: Any) -> str:
    if row["verdict"] == "baseline":
        return "baseline"
    if _nan(row["p_value"]):
        return "no shared prompts"
    text = (f"{row['delta']:+.2f} [{row['delta_low']:+.2f}, {row['delta_high']:+.2f}], "
            f"p = {row['p_value']:.2g}")
    return text + (" (too few prompts to tell)" if "too few" in row["verdict"] else "")


def answer_mark(row: Any) -> str:
    """``[✓ 1.00] `` before a scored answer (``?``: no verdict, e.g. a failed judgment)."""
    import pandas as pd

    if "passed" not in row.index:
        return ""
    verdict = row["passed"]
    mark = "?" if pd.isna(verdict) else ("✓" if verdict else "✗")
    score = row.get("score")
    shown = "" if score is None or _nan(score) else f" {score:.2f}"
    return f"[{mark}{shown}] "


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


SUMMARY_FORMATS = {
    **{c: "{:.0%}" for c in ("pass_rate", "pass_low", "pass_high")},
    **{c: "{:+.3f}" for c in ("delta", "delta_low", "delta_high", "score_delta")},
    **{c: "{:.3f}" for c in ("score_mean", "score_low", "score_high", "pass_hat_k")},
    **{c: "{:.3g}" for c in ("p_value", "score_p")},
}


def quality_line(df: pd.DataFrame, frame: pd.DataFrame, variants: list[str]) -> str:
    quality = quality_table(frame, variants, baseline_of(df))
    return "" if quality is None else summary_line(quality)


def plot_pass_rate(frame: pd.DataFrame, variants: list[str], ax: Any,
                   baseline: str | None) -> None:
    """Each variant's pass rate as a dot with its Wilson 95 % interval as a bar."""
    quality = quality_table(frame, variants, baseline)
    if quality is None:
        raise ValueError("nothing is scored: give compare(checks=...) or run gm.score() first")
    for i, variant in enumerate(variants):
        row = quality.loc[variant]
        if not row["scored"]:
            ax.text(0, i, "  not scored", va="center", fontsize=8, color=CHART_MUTED,
                    transform=ax.get_yaxis_transform())
            continue
        ax.hlines(i, row["pass_low"], row["pass_high"], color=CHART_ACCENT, linewidth=3)
        ax.scatter([row["pass_rate"]], [i], s=40, color=CHART_INK, zorder=3)
        ax.text(row["pass_high"], i, f"  {row['passes']}/{row['scored']}", va="center",
                fontsize=8, color=CHART_MUTED)
    ax.set_xlim(-0.02, 1.1)
    ax.set_xlabel("pass rate (95 % Wilson interval)")
