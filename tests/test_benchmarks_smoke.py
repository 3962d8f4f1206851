"""Every benchmark runs once at smoke size and produces well-formed results.

No timing is asserted here (this machine is shared and noisy): the figures live in
``benchmarks/RESULTS.md``. This only keeps the benchmarks from rotting.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.common import KEYS  # noqa: E402
from benchmarks.run import BENCHMARKS, check_row, run_child  # noqa: E402

NEEDS = {"B3": ("ipykernel", "jupyter_client"), "B5": ("llama_cpp",), "B1": ("IPython",)}


@pytest.mark.parametrize("bench", list(BENCHMARKS))
def test_benchmark_runs_at_smoke_size(bench):
    for module in NEEDS.get(bench, ()):
        pytest.importorskip(module)
    rows = run_child(bench, "smoke", timeout=300)
    assert rows, f"{bench} returned no result"
    for row in rows:
        assert row["bench"] == bench
        assert not check_row(row), check_row(row)
        assert set(KEYS) <= set(row)
        assert isinstance(row["notes"], str) and row["notes"]
        for key in ("ours_spread", "baseline_spread"):
            for value in (row.get(key) or {}).values():
                assert math.isfinite(value), (key, row[key])
