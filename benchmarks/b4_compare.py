"""B4: comparison concurrency. 32 runs against an emulator with 300 ms latency, at
concurrency 8, versus the ideal 4 waves x 300 ms.

The measurement itself lives in ``compare_concurrency.py`` (written with ``compare()``); this
module runs it and judges it against issue 7's target, which is stricter than the 1.25 of
issue 4's loose test.

Target: <= 1.15 x ideal.
"""

from __future__ import annotations

import json
import sys

from benchmarks.common import result

TARGET = 1.15


def run(size: str = "full") -> dict:
    from benchmarks import compare_concurrency

    raw = compare_concurrency.run(size)
    ratio = float(raw["ratio"])
    return result(
        bench="B4", name="compare(): 32 runs, 300 ms latency, concurrency 8 (wall s)"
        if size == "full" else f"compare() concurrency [{size}] (wall s)",
        ours=float(raw["ours"]), baseline=float(raw["baseline"]), unit="s", target=TARGET,
        target_text="≤ 1.15 × ideal", measured=ratio, passed=ratio <= TARGET,
        ratio=ratio, notes=raw.get("notes", ""), details={"compare_concurrency": raw},
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
