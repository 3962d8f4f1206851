"""Views on a comparison (or on ``history()``): answers side by side, a per-variant summary,
and a chart.

All three take the DataFrame :func:`gemma_magics.compare` returns, or any slice of
:func:`gemma_magics.history`. Rows recorded outside a comparison have no ``variant``; they
are grouped by provider, model and whichever settings differ between them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..catalog.models import RANGED_PARAMS
from ..palette import CHART_ACCENT, CHART_INK, CHART_MUTED, HIGHLIGHT_CELL
from ..safe_text import model_text_html
from . import quality as q
from .plan import format_value, short_model
from .table_style import FIT_STYLES, VARIANT_COLUMNS, untrusted

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

#: Metrics summarised and compared, with the direction that is better.
METRICS = {
    "ttft_s": "lower",
    "latency_s": "lower",
    "tokens_per_s": "higher",
    "completion_tokens": None,
    "cost_usd": "lower",
}
LABELS = {
    "ttft_s": "time to first token (s)",
    "latency_s": "latency (s)",
    "tokens_per_s": "decode rate (tokens/s)",
    "e2e_tokens_per_s": "end-to-end rate (tokens/s)",
    "completion_tokens": "completion tokens",
    "prompt_tokens": "prompt tokens",
    "cost_usd": "cost (USD)",
}
SETTING_COLUMNS = (*RANGED_PARAMS, "system", "stop")
HIGHLIGHT = HIGHLIGHT_CELL


def _check(df: Any) -> None:
    if not hasattr(df, "columns") or "provider" not in df.columns:
        raise TypeError("expected the DataFrame from compare() or history()")


def varying_settings(df: pd.DataFrame) -> list[str]:
    """Setting columns whose values differ between rows of the same provider and model.

    A setting that differs only from one provider to the next (each filling in its own
    default) says nothing the provider column does not."""
    out = []
    for name in SETTING_COLUMNS:
        if name not in df.columns:
            continue
        values = df[name].astype("string").fillna("∅")
        if (values.groupby([df["provider"], df["model"]], observed=True).nunique() > 1).any():
            out.append(name)
    return out


def variant_labels(df: pd.DataFrame) -> pd.Series:
    """Each row's variant: its ``variant`` when set, else provider · model · the settings
    that differ between the unlabelled rows."""
    import pandas as pd

    _check(df)
    given = df["variant"] if "variant" in df.columns else pd.Series(None, index=df.index)
    missing = given.isna()
    if not missing.any():
        return given.astype(str)
    rest = df[missing]
    several_models = rest.groupby("provider", observed=True)["model"].nunique()
    settings = varying_settings(rest)

    def label(row: Any) -> str:
        parts = [str(row["provider"])]
        if several_models.get(row["provider"], 1) > 1:
            parts.append(short_model(str(row["model"])))
        for name in settings:
            value = row[name]
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                parts.append(f"{name}={format_value(value)}")
        return " · ".join(parts)

    derived = rest.apply(label, axis=1) if len(rest) else pd.Series(dtype=str)
    out = given.astype(object).copy()
    out[missing] = derived
    return out.astype(str)


def _ordered(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    frame = df.copy()
    frame["_variant"] = variant_labels(frame).to_numpy()
    return frame, list(dict.fromkeys(frame["_variant"]))


# -- side by side ---------------------------------------------------------------------------


def side_by_side(df: pd.DataFrame, *, max_chars: int | None = None) -> Styler:
    """Answers in columns, one per variant, with the settings as column headers.

    Rows: each prompt's runs (``run 1``, ``run 2``... for repeats), then the median of each
    metric over the variant's successful runs, the best value of each metric row
    highlighted. A failed run shows its error above whatever text arrived. ``max_chars``
    shortens long answers.
    """
    import pandas as pd

    _check(df)
    frame, variants = _ordered(df)
    if frame.empty:
        return pd.DataFrame().style
    frame["_run"] = frame.groupby(["_variant", "prompt"], sort=False).cumcount() + 1
    prompts = list(dict.fromkeys(frame["prompt"]))
    runs = int(frame["_run"].max())
    columns = _header(frame, variants)

    rows: dict[tuple[str, str], list[Any]] = {}
    for p_index, prompt in enumerate(prompts):
        label = _prompt_label(prompt, p_index, len(prompts))
        for run in range(1, runs + 1):
            cells = []
            for variant in variants:
                hit = frame[(frame["_variant"] == variant) & (frame["prompt"] == prompt)
                            & (frame["_run"] == run)]
                cells.append(_answer(hit.iloc[0], max_chars) if len(hit) else "")
            if any(cells):
                rows[(label, f"run {run}")] = cells
    quality = q.quality_table(frame, variants, q.baseline_of(df))
    if quality is not None:
        rows.update(q.side_by_side_rows(quality, variants))
    ok = frame[frame["status"] == "ok"]
    metric_rows = []
    for metric in METRICS:
        medians = [ok.loc[ok["_variant"] == v, metric].median() for v in variants]
        key = ("median", LABELS[metric])
        rows[key] = [_float(m) for m in medians]  # NA: a variant with no successful run
        metric_rows.append((key, metric))

    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["prompt", ""])
    answer_rows = [k for k in rows if k[0] not in ("median", "scores")]
    styler = table.style
    if answer_rows:
        styler = styler.set_properties(
            subset=pd.IndexSlice[answer_rows, :],
            # no fixed widths: the variants' columns share the output area (800 px too)
            **{"white-space": "pre-wrap", "text-align": "left", "vertical-align": "top",
               "overflow-wrap": "anywhere", "font-size": "0.9em"},
        )
        # model text: escaped, line breaks kept, no math (the grid's rule, safe_text)
        styler = styler.format(_answer_html, subset=pd.IndexSlice[answer_rows, :])
    for key, metric in metric_rows:
        styler = styler.format(_formatter(metric), subset=pd.IndexSlice[[key], :])
        if METRICS[metric] and len(variants) > 1:
            styler = styler.apply(_best, axis=1, subset=pd.IndexSlice[[key], :],
                                  higher=METRICS[metric] == "higher")
    styler = styler.set_table_styles(
        [{"selector": "th", "props": "text-align: left; vertical-align: top"}, *FIT_STYLES,
         # a column per variant, each with its answers and figures: they share the width
         # down to breaking a number, rather than push the last variant out of view
         VARIANT_COLUMNS, {"selector": "td", "props": "overflow-wrap: anywhere"}]
    )
    return untrusted(styler).set_caption(
        "Answers side by side; median metrics of successful runs")


def _answer_html(value: Any) -> str:
    return model_text_html(value, style="white-space:pre-wrap;overflow-wrap:anywhere") \
        if value else ""


def _header(frame: pd.DataFrame, variants: list[str]) -> Any:
    """Column headers: provider, model, and each setting that differs between variants."""
    import pandas as pd

    firsts = frame.drop_duplicates("_variant").set_index("_variant").loc[variants]
    settings = varying_settings(firsts)
    names = ["provider", "model", *settings]
    tuples = []
    for variant in variants:
        row = firsts.loc[variant]
        values = [str(row["provider"]), short_model(str(row["model"]))]
        values += [_setting(row[name]) for name in settings]
        tuples.append(tuple(values))
    if len(set(tuples)) < len(tuples):  # same settings, different labels: say which
        names.append("variant")
        tuples = [(*t, v) for t, v in zip(tuples, variants, strict=True)]
    return pd.MultiIndex.from_tuples(tuples, names=names)


def _setting(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    return format_value(value)


def _prompt_label(prompt: str, index: int, count: int) -> str:
    text = " ".join(prompt.split())
    text = text if len(text) <= 60 else text[:57] + "…"
    return text if count == 1 else f"{index + 1}. {text}"


def _answer(row: Any, max_chars: int | None) -> str:
    text = row["response"] or ""
    if max_chars and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    if row["status"] != "ok":
        problem = row["error"] if isinstance(row["error"], str) else row["status"]
        text = f"[{row['status']}] {problem}" + (f"\n{text}" if text else "")
    return q.answer_mark(row) + text


def _formatter(metric: str):
    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if metric == "cost_usd":
            return "$0" if value == 0 else f"${value:.6f}"
        if metric == "completion_tokens":
            return f"{value:g}"
        return f"{value:.3f}" if metric.endswith("_s") else f"{value:.1f}"

    return fmt


def _float(value: Any) -> float:
    """A number, or NaN for None, ``pd.NA`` and other missing values."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _best(row: pd.Series, higher: bool) -> list[str]:
    values = [_float(v) for v in row]
    finite = [v for v in values if not math.isnan(v)]
    if len(finite) < 2 or min(finite) == max(finite):
        return [""] * len(values)
    best = max(finite) if higher else min(finite)
    return [HIGHLIGHT if v == best else "" for v in values]


