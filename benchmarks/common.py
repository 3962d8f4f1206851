"""Helpers shared by the benchmarks: statistics, the result shape, isolated settings, an
emulator in its own process.

Every benchmark module has ``run(size="full") -> dict | list[dict]``; each dict is one row of
``RESULTS.md`` with at least the keys in :data:`KEYS`.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

#: Keys every result row carries (the first eight are compare_concurrency.py's shape too).
KEYS = ("name", "ours", "baseline", "ratio", "target", "passed", "unit", "notes")
SIZES = ("smoke", "full")
ROOT = Path(__file__).resolve().parents[1]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max, interquartile range and count of ``values``."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "iqr": math.nan, "n": 0}
    if len(vals) >= 4:
        q1, _, q3 = statistics.quantiles(vals, n=4)
        iqr = q3 - q1
    else:
        iqr = vals[-1] - vals[0]
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "iqr": iqr,
            "n": len(vals)}


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded to ``digits`` significant digits, recursively through dicts and lists."""
    if isinstance(value, float):
        if not math.isfinite(value) or value == 0:
            return value
        return round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def result(*, bench: str, name: str, ours: float, baseline: float | None, unit: str,
           target: float, target_text: str, measured: float, passed: bool, notes: str,
           ours_spread: dict | None = None, baseline_spread: dict | None = None,
           ratio: float | None = None, higher_is_better: bool = False,
           details: dict | None = None) -> dict[str, Any]:
    """One result row.

    ``measured`` is the number compared with ``target`` (a ratio, an added time, a rate...),
    which is not always ``ours`` itself; ``target_text`` says how, e.g. "<= 0.10 s added".
    """
    if ratio is None and baseline:
        ratio = ours / baseline
    return rounded({
        "bench": bench,
        "name": name,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "target_text": target_text,
        "measured": measured,
        "passed": bool(passed),
        "unit": unit,
        "higher_is_better": higher_is_better,
        "ours_spread": ours_spread,
        "baseline_spread": baseline_spread,
        "notes": notes,
        "details": details or {},
    })


#: Where benchmark processes keep their bytecode (see :func:`with_bytecode`).
PYCACHE = Path(tempfile.gettempdir()) / "gemma-magics-bench-pycache"


def with_bytecode(env: dict[str, str]) -> dict[str, str]:
    """``env`` with bytecode caching on, in :data:`PYCACHE`: an installed package has its
    ``.pyc`` files, so start-up figures must not include compiling every module (which
    ``PYTHONDONTWRITEBYTECODE=1`` in a developer's shell would force on every run)."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def isolated_env(tmp: str | Path) -> dict[str, str]:
    """Environment for a benchmark: no user config, no user history log, no provider keys."""
    tmp = Path(tmp)
    env = {k: v for k, v in with_bytecode(dict(os.environ)).items()
           if not k.startswith(("GEMMA_MAGICS_", "OPENAI_", "CLOUDFLARE_"))
           or k == "GEMMA_MAGICS_LOCAL_MODEL"}
    env["GEMMA_MAGICS_CONFIG"] = str(tmp / "absent-config.toml")
    env["GEMMA_MAGICS_DB"] = str(tmp / "history.sqlite")
    env["IPYTHONDIR"] = str(tmp / "ipython")
    return env


@contextlib.contextmanager
def patched_environ(values: dict[str, str], drop_prefixes: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (dropping variables with ``drop_prefixes``) for a while."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if drop_prefixes and name.startswith(drop_prefixes) and name != "GEMMA_MAGICS_LOCAL_MODEL":
            del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gm-bench-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def emulator_process(**settings: Any) -> Iterator[str]:
    """``python -m gemma_magics.emulator`` in its own process (so it never competes with the
    measured code for the GIL); yields its base URL. Keyword arguments are CLI flags
    (``answer_tokens=20000`` -> ``--answer-tokens 20000``)."""
    from gemma_magics.emulator import start_emulator_process

    args: list[str] = []
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc, url = start_emulator_process(idle_timeout=300, extra_args=args,
                                       stderr=subprocess.DEVNULL)
    try:
        yield url
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a helper process (an emulator, a busy loop): politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def openai_on(url: str, tmp: Path) -> Iterator[None]:
    """Point the ``openai`` provider at the emulator at ``url``, in an otherwise clean env."""
    env = {
        "GEMMA_MAGICS_OPENAI_BASE_URL": url + "/v1",
        "OPENAI_API_KEY": "bench-key",
        "GEMMA_MAGICS_CONFIG": str(tmp / "absent-config.toml"),
        "GEMMA_MAGICS_DB": str(tmp / "history.sqlite"),
    }
    with patched_environ(env, drop_prefixes=("GEMMA_MAGICS_", "OPENAI_", "CLOUDFLARE_")):
        yield


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def fmt(value: float | None, unit: str = "") -> str:
    """A number for a table cell: 3 significant digits, thousands separated."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()
