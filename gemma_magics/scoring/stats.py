"""Statistics of scores: intervals, paired tests, repeats and agreement.

scipy (and the ``krippendorff`` package) are imported inside the functions, only when
scoring. Every random step takes a ``seed`` so a summary is the same each time it is drawn.

- :func:`wilson_interval` — pass rate k/n with its Wilson score interval;
- :func:`bootstrap_interval` — the mean of scores with a bootstrap interval;
- :func:`mcnemar` — exact McNemar test of two variants' pass/fail on the same prompts;
- :func:`paired_difference` — mean difference on the same prompts, with a paired bootstrap
  interval; :func:`wilcoxon` — Wilcoxon signed-rank test of paired scores;
- :func:`pass_at_k`, :func:`pass_hat_k` — across repeats: some / all of k tries pass;
- :func:`cohen_kappa`, :func:`krippendorff_alpha` — agreement between raters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 2000
#: The smallest number of informative pairs for which a two-sided exact test can reach
#: p < 0.05 at all (all of them going one way gives p = 2 / 2**n).
MIN_PAIRS_FOR_5_PERCENT = 6


def wilson_interval(passed: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a pass rate ``passed / n`` ((nan, nan) for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(int(passed), int(n)).proportion_ci(confidence_level=confidence,
                                                      method="wilson")
    return float(ci.low), float(ci.high)


def bootstrap_interval(values: Sequence[float], confidence: float = CONFIDENCE,
                       seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of ``values`` ((nan, nan) for fewer
    than two values; the value itself when all are equal)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) < 2:
        return math.nan, math.nan
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    from scipy.stats import bootstrap

    res = bootstrap((data,), np.mean, confidence_level=confidence, n_resamples=RESAMPLES,
                    method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass
class PairedTest:
    """A comparison of a variant with the baseline on the same prompts."""

    n: int  # pairs compared
    difference: float  # mean(variant) - mean(baseline)
    low: float
    high: float
    p_value: float
    test: str
    informative: int  # pairs that can move the test (discordant / non-zero differences)

    @property
    def too_small(self) -> bool:
        """True when no outcome of this many informative pairs could reach p < 0.05."""
        return self.informative < MIN_PAIRS_FOR_5_PERCENT

    def verdict(self, name: str = "variant", baseline: str = "baseline") -> str:
        """One plain sentence on what the test says."""
        if self.n == 0:
            return f"{name} and {baseline} share no scored prompts: no comparison"
        if self.too_small:
            return (f"too few prompts to tell {name} from {baseline}: {self.informative} "
                    f"of {self.n} pairs differ, and even if all went one way p would be "
                    f"{min(1.0, 2 * 0.5 ** self.informative):.2g} (≥ 0.05)")
        if self.p_value < 0.05:
            better = "better" if self.difference > 0 else "worse"
            return (f"{name} is {better} than {baseline}: Δ {self.difference:+.3f} "
                    f"[{self.low:+.3f}, {self.high:+.3f}], p = {self.p_value:.3g}")
        return (f"no significant difference between {name} and {baseline}: Δ "
                f"{self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}], "
                f"p = {self.p_value:.3g}")


def mcnemar(variant: Sequence[bool], baseline: Sequence[bool], seed: int = 0,
            confidence: float = CONFIDENCE) -> PairedTest:
    """Exact McNemar test on paired pass/fail: a binomial test of the discordant pairs
    (variant passes where the baseline fails, and the reverse); ties (both pass, both fail)
    carry no information. The difference is in pass rate, with a paired bootstrap interval."""
    a = [bool(x) for x in variant]
    b = [bool(x) for x in baseline]
    _same_length(a, b)
    wins = sum(1 for x, y in zip(a, b) if x and not y)
    losses = sum(1 for x, y in zip(a, b) if y and not x)
    p = exact_mcnemar_p(wins, losses)
    diff, low, high = paired_difference(a, b, seed=seed, confidence=confidence)
    return PairedTest(len(a), diff, low, high, p, "exact McNemar", wins + losses)


def exact_mcnemar_p(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none)."""
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5).pvalue)