# -- summary ------------------------------------------------------------------------------------


def summary(df: pd.DataFrame, *, baseline: str | None = None) -> pd.DataFrame:
    """One row per variant: runs, successes, errors, then the median and interquartile range
    (``_iqr``) of ttft_s, latency_s, tokens_per_s, completion_tokens and cost_usd over its
    successful runs, and ``cost_per_1k_calls`` (mean cost × 1,000; NaN when a price is
    unknown).

    A scored frame (``compare(checks=...)``, :func:`gemma_magics.score`) adds the quality
    columns: ``pass_rate`` with its Wilson 95 % interval (``pass_low``, ``pass_high``),
    ``score_mean`` with a bootstrap interval, and against ``baseline`` (default the first
    variant) on the same prompts: ``delta`` in pass rate with its interval, the exact
    McNemar ``p_value``, and a ``verdict`` in words, which says so when the sample is too
    small to tell the variants apart; across repeats, ``pass_hat_k`` and ``flaky_prompts``.
    """
    _check(df)
    frame, variants = _ordered(df)
    table = _metric_summary(frame, variants)
    quality = q.quality_table(frame, variants, baseline or q.baseline_of(df))
    return table if quality is None else table.join(quality)


def _metric_summary(frame: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for variant in variants:
        mine = frame[frame["_variant"] == variant]
        ok = mine[mine["status"] == "ok"]
        row: dict[str, Any] = {
            "variant": variant,
            "provider": mine["provider"].iloc[0],
            "model": mine["model"].iloc[0],
            "runs": len(mine),
            "ok": len(ok),
            "errors": int((mine["status"] == "error").sum()),
        }
        for metric in METRICS:
            values = pd.to_numeric(ok[metric], errors="coerce").astype("float64").dropna()
            row[f"{metric}_median"] = values.median() if len(values) else math.nan
            row[f"{metric}_iqr"] = (values.quantile(0.75) - values.quantile(0.25)
                                    if len(values) else math.nan)
        cost = pd.to_numeric(ok["cost_usd"], errors="coerce").astype("float64")
        row["cost_per_1k_calls"] = (cost.mean() * 1000
                                    if len(cost) and cost.notna().all() else math.nan)
        rows.append(row)
    columns = ["variant", "provider", "model", "runs", "ok", "errors",
               *[f"{m}_{s}" for m in METRICS for s in ("median", "iqr")], "cost_per_1k_calls"]
    return pd.DataFrame(rows, columns=columns).set_index("variant")


def styled_summary(df: pd.DataFrame, columns: str = "lead") -> Styler:
    """:func:`summary` formatted for reading (seconds and rates to 3 decimals, costs to 6,
    unknown values as n/a): the columns to decide on (provider, model, runs, ok, pass rate,
    median TTFT and tokens/s, cost per 1k calls) with wrapping headers, or
    ``columns="all"`` every column of :func:`summary`."""
    from .summary_view import styled

    return styled(summary(df), columns)


def summary_tables(df: pd.DataFrame) -> Any:
    """What a comparison shows as its summary: :func:`styled_summary`'s lead table, and
    every column in a ``<details>`` under it."""
    from .summary_view import SummaryTables

    return SummaryTables(summary(df))


def quality_line(df: pd.DataFrame) -> str:
    """The quality summary in plain sentences ('' for an unscored frame): each variant's
    pass rate with its interval, and whether it differs from the baseline."""
    _check(df)
    frame, variants = _ordered(df)
    return q.quality_line(df, frame, variants)


# -- chart -----------------------------------------------------------------------------------


def plot(df: pd.DataFrame, metric: str = "tokens_per_s", *, ax: Any = None) -> Figure:
    """A chart of ``metric`` per variant: every successful run as a dot, the median as a
    bar across it, the interquartile range as a band. ``metric="pass_rate"`` (a scored
    frame) draws each pass rate with its 95 % Wilson interval. Returns the matplotlib Figure
    (drawn on ``ax`` when given). matplotlib is imported only here."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    _check(df)
    if metric not in df.columns and metric != "pass_rate":
        raise ValueError(f"no column {metric!r}; try one of: {', '.join(LABELS)}, pass_rate")
    frame, variants = _ordered(df)
    ok = frame[frame["status"] == "ok"]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(variants) + 1.4))
        plt.close(fig)  # returned, not also shown by the inline backend
    else:
        fig = ax.figure
    if metric == "pass_rate":
        q.plot_pass_rate(frame, variants, ax, q.baseline_of(df))
        return _finish_axes(fig, ax, variants, "pass rate")
    rng = np.random.default_rng(0)
    for i, variant in enumerate(variants):
        runs = pd.to_numeric(ok.loc[ok["_variant"] == variant, metric], errors="coerce")
        values = runs.astype("float64").dropna().to_numpy()
        note = _chart_note(metric, len(runs), len(runs) - len(values), values)
        if note:  # say what is not drawn, or that $0 is free, not unknown
            ax.text(0 if not len(values) else 1, i, f"  {note}  ", va="center", fontsize=8,
                    color=CHART_MUTED, ha="left" if not len(values) else "right",
                    transform=ax.get_yaxis_transform())
        if not len(values):
            continue
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        ax.hlines(i, q1, q3, color=CHART_ACCENT, alpha=0.25, linewidth=10)
        ax.vlines(median, i - 0.3, i + 0.3, color=CHART_ACCENT, linewidth=2)
        ax.scatter(values, i + rng.uniform(-0.12, 0.12, len(values)), s=14, color=CHART_INK,
                   zorder=3)
    ax.set_xlabel(LABELS.get(metric, metric))
    return _finish_axes(fig, ax, variants, LABELS.get(metric, metric))


def _chart_note(metric: str, runs: int, missing: int, values: Any) -> str:
    """What a variant's row of the chart says besides its dots ('' for nothing)."""
    if not runs:
        return "no successful run"
    why = {"tokens_per_s": "not streamed", "cost_usd": "price unknown"}.get(metric, "no value")
    if missing:
        return why if missing == runs else f"{missing} of {runs} {why}"
    if metric == "cost_usd" and not values.any():
        return "free ($0)"
    return ""


def _finish_axes(fig: Figure, ax: Any, variants: list[str], title: str) -> Figure:
    ax.set_yticks(range(len(variants)))
    ax.set_yticklabels(variants, fontsize=8)
    ax.set_ylim(len(variants) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{title} by variant", fontsize=10)
    fig.tight_layout()
    return fig
