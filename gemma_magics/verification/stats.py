"""The statistics of a host check: Wilson intervals, the exact McNemar test on paired
pass/fail, the MMD two-sample test of answer texts with a permutation p-value, and the
smallest gap a sample can detect.

scipy and numpy are imported inside the functions (importing the package stays light).
The Wilson interval and the exact McNemar p-value are scoring's
(:mod:`gemma_magics.scoring.stats`); the paired interval here is the closed-form one, so a
host check needs no bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Characters of each answer the string kernel looks at (Gao, Liang & Guestrin 2025).
KERNEL_CHARS = 100
PERMUTATIONS = 1000


def wilson(passed: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a pass rate (nan, nan when n is 0): scoring's."""
    from ..scoring.stats import wilson_interval

    return wilson_interval(passed, n, confidence)


@dataclass
class Paired:
    """Host minus reference on the same probes: the difference, its interval, McNemar's p."""

    n: int
    host_only: int  # pairs the host passed and the reference failed
    reference_only: int
    difference: float
    half_width: float
    p_value: float


def mcnemar(host: Sequence[bool], reference: Sequence[bool]) -> Paired:
    """Exact McNemar test (binomial on the discordant pairs) and the paired difference with
    a 95 % Wald interval of paired proportions."""
    if len(host) != len(reference):
        raise ValueError("paired samples must have the same length")
    n = len(host)
    b = sum(1 for h, r in zip(host, reference) if h and not r)
    c = sum(1 for h, r in zip(host, reference) if r and not h)
    if n == 0:
        return Paired(0, 0, 0, math.nan, math.nan, math.nan)
    from ..scoring.stats import exact_mcnemar_p

    p = exact_mcnemar_p(b, c)
    diff = (b - c) / n
    var = max((b + c) / n - diff * diff, 0.0) / n
    return Paired(n, b, c, diff, 1.96 * math.sqrt(var), min(p, 1.0))


def detectable_gap(n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest accuracy drop (as a fraction) a McNemar test on ``n`` pairs detects with
    ``power``, when the host only loses answers (discordance = the gap):
    ``gap = (z_{1-α/2} + z_power)² / n``."""
    if n <= 0:
        return math.nan
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return min(1.0, float(z * z / n))


def pairs_needed(gap: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Paired probe runs needed to detect an accuracy drop of ``gap`` (the inverse above)."""
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return math.ceil(z * z / gap)


def _codes(texts: Sequence[str], width: int):
    import numpy as np

    out = np.zeros((len(texts), width), dtype=np.uint32)
    for i, text in enumerate(texts):
        codes = [ord(ch) for ch in (text or "")[:width]]
        out[i, : len(codes)] = codes
    return out


def string_kernel(texts: Sequence[str], groups: Sequence[str], width: int = KERNEL_CHARS):
    """Gram matrix: share of the first ``width`` character positions two answers agree on
    (answers padded), zero between answers to different prompts."""
    import numpy as np

    codes = _codes(texts, width)
    same_char = (codes[:, None, :] == codes[None, :, :]).mean(axis=2)
    g = np.asarray([str(x) for x in groups])
    return same_char * (g[:, None] == g[None, :])


@dataclass
class MMDResult:
    statistic: float
    p_value: float
    permutations: int


def mmd_test(host: Sequence[tuple[str, str]], reference: Sequence[tuple[str, str]],
             permutations: int = PERMUTATIONS, seed: int = 0,
             width: int = KERNEL_CHARS) -> MMDResult:
    """Two-sample test of answer distributions: the MMD² (V-statistic) of a character
    kernel over ``(prompt id, answer)`` samples, with a permutation p-value where labels
    are shuffled within each prompt (so prompt mix cannot make a difference)."""
    import numpy as np

    if not host or not reference:
        return MMDResult(math.nan, math.nan, 0)
    samples = [*host, *reference]
    groups = [g for g, _ in samples]
    kernel = string_kernel([t for _, t in samples], groups, width)
    label = np.array([1] * len(host) + [0] * len(reference), dtype=bool)

    def stat(labels):  # labels: (P, N) bool
        nx = labels.sum(axis=1, keepdims=True)
        ny = labels.shape[1] - nx
        w = np.where(labels, 1.0 / np.maximum(nx, 1), -1.0 / np.maximum(ny, 1))
        return np.einsum("pn,nm,pm->p", w, kernel, w)

    observed = float(stat(label[None, :])[0])
    rng = np.random.default_rng(seed)
    shuffled = np.repeat(label[None, :], permutations, axis=0)
    index = {}
    for i, g in enumerate(groups):
        index.setdefault(g, []).append(i)
    for members in index.values():
        cols = np.asarray(members)
        block = shuffled[:, cols]
        shuffled[:, cols] = rng.permuted(block, axis=1)
    null = stat(shuffled)
    p = (1 + int(np.sum(null >= observed - 1e-12))) / (1 + permutations)
    return MMDResult(observed, float(p), permutations)


def agreement(samples: dict[str, list[str]]) -> tuple[float, int]:
    """How often two samples of the same prompt are identical (over all pairs of samples
    within each prompt): (rate, pairs)."""
    same = total = 0
    for texts in samples.values():
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                total += 1
                same += texts[i].strip() == texts[j].strip()
    return (same / total if total else math.nan), total


def cross_agreement(a: dict[str, list[str]], b: dict[str, list[str]]) -> tuple[float, int]:
    """How often a sample of one host equals a sample of the other for the same prompt."""
    same = total = 0
    for key, texts in a.items():
        for x in texts:
            for y in b.get(key, []):
                total += 1
                same += x.strip() == y.strip()
    return (same / total if total else math.nan), total
