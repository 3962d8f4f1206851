"""Per-variant statistics of scored runs: pass rate with its Wilson interval, mean score
with a bootstrap interval, the paired comparison with a baseline variant, and how the
verdicts hold across repeats. Used by ``comparisons.views`` (which knows the variants)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import stats

if TYPE_CHECKING:
    import pandas as pd

SCORE_SUMMARY_COLUMNS = (
    "scored", "passes", "pass_rate", "pass_low", "pass_high", "score_mean", "score_low",
    "score_high", "delta", "delta_low", "delta_high", "p_value", "test", "pass_hat_k", "k",
    "flaky_prompts", "judge_failures", "score_delta", "score_p", "verdict",
)


def has_scores(frame: pd.DataFrame) -> bool:
    return "passed" in frame.columns and frame["passed"].notna().any()


def _pairs(frame: pd.DataFrame, labels: pd.Series, variant: str, baseline: str,
           column: str) -> tuple[list[Any], list[Any]]:
    """Values of ``column`` for the same prompt (and the same repeat number) in both."""
    keyed: dict[str, dict[tuple[str, int], Any]] = {}
    for name in (variant, baseline):
        mine = frame[labels == name]
        order = mine.groupby("prompt", sort=False).cumcount()
        keyed[name] = {(p, int(k)): v for p, k, v in zip(mine["prompt"], order, mine[column])
                       if not _missing(v)}
    shared = [key for key in keyed[variant] if key in keyed[baseline]]
    return [keyed[variant][k] for k in shared], [keyed[baseline][k] for k in shared]


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)
    except TypeError:  # pd.NA
        return True


def score_summary(frame: pd.DataFrame, labels: pd.Series, variants: list[str],
                  baseline: str | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per variant (index: the variant) with the columns in
    :data:`SCORE_SUMMARY_COLUMNS`; ``baseline`` defaults to the first variant.

    ``delta`` and ``p_value``: the difference in pass rate from the baseline on the same
    prompts (paired bootstrap interval) and the exact McNemar test; ``score_delta`` and
    ``score_p``: the same for graded scores (Wilcoxon signed-rank), when scores are not
    just 0/1. ``verdict`` says in words whether the sample can tell the two apart."""
    import pandas as pd

    labels = pd.Series(list(labels), index=frame.index)
    base = baseline if baseline is not None else variants[0]
    if base not in variants:
        raise ValueError(f"baseline {base!r} is not a variant; use one of {variants}")
    rows = []
    for variant in variants:
        mine = frame[labels == variant]
        passed = mine["passed"].dropna().astype(bool)
        n, k = len(passed), int(passed.sum())
        low, high = stats.wilson_interval(k, n)
        values = pd.to_numeric(mine["score"], errors="coerce").dropna().to_numpy()
        s_low, s_high = stats.bootstrap_interval(values, seed=seed)
        row: dict[str, Any] = {
            "variant": variant, "scored": n, "passes": k,
            "pass_rate": k / n if n else math.nan, "pass_low": low, "pass_high": high,
            "score_mean": float(values.mean()) if len(values) else math.nan,
            "score_low": s_low, "score_high": s_high,
            "judge_failures": _judge_failures(mine), "score_delta": math.nan,
            "score_p": math.nan,
        }
        row.update(_repeats(mine))
        if variant == base:
            row.update(delta=math.nan, delta_low=math.nan, delta_high=math.nan,
                       p_value=math.nan, test="baseline", verdict="baseline")
        else:
            a, b = _pairs(frame, labels, variant, base, "passed")
            test = stats.mcnemar([bool(x) for x in a], [bool(x) for x in b], seed=seed)
            row.update(delta=test.difference, delta_low=test.low, delta_high=test.high,
                       p_value=test.p_value if test.n else math.nan, test=test.test,
                       verdict=test.verdict(variant, base))
            va, vb = _pairs(frame, labels, variant, base, "score")
            if len(va) and any(0 < float(x) < 1 for x in [*va, *vb]):  # graded, not 0/1
                graded = stats.wilcoxon([float(x) for x in va], [float(x) for x in vb],
                                        seed=seed)
                row.update(score_delta=graded.difference, score_p=graded.p_value)
        rows.append(row)
    return pd.DataFrame(rows, columns=["variant", *SCORE_SUMMARY_COLUMNS]).set_index("variant")


def _judge_failures(mine: pd.DataFrame) -> int:
    """Runs whose verdict is missing because a judgment (or check) failed."""
    cols = [c for c in mine.columns if c.startswith("pass[") and "@" not in c]
    if not cols:
        return 0
    return int((mine["passed"].isna() & mine[cols].isna().any(axis=1)
                & (mine["status"] == "ok")).sum())


def _repeats(mine: pd.DataFrame) -> dict[str, Any]:
    """pass^k over prompts run k ≥ 2 times, and the prompts whose verdict flips."""
    per_prompt = mine.dropna(subset=["passed"]).groupby("prompt", sort=False)["passed"]
    counts = per_prompt.agg(["count", "sum"])
    if counts.empty or counts["count"].min() < 2:
        return {"pass_hat_k": math.nan, "k": 1 if not counts.empty else 0, "flaky_prompts": []}
    k = int(counts["count"].min())
    hat = [stats.pass_hat_k(int(n), int(c), k) for n, c in zip(counts["count"], counts["sum"])]
    flaky = [str(p) for p, (n, c) in counts.iterrows() if 0 < c < n]
    return {"pass_hat_k": sum(hat) / len(hat), "k": k, "flaky_prompts": flaky}


def summary_line(table: pd.DataFrame) -> str:
    """The whole comparison in a few plain sentences (for the panel and the terminal)."""
    parts = []
    for variant, row in table.iterrows():
        if not row["scored"]:
            parts.append(f"{variant}: nothing scored")
            continue
        text = (f"{variant}: pass rate {row['pass_rate']:.0%} "
                f"[{row['pass_low']:.0%}, {row['pass_high']:.0%}] of {row['scored']}")
        if row["verdict"] != "baseline":
            text += f"; {row['verdict']}"
        if row["flaky_prompts"]:
            text += f"; {len(row['flaky_prompts'])} flaky prompt(s)"
        parts.append(text)
    return "\n".join(parts)


def agreement(df: pd.DataFrame) -> pd.DataFrame:
    """How far the scorers of a scored frame agree on pass/fail: Cohen's κ for every pair of
    ``pass[...]`` columns (checks, judges, each human rater) over the runs both scored, and
    Krippendorff's α over all of them in ``.attrs["krippendorff_alpha"]``.

    >>> gm.agreement(gm.history())   # e.g. does the judge agree with ana's ratings?
    """
    import pandas as pd

    columns = [c for c in df.columns if c.startswith("pass[")]
    rows = []
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            both = df[[a, b]].dropna()
            rows.append({"a": a[5:-1], "b": b[5:-1], "runs": len(both),
                         "agree": float((both[a] == both[b]).mean()) if len(both) else math.nan,
                         "kappa": stats.cohen_kappa(list(both[a]), list(both[b]))})
    table = pd.DataFrame(rows, columns=["a", "b", "runs", "agree", "kappa"])
    table.attrs["krippendorff_alpha"] = stats.krippendorff_alpha(
        [[None if pd.isna(v) else float(bool(v)) for v in df[c]] for c in columns]
    ) if len(columns) >= 2 else math.nan
    return table
