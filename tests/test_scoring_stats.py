"""Statistics of scores against hand-computed values and scipy's own results, and the
no-difference case: identical variants are called different about 5 % of the time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gemma_magics.scoring import stats

Z = 1.959963984540054


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (0, 1), (1, 1), (1, 3), (3, 7),
                                      (50, 100)])
def test_wilson_interval_matches_the_formula(k, n):
    low, high = stats.wilson_interval(k, n)
    want = wilson_by_hand(k, n)
    assert low == pytest.approx(max(0.0, want[0]), abs=1e-12)
    assert high == pytest.approx(min(1.0, want[1]), abs=1e-12)


def test_wilson_bounds_at_the_edges():
    assert stats.wilson_interval(0, 10)[0] == 0.0
    assert stats.wilson_interval(0, 10)[1] == pytest.approx(Z**2 / (10 + Z**2))  # 0.2775
    assert stats.wilson_interval(10, 10) == pytest.approx((10 / (10 + Z**2), 1.0))
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))


def test_exact_mcnemar_on_a_table_with_ties():
    # 10 pairs: 3 both pass, 2 both fail (ties: no information), 4 variant-only, 1 baseline-only
    variant = [1, 1, 1, 0, 0, 1, 1, 1, 1, 0]
    baseline = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    test = stats.mcnemar(variant, baseline)
    # two-sided binomial on the 5 discordant pairs: 2 * P(X <= 1 | n=5, p=.5) = 2 * 6/32
    assert test.p_value == pytest.approx(0.375)
    assert test.informative == 5 and test.n == 10
    assert test.difference == pytest.approx(0.3)
    assert test.too_small  # 5 discordant pairs can never reach p < 0.05
    assert "too few prompts" in test.verdict("B", "A")
    assert stats.exact_mcnemar_p(0, 0) == 1.0
    assert stats.exact_mcnemar_p(6, 0) == pytest.approx(2 / 64)


def test_mcnemar_matches_scipy_binomtest():
    from scipy.stats import binomtest

    assert stats.exact_mcnemar_p(12, 3) == pytest.approx(binomtest(3, 15, 0.5).pvalue)


def test_wilcoxon_matches_scipy_and_handles_no_difference():
    from scipy.stats import wilcoxon

    a = [0.9, 0.8, 0.7, 0.95, 0.6, 0.85, 0.9, 0.75]
    b = [0.5, 0.7, 0.72, 0.4, 0.55, 0.6, 0.8, 0.7]
    test = stats.wilcoxon(a, b)
    assert test.p_value == pytest.approx(wilcoxon(a, b).pvalue)
    assert test.difference == pytest.approx(np.mean(np.subtract(a, b)))
    assert test.low < test.difference < test.high
    same = stats.wilcoxon(a, a)
    assert same.p_value == 1.0 and same.informative == 0


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    values = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.6]
    low, high = stats.bootstrap_interval(values, seed=3)
    assert low < np.mean(values) < high
    assert (low, high) == stats.bootstrap_interval(values, seed=3)
    assert stats.bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in stats.bootstrap_interval([0.5]))


def test_pass_at_k_and_pass_hat_k():
    assert stats.pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert stats.pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert stats.pass_hat_k(5, 2, 2) == pytest.approx(1 / 10)  # C(2,2)/C(5,2)
    assert stats.pass_hat_k(4, 4, 4) == 1.0
    assert math.isnan(stats.pass_hat_k(2, 1, 3))


def test_cohen_kappa_known_case():
    # the textbook table: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert stats.cohen_kappa(a, b) == pytest.approx(0.4)
    assert stats.cohen_kappa(a, a) == pytest.approx(1.0)
    assert stats.cohen_kappa([1, None, 0], [1, 0, 0]) == pytest.approx(1.0)  # missing dropped


def test_krippendorff_alpha_known_case():
    # Krippendorff (2011) "Computing Krippendorff's alpha-reliability", the 4 coders x 12
    # units example with missing values: nominal alpha = 0.743
    nan = None
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    assert stats.krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert stats.krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)
    assert math.isnan(stats.krippendorff_alpha([[1, 1], [1, 1]]))


def test_no_difference_false_positive_rate_is_about_five_percent():
    """Two identical variants (each prompt passes with its own probability, the same for
    both), compared over many independent experiments: McNemar's p < 0.05 should happen at
    most ~5 % of the time (the exact test is conservative, so often less)."""
    rng = np.random.default_rng(20261203)
    experiments, prompts = 400, 60
    significant = 0
    for _ in range(experiments):
        difficulty = rng.uniform(0.1, 0.9, prompts)
        a = rng.random(prompts) < difficulty
        b = rng.random(prompts) < difficulty
        significant += stats.mcnemar(a, b).p_value < 0.05
    rate = significant / experiments
    print(f"no-difference false-positive rate (McNemar): {rate:.3f}")
    # nominal 5 %; the exact test is conservative (measured 2.2 % with this seed); a rate of
    # 0 would mean a test that never rejects, well above 5 % a broken one
    assert 0.005 <= rate <= 0.08

    # scores (Wilcoxon): same distribution for both variants
    significant = 0
    for _ in range(experiments):
        base = rng.uniform(0, 1, prompts)
        a = np.clip(base + rng.normal(0, 0.15, prompts), 0, 1)
        b = np.clip(base + rng.normal(0, 0.15, prompts), 0, 1)
        significant += stats.wilcoxon(a, b).p_value < 0.05
    rate = significant / experiments
    print(f"no-difference false-positive rate (Wilcoxon): {rate:.3f}")
    assert 0.02 <= rate <= 0.09


def test_a_real_difference_is_found():
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(100):
        a = rng.random(80) < 0.8
        b = rng.random(80) < 0.5
        found += stats.mcnemar(a, b).p_value < 0.05
    assert found >= 80  # power against a 30-point gap on 80 prompts
