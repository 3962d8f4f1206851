"""Run the benchmarks and write ``benchmarks/RESULTS.md``.

    python -m benchmarks                      # every benchmark, full size, writes RESULTS.md
    python -m benchmarks --only B2,B5         # some of them (the others' rows are kept)
    python -m benchmarks --size smoke         # tiny sizes, prints only (unless --out)
    python benchmarks/run.py --only B2 --profile   # also save a pyinstrument profile
    python -m benchmarks --render-only        # RESULTS.md again from results.json

Each benchmark runs in a fresh Python process (``python -m benchmarks.run --child B2``), so
one's imports, loaded model or memory never colour another's figures. Results accumulate in
``benchmarks/results.json`` (one entry per benchmark, with its own date and load average)
from which ``RESULTS.md`` is rendered, followed by ``benchmarks/analysis.md``. A ``--only`` run
keeps the other benchmarks' stored rows, so the table says which rows are **stale** (measured by
another version of their module: each row keeps a digest of it) and which registered
benchmarks were **not run** at all (B9 was missing from the table for that reason: it was
registered after the last full run, and ``--only`` runs since never stored it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks.common import KEYS, ROOT, fmt, loadavg, with_bytecode  # noqa: E402

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "B1": "b1_load_ext",
    "B2": "b2_stream",
    "B3": "b3_display",
    "B4": "b4_compare",
    "B5": "b5_local",
    "B6": "b6_history",
    "B7": "b7_memory",
    "B8": "b8_sweep",
    "B9": "b9_scoring",
}
PACKAGES = ("gemma_magics", "ipython", "ipykernel", "jupyter_client", "httpx", "httpx-sse",
            "llama_cpp_python", "pandas", "numpy", "tenacity")
PROFILED = ("B2",)  # benchmarks whose run() takes profile=PATH


def source_digest(bench: str) -> str:
    """A digest of the benchmark's module: a stored row measured by other code is stale."""
    path = HERE / f"{BENCHMARKS[bench]}.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def rows_of(value: dict | list[dict]) -> list[dict]:
    return value if isinstance(value, list) else [value]


def check_row(row: dict) -> list[str]:
    """Problems with a result row (missing keys, numbers that are not finite)."""
    problems = [f"missing key {k!r}" for k in KEYS if k not in row]
    for key in ("ours", "ratio", "target", "measured", "baseline"):
        value = row.get(key)
        if key in ("baseline", "ratio") and value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            problems.append(f"{key}={value!r} is not a finite number")
    if not isinstance(row.get("passed"), bool):
        problems.append("passed is not a bool")
    return problems


# -- running ---------------------------------------------------------------------------------


