"""B7: memory over 1,000 calls in one process.

1,000 ``gemma_magics.generate(..., "openai")`` calls against the emulator (its own process,
16-word answers), each recorded to a SQLite log on disk, every call with a different prompt
and seed. RSS (``psutil``, after ``gc.collect()``) is read after the first 10 calls (the
baseline: imports, pooled connection, caches warm) and every 100 calls after that; the
result is the RSS after 1,000. The notes give the trend (least-squares slope per 1,000
calls over the samples after the first 100) so a slow leak shows even under the target.

Target: growth <= 20 MiB.
"""

from __future__ import annotations

import gc
import json
import sys

from benchmarks.common import emulator_process, openai_on, result, scratch

TARGET_MIB = 20.0
SIZES = {"full": 1000, "smoke": 50}
WARM = 10
MIB = 1024 * 1024


def run(size: str = "full") -> dict:
    calls = SIZES[size]
    with scratch() as tmp, emulator_process(answer_tokens=16) as url, openai_on(url, tmp):
        return _measure(calls, tmp)


def _rss() -> int:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss


def _slope(points: list[tuple[int, int]]) -> float:
    """Least-squares bytes per call."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def _measure(calls: int, tmp) -> dict:
    import gemma_magics
    from gemma_magics.config import Config
    from gemma_magics.session import Session, set_session

    session = set_session(Session(config=Config(), db_path=tmp / "b7.sqlite"))
    samples: list[tuple[int, int]] = []
    step = max(10, calls // 10)
    base = 0
    for i in range(1, calls + 1):
        done = gemma_magics.generate(f"Question {i}: say something short.", "openai",
                                     max_tokens=32, seed=i)
        if done.record.status != "ok":
            raise RuntimeError(f"call {i}: {done.record.error}")
        if i == WARM:
            base = _rss()
            samples.append((i, base))
        elif i % step == 0:
            samples.append((i, _rss()))
    final = samples[-1][1]
    logged = len(session.log)
    growth = (final - base) / MIB
    tail = [p for p in samples if p[0] >= min(100, calls // 2)]
    slope = _slope(tail) * 1000 / MIB
    trend = ", ".join(f"{i}: {rss / MIB:.1f}" for i, rss in samples)
    notes = (
        f"{calls:,} generate() calls ({logged:,} records logged), 16-word answers. RSS MiB "
        f"after N calls: {trend}. Growth {growth:.2f} MiB from call {WARM} to {calls}; trend "
        f"after call {tail[0][0]}: {slope:.2f} MiB per 1,000 calls."
    )
    return result(
        bench="B7", name=f"memory: {calls:,} calls in one process (RSS MiB)",
        ours=final / MIB, baseline=base / MIB, unit="MiB", target=TARGET_MIB,
        target_text="≤ 20 MiB growth", measured=growth, passed=growth <= TARGET_MIB,
        notes=notes, details={"samples": [[i, rss / MIB] for i, rss in samples],
                              "slope_mib_per_1000": slope, "records": logged},
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
