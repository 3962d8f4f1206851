"""One line per host: "indistinguishable from the reference at this sample size", or
"different" with the evidence. Two tests decide, each at α/2 (Bonferroni), so the chance
that an identical host is called different stays at most α: the exact McNemar test on the
paired pass/fail of the checked probes, and the MMD test of the answer texts."""

from __future__ import annotations

import math
from typing import Any


def p_text(p: float) -> str:
    if p != p:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict_line(fig: Any, alpha: float) -> tuple[bool, str]:
    """(different, line) for one host's figures."""
    if fig.is_reference:
        copies = "; its sampled answers repeat exactly (a fixed seed?)" if fig.copies else ""
        unsent = f", {fig.not_sent} not sent" if fig.not_sent else ""
        return False, (f"{fig.host}: the reference ({fig.passed}/{fig.checked} checks passed, "
                       f"{fig.errors} failed runs{unsent}){copies}")
    each = alpha / 2
    evidence = []
    paired, mmd = fig.paired, fig.mmd
    accuracy_differs = paired is not None and paired.n > 0 and paired.p_value < each
    distribution_differs = mmd is not None and mmd.p_value == mmd.p_value and mmd.p_value < each
    if paired is not None and paired.n > 0:
        sign = "−" if paired.difference < 0 else "+"
        evidence.append(f"accuracy {sign}{abs(paired.difference) * 100:.0f} points "
                        f"± {paired.half_width * 100:.0f} ({p_text(paired.p_value)}, "
                        f"{paired.n} paired runs)")
    if mmd is not None and not math.isnan(mmd.p_value):
        evidence.append(("answers differ in distribution" if distribution_differs
                         else "answer distributions not told apart")
                        + f" (MMD {p_text(mmd.p_value)})")
    extra = []
    if fig.errors:
        extra.append(f"{fig.errors} runs failed and were left out (first: {fig.first_error})")
    if fig.not_sent:
        extra.append(f"{fig.not_sent} runs not sent (first: {fig.first_not_sent})")
    if not evidence:
        return False, (f"{fig.host}: not checked — no answer to compare with the reference"
                       + ("; " + "; ".join(extra) if extra else ""))
    if fig.copies:
        extra.append("its sampled answers repeat exactly (a fixed seed?): the distribution "
                     "test then also compares seeds")
    if fig.skipped:
        extra.append(f"{len(set(fig.skipped))} probes not supported here")
    tail = ("; " + "; ".join(extra)) if extra else ""
    if accuracy_differs or distribution_differs:
        return True, f"{fig.host}: different — " + ", ".join(evidence) + tail
    gap = fig.detectable_gap
    reach = (f"; a drop of {gap * 100:.0f} points or more would have been detected 80 % of "
             "the time" if gap == gap else "")
    return False, (f"{fig.host}: indistinguishable from the reference at this sample size — "
                   + ", ".join(evidence) + reach + tail)