def run_child(bench: str, size: str, profile: str | None = None,
              timeout: float = 1800) -> list[dict]:
    """Run one benchmark in a fresh process; returns its rows (with run metadata added)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", bench, "--size", size,
           "--json-out", out]
    if profile:
        cmd += ["--profile-out", profile]
    env = with_bytecode(dict(os.environ))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    before = loadavg()
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{bench} failed (exit {done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        rows = rows_of(json.loads(Path(out).read_text()))
    finally:
        Path(out).unlink(missing_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for row in rows:
        row.update(size=size, date=stamp, elapsed_s=round(elapsed, 1),
                   loadavg_before=before, loadavg_after=loadavg(), source=source_digest(bench))
    return rows


def child(bench: str, size: str, json_out: str, profile_out: str | None) -> None:
    module = import_module(f"benchmarks.{BENCHMARKS[bench]}")
    kwargs = {"profile": profile_out} if profile_out and bench in PROFILED else {}
    rows = module.run(size, **kwargs)
    Path(json_out).write_text(json.dumps(rows))


# -- reporting -------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "gemma_magics"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "packages": versions,
        "commit": commit + (" + uncommitted package changes" if dirty else ""),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "—"
    if key == "ratio":
        return f"{value:.2f}"
    text = fmt(value, row["unit"])
    spread = row.get(f"{key}_spread")
    if spread and spread.get("n", 0) > 1:
        text += f" ({fmt(spread['min'])}–{fmt(spread['max'])})"
    return text


def _measured(row: dict) -> str:
    text = row.get("target_text", "")
    value = row.get("measured")
    if "×" in text:
        return f"{value:.2f}×"
    if row["bench"] == "B1":
        return f"+{value * 1000:.0f} ms" if value >= 0 else f"{value * 1000:.0f} ms"
    unit = {"B3": "msgs/s", "B6": row["unit"], "B7": "MiB"}.get(row["bench"], row["unit"])
    return fmt(value, unit)


def _stale(row: dict) -> bool:
    """Whether ``row`` was measured by another version of its benchmark (rows stored before
    digests were kept count as stale: nothing says which code made them)."""
    return row.get("source") != source_digest(row["bench"])


def render(results: dict, info: dict) -> str:
    rows = [row for bench in BENCHMARKS
            for row in results.get(bench) or [{"bench": bench, "not_run": True}]]
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (see `benchmarks/run.py`); each benchmark runs in "
        "a fresh process against its baseline in the same run. Figures are medians; "
        "parentheses give the min–max over the repeats. Method and baseline of each "
        "benchmark: the docstring of its module (`benchmarks/b*_*.py`).",
        "",
        "| # | benchmark | ours | baseline | ratio | target | measured | pass |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if row.get("not_run"):  # a registered benchmark with no stored figures says so
            out.append(f"| {row['bench']} | {BENCHMARKS[row['bench']]}: not run yet (`python "
                       f"-m benchmarks --only {row['bench']}`) | — | — | — | — | — | "
                       f"**not run** |")
            continue
        verdict = "pass" if row["passed"] else "**FAIL**"
        if _stale(row):
            verdict += ", **stale**"
        out.append(
            f"| {row['bench']} | {row['name']} | {_cell(row, 'ours')} | "
            f"{_cell(row, 'baseline')} | {_cell(row, 'ratio')} | {row.get('target_text', '')} "
            f"| {_measured(row)} | {verdict} |"
        )
    out += ["", "## Notes per benchmark", ""]
    rows = [row for row in rows if not row.get("not_run")]
    for row in rows:
        size = "" if row.get("size") == "full" else f" [{row.get('size')} size]"
        if _stale(row):
            size += (f" [stale: measured before the current benchmarks/"
                     f"{BENCHMARKS[row['bench']]}.py; run it again]")
        out.append(f"- **{row['bench']} {row['name']}**{size}: {row['notes']} "
                   f"_Run {row.get('date', '?')}, {row.get('elapsed_s', '?')} s, load average "
                   f"{row.get('loadavg_before')} → {row.get('loadavg_after')}._")
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    out += [
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores; memory {info['memory']}",
        f"- OS: {info['os']}; Python {info['python']}",
        f"- Packages: {pk}",
        f"- Code: commit {info['commit']}",
        f"- Last run: {info['date']}",
        "- This 2-core machine is at times shared with other engineers' test runs; each "
        "row's notes give the load average before and after it, which says how busy it was.",
    ]
    analysis = HERE / "analysis.md"
    if analysis.is_file():
        out += ["", analysis.read_text().rstrip()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated benchmark ids, e.g. B2,B5")
    p.add_argument("--size", choices=("smoke", "full"), default="full")
    p.add_argument("--out", help="RESULTS.md path (default benchmarks/RESULTS.md for full "
                   "size; smoke size writes nothing unless given)")
    p.add_argument("--profile", action="store_true",
                   help=f"save pyinstrument profiles ({', '.join(PROFILED)}) under "
                   "benchmarks/profiles/")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite RESULTS.md from results.json (after editing analysis.md)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child, a.size, a.json_out, a.profile_out)
        return 0

    chosen = [b.strip().upper() for b in a.only.split(",")] if a.only else list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark {unknown[0]}; choose from {', '.join(BENCHMARKS)}")
    out = Path(a.out) if a.out else (HERE / "RESULTS.md" if a.size == "full" else None)
    store = HERE / "results.json" if out == HERE / "RESULTS.md" else (
        out.with_suffix(".json") if out else None)
    results = json.loads(store.read_text()) if store and store.is_file() else {}
    if a.render_only:
        chosen = []
    failures = 0
    for bench in chosen:
        profile = None
        if a.profile and bench in PROFILED:
            (HERE / "profiles").mkdir(exist_ok=True)
            profile = str(HERE / "profiles" / f"{bench}.txt")
        print(f"{bench} ({BENCHMARKS[bench]}, {a.size})...", flush=True)
        try:
            rows = run_child(bench, a.size, profile)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            print(f"  ERROR: {exc}", flush=True)
            failures += 1
            continue
        results[bench] = rows
        for row in rows:
            problems = check_row(row)
            verdict = "pass" if row["passed"] else "FAIL"
            print(f"  {row['name']}: ours {fmt(row['ours'], row['unit'])}, baseline "
                  f"{fmt(row['baseline'], row['unit'])}, measured {_measured(row)} "
                  f"({row['target_text']}): {verdict}"
                  + (f"  [malformed: {'; '.join(problems)}]" if problems else ""), flush=True)
        if store:
            store.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if chosen:
        results["_machine"] = machine()  # as of this run: code, versions, date
        if store:
            store.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if out:
        out.write_text(render(results, results.get("_machine") or machine()))
        print(f"wrote {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
