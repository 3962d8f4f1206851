"""RESULTS.md says which registered benchmarks were never run and which rows were measured by
another version of their benchmark (a ``--only`` run keeps every other stored row)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.run import BENCHMARKS, machine, render, source_digest  # noqa: E402


def _row(bench: str, **extra) -> dict:
    return {"bench": bench, "name": f"{bench} figure", "ours": 1.0, "baseline": 1.0,
            "ratio": 1.0, "target": 2.0, "target_text": "≤ 2× the scan", "measured": 1.0,
            "passed": True, "unit": "s", "notes": "n.", **extra}


def test_missing_benchmarks_show_as_not_run_and_old_rows_as_stale():
    first, second, *rest = BENCHMARKS
    results = {first: [_row(first, source=source_digest(first))],
               second: [_row(second, source="0" * 12)]}
    table = render(results, machine()).split("## Notes")[0]
    lines = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()
             if line.startswith("| B")}
    assert lines[first].endswith("| pass |")
    assert lines[second].endswith("| pass, **stale** |")
    for bench in rest:
        assert "**not run**" in lines[bench] and f"--only {bench}" in lines[bench]