def paired_difference(variant: Sequence[float], baseline: Sequence[float], seed: int = 0,
                      confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean of ``variant - baseline`` over pairs, with a paired (percentile) bootstrap
    interval."""
    import numpy as np

    a = np.asarray(variant, dtype=float)
    b = np.asarray(baseline, dtype=float)
    _same_length(a, b)
    if len(a) == 0:
        return math.nan, math.nan, math.nan
    diff = a - b
    low, high = bootstrap_interval(diff, confidence, seed)
    if len(diff) < 2:
        low = high = math.nan
    return float(diff.mean()), low, high


def wilcoxon(variant: Sequence[float], baseline: Sequence[float], seed: int = 0,
             confidence: float = CONFIDENCE) -> PairedTest:
    """Wilcoxon signed-rank test of paired scores (zero differences dropped), with the mean
    difference and its paired bootstrap interval."""
    import numpy as np

    a = np.asarray(variant, dtype=float)
    b = np.asarray(baseline, dtype=float)
    _same_length(a, b)
    nonzero = int(np.count_nonzero(a - b))
    diff, low, high = paired_difference(a, b, seed=seed, confidence=confidence)
    if nonzero == 0:
        p = 1.0
    else:
        from scipy.stats import wilcoxon as scipy_wilcoxon

        p = float(scipy_wilcoxon(a, b, zero_method="wilcox").pvalue)
    return PairedTest(len(a), diff, low, high, p, "Wilcoxon signed-rank", nonzero)


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} vs {len(b)})")


def pass_at_k(n: int, passed: int, k: int) -> float:
    """Chance that at least one of ``k`` tries (drawn from ``n`` with ``passed`` passes)
    passes: 1 - C(n-c, k) / C(n, k)."""
    if k > n or k < 1:
        return math.nan
    return 1.0 - math.comb(n - passed, k) / math.comb(n, k)


def pass_hat_k(n: int, passed: int, k: int) -> float:
    """pass^k: chance that all of ``k`` tries pass, C(c, k) / C(n, k) (how reliable, not
    how lucky)."""
    if k > n or k < 1:
        return math.nan
    return math.comb(passed, k) / math.comb(n, k)


def cohen_kappa(rater_a: Sequence[Any], rater_b: Sequence[Any]) -> float:
    """Cohen's κ between two raters' labels of the same items (missing pairs dropped):
    (p_observed - p_chance) / (1 - p_chance); nan when chance agreement is total."""
    pairs = [(x, y) for x, y in zip(rater_a, rater_b) if not _missing(x) and not _missing(y)]
    if not pairs:
        return math.nan
    n = len(pairs)
    labels = {x for pair in pairs for x in pair}
    observed = sum(1 for x, y in pairs if x == y) / n
    chance = sum((sum(1 for x, _ in pairs if x == label) / n)
                 * (sum(1 for _, y in pairs if y == label) / n) for label in labels)
    if chance == 1.0:
        return math.nan
    return (observed - chance) / (1.0 - chance)


def krippendorff_alpha(ratings: Sequence[Sequence[Any]], level: str = "nominal") -> float:
    """Krippendorff's α for several raters: ``ratings[rater][item]`` (None/NaN: not rated).
    ``level``: nominal, ordinal, interval or ratio. Uses the ``krippendorff`` package."""
    import krippendorff
    import numpy as np

    data = np.array([[np.nan if _missing(v) else float(v) for v in row] for row in ratings],
                    dtype=float)
    values = set(data[~np.isnan(data)].tolist())
    if len(values) < 2:
        return math.nan  # one value only: agreement is undefined, not perfect
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN; pd.NA raises TypeError here
    except TypeError:
        return True
