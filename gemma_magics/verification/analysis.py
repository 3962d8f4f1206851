"""From the runs of a host check to per-host figures and one verdict line per host.

Everything here works on a DataFrame of runs (the comparison engine's, with ``probe_id``
and ``repeat`` columns), so it can be tested on synthetic records and re-run on old ones.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from . import stats
from .checks import run_check
from .probes import Probe
from .verdict import verdict_line

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class HostFigures:
    """One host's figures, beside the reference's."""

    host: str
    provider: str
    model: str
    is_reference: bool
    runs: int
    errors: int
    checked: int
    passed: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    paired: stats.Paired | None
    json_valid: tuple[int, int]
    tool_valid: tuple[int, int]
    finish_reasons: dict[str, int]
    answer_chars: list[int]
    mmd: stats.MMDResult | None
    agreement: tuple[float, int]  # with the reference (self-agreement for the reference)
    detectable_gap: float
    speed: dict[str, float]
    skipped: list[str] = field(default_factory=list)
    first_error: str | None = None
    not_sent: int = 0  # runs recorded as skipped: over the budget, or too long for the host
    first_not_sent: str | None = None
    copies: bool = False  # its sampled probes came back identical on every repeat
    different: bool = False
    verdict: str = ""


@dataclass
class VerifyResult:
    """What :func:`gemma_magics.verify` returns: per-host figures and verdicts, the runs
    (one row per probe run, with ``passed`` and ``valid``), and the probes used."""

    model: str
    family: str | None
    reference: str
    alpha: float
    repeats: int
    hosts: list[HostFigures]
    runs: pd.DataFrame
    probes: list[Probe]
    noise_floor: tuple[float, int]
    budget: dict[str, float] | None = None  # {"limit", "spent"} in USD when one was given

    def verdicts(self) -> list[str]:
        return [h.verdict for h in self.hosts]

    def host(self, name: str) -> HostFigures:
        for h in self.hosts:
            if h.host == name or h.provider == name:
                return h
        raise KeyError(name)

    def table(self) -> pd.DataFrame:
        """One row per host: accuracy ± interval, Δ vs reference and p, validity rates,
        MMD p, agreement, median length, speed and cost."""
        import pandas as pd

        rows = []
        for h in self.hosts:
            p = h.paired
            rows.append({
                "host": h.host, "model": h.model, "reference": h.is_reference,
                "runs": h.runs, "errors": h.errors, "not_sent": h.not_sent, "accuracy": h.accuracy,
                "accuracy_low": h.accuracy_ci[0], "accuracy_high": h.accuracy_ci[1],
                "delta": p.difference if p else math.nan,
                "delta_pm": p.half_width if p else math.nan,
                "mcnemar_p": p.p_value if p else math.nan,
                "json_valid": _rate(h.json_valid), "tool_valid": _rate(h.tool_valid),
                "mmd_p": h.mmd.p_value if h.mmd else math.nan,
                "agreement": h.agreement[0],
                "median_chars": _median(h.answer_chars),
                "finish_reasons": ", ".join(f"{k} {v}" for k, v in h.finish_reasons.items()),
                **h.speed, "different": h.different,
            })
        return pd.DataFrame(rows)

    def closing_note(self) -> str:
        n = max((h.paired.n for h in self.hosts if h.paired), default=0)
        gap = stats.detectable_gap(n, self.alpha / 2) if n else math.nan
        need = stats.pairs_needed(0.05, self.alpha / 2)
        floor, pairs = self.noise_floor
        parts = [f"Reference {self.reference}: two samples of the same probe agree "
                 f"{_pct(floor)} of the time ({pairs} pairs), its own noise floor."]
        if n:
            parts.append(f"With {n} paired runs an accuracy drop of {gap * 100:.0f} points or "
                         f"more is detected 80 % of the time; a 5-point drop needs about "
                         f"{need} paired runs.")
        parts.append("A pass means no difference was found at this sample size, never that "
                     "a host serves the same model.")
        if self.budget is not None:
            from ..comparisons.budget import usd

            left = sum(h.not_sent for h in self.hosts)
            parts.append(f"Budget: {usd(self.budget['spent'])} of {usd(self.budget['limit'])} "
                         "spent" + (f"; {left} runs over it or too long were not sent, "
                                    "recorded as skipped (resume=True with a new budget runs "
                                    "them)." if left else "."))
        return " ".join(parts)

    def __repr__(self) -> str:
        return "\n".join([f"verify {self.model} (family {self.family}), reference "
                          f"{self.reference}", *self.verdicts(), self.closing_note()])

    def _repr_html_(self) -> str:
        from ..safe_text import escape

        lines = "".join(f"<li>{escape(v)}</li>" for v in self.verdicts())
        return (f"<div><b>verify {escape(self.model)}</b><ul>{lines}</ul>"
                f"<p>{escape(self.closing_note())}</p></div>")


def _rate(pair: tuple[int, int]) -> float:
    ok, n = pair
    return ok / n if n else math.nan


def _median(values: list[int]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x * 100:.0f} %"


def score_runs(runs: pd.DataFrame, probes: list[Probe]) -> pd.DataFrame:
    """Add ``passed`` (None for unchecked probes and failed runs), ``valid`` and ``text``
    (the answer, or its tool calls when it made some) to every run."""
    by_id = {p.id: p for p in probes}
    passed, valid, text = [], [], []
    for row in runs.itertuples(index=False):
        probe = by_id[row.probe_id]
        calls = row.tool_calls if isinstance(row.tool_calls, str) else None
        text.append(str(row.response or "") or (calls or ""))
        if not _answered(row.status, row.error_type) or not probe.check:
            passed.append(None)
            valid.append(None)
            continue
        outcome = run_check(probe.check, str(row.response or ""), row.tool_calls, probe)
        passed.append(outcome.passed)
        valid.append(outcome.valid)
    out = runs.copy()
    out["passed"], out["valid"], out["text"] = passed, valid, text
    return out


def _answered(status: str, error_type: Any) -> bool:
    """A run that brought an answer: ok, or JSON mode's answer that failed to parse (a
    wrong answer, kept in the record, not a lost run)."""
    return status == "ok" or error_type == "OutputParseError"


def answered(runs: pd.DataFrame) -> pd.Series:
    return runs["status"].eq("ok") | runs["error_type"].eq("OutputParseError")


def _copies(rows: pd.DataFrame, probes: list[Probe]) -> bool:
    """True when every probe sampled at temperature > 0 returned one text on all its repeats
    (a host with a fixed seed): such repeats are copies, not draws, and the distribution
    test then compares seeds as much as models."""
    sampled = {p.id for p in probes if p.temperature > 0}
    mine = rows[rows["probe_id"].isin(sampled)]
    counts = mine.groupby("probe_id")["text"].agg(["nunique", "size"])
    counts = counts[counts["size"] > 1]
    return bool(len(counts)) and bool((counts["nunique"] == 1).all())


def not_sent(runs: pd.DataFrame) -> pd.Series:
    """Runs never sent (status ``skipped``: over the budget, or too long for the host's
    context window): neither answers nor failures of the host."""
    return runs["status"].eq("skipped")


def _first_error(rows: pd.DataFrame) -> str | None:
    failed = rows[~answered(rows) & ~not_sent(rows)]
    if failed.empty:
        return None
    return str(failed["error"].fillna(failed["status"]).iloc[0])[:160]


def _first_not_sent(rows: pd.DataFrame) -> str | None:
    left = rows[not_sent(rows)]
    return None if left.empty else str(left["error"].fillna("skipped").iloc[0])[:160]


def _validity(rows: pd.DataFrame, kinds: dict[str, str], kind: str) -> tuple[int, int]:
    sel = rows[rows["probe_id"].map(kinds) == kind]
    return int(sel["valid"].astype(bool).sum()), len(sel)


def _samples(rows: pd.DataFrame) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for probe_id, text in zip(rows["probe_id"], rows["text"]):
        out.setdefault(str(probe_id), []).append(str(text))
    return out


def _speed(rows: pd.DataFrame) -> dict[str, float]:
    import pandas as pd

    def med(name: str) -> float:
        values = pd.to_numeric(rows[name], errors="coerce").dropna()
        return float(values.median()) if len(values) else math.nan

    cost = pd.to_numeric(rows["cost_usd"], errors="coerce")
    return {"ttft_s": med("ttft_s"), "tokens_per_s": med("tokens_per_s"),
            "latency_s": med("latency_s"),
            "cost_usd": float(cost.sum()) if len(cost) and cost.notna().all() else math.nan}


def pick_reference(variants: list[str], providers: dict[str, str], reference: str | None) -> str:
    if reference is None:
        return variants[0]
    if reference in variants:
        return reference
    mine = [v for v in variants if providers[v] == reference]
    if not mine:
        raise ValidationError(f"reference {reference!r} is not among the hosts",
                              fix=f"use one of: {', '.join(variants)}")
    return mine[0]


def analyze(runs: pd.DataFrame, probes: list[Probe], *, model: str, family: str | None = None,
            reference: str | None = None, alpha: float = 0.05, seed: int = 0,
            skipped: dict[str, list[str]] | None = None, repeats: int = 1) -> VerifyResult:
    """Figures and verdicts from the runs (see the module docstring)."""
    runs = score_runs(runs, probes)
    variants = list(dict.fromkeys(runs["variant"]))
    providers = dict(zip(runs["variant"], runs["provider"]))
    ref = pick_reference(variants, providers, reference)
    ok = runs[answered(runs)]
    ref_rows = ok[ok["variant"] == ref]
    ref_pass = {(r.probe_id, r.repeat): r.passed for r in ref_rows.itertuples()
                if r.passed is not None}
    ref_samples = [(str(p), str(t)) for p, t in zip(ref_rows["probe_id"], ref_rows["text"])]
    floor = stats.agreement(_samples(ref_rows))
    figures = []
    for index, variant in enumerate(variants):
        mine = runs[runs["variant"] == variant]
        good = mine[answered(mine)]
        checked = good[good["passed"].notna()]
        n_pass = int(checked["passed"].astype(bool).sum())
        kinds = {p.id: p.kind for p in probes}
        is_ref = variant == ref
        paired = mmd = None
        if not is_ref:
            mine_pass = {(r.probe_id, r.repeat): r.passed for r in checked.itertuples()}
            keys = sorted(set(mine_pass) & set(ref_pass), key=str)
            paired = stats.mcnemar([bool(mine_pass[k]) for k in keys],
                                   [bool(ref_pass[k]) for k in keys])
            samples = [(str(p), str(t)) for p, t in zip(good["probe_id"], good["text"])]
            mmd = stats.mmd_test(samples, ref_samples, seed=seed + index)
            agree = stats.cross_agreement(_samples(good), _samples(ref_rows))
        else:
            agree = floor

        fig = HostFigures(
            host=variant, provider=providers[variant], model=str(mine["model"].iloc[0]),
            is_reference=is_ref, runs=len(mine),
            errors=int((~answered(mine) & ~not_sent(mine)).sum()),
            not_sent=int(not_sent(mine).sum()), first_not_sent=_first_not_sent(mine),
            checked=len(checked), passed=n_pass,
            accuracy=n_pass / len(checked) if len(checked) else math.nan,
            accuracy_ci=stats.wilson(n_pass, len(checked)), paired=paired,
            json_valid=_validity(checked, kinds, "json"),
            tool_valid=_validity(checked, kinds, "tool"),
            finish_reasons=dict(Counter(str(f) for f in mine["finish_reason"].fillna("none"))),
            answer_chars=[len(t) for t in good["text"]], mmd=mmd, agreement=agree,
            detectable_gap=stats.detectable_gap(paired.n, alpha / 2) if paired else math.nan,
            speed=_speed(good), skipped=list((skipped or {}).get(providers[variant], [])),
            first_error=_first_error(mine), copies=_copies(good, probes))
        fig.different, fig.verdict = verdict_line(fig, alpha)
        figures.append(fig)
    return VerifyResult(model=model, family=family, reference=ref, alpha=alpha,
                        repeats=repeats, hosts=figures, runs=runs, probes=probes,
                        noise_floor=floor)
