"""B8: a 10,000-run sweep at concurrency 64, with the live grid, against a bare httpx loop.

The emulator runs in its own process (``python -m gemma_magics.emulator``, 8-word answers,
no added latency), so the figure is what the client and the server can do on this machine.

**Ours** is ``gemma_magics.compare()`` as a notebook user calls it, in a real ``ipykernel``
started with ``jupyter_client`` (as JupyterLab does): 100 prompts × 10 temperatures × 10
repeats = 10,000 runs of the ``openai`` provider, ``concurrency=64``, ``max_tokens=16``, the
default ``display=True``, so the live grid and the final tables go through the public
display path (whatever it draws for a grid that large). The benchmark reads iopub like a
front end and counts every ``display_data``, ``update_display_data`` and widget
``comm_msg`` of the cell (the grid's budget covers them all) per second of the cell (from
sending it to its reply, final tables included), the busiest one-second window by arrival,
and the largest message (its JSON content). ``wall`` is the sweep itself
(``df.attrs["compare"]["wall_s"]``, first run queued to last run recorded); the whole
cell, final tables and chart included, is in the notes.

**Baseline**, in the same run against the same server: a bare ``httpx.AsyncClient`` with an
``asyncio.Semaphore(64)``, in this (otherwise idle) process, posting the same 10,000 bodies
(one body ours sent, taken from the emulator's request log, with each run's prompt and
temperature), streamed and read the way our client reads them (``httpx-sse`` events, each
frame's JSON parsed); its pool is sized to the concurrency (64 kept-alive connections), as
anyone writing that loop for this load would, so the ratio is not flattered by the default
pool of 20 reopening connections. Ours and the baseline alternate (A B A B at full size);
figures are medians.

**Recorded**: after each of ours, the log file (``GEMMA_MAGICS_DB`` of the kernel) is read
with ``sqlite3`` from this process: the sweep's run ids must all be there (10,000 each).
**Memory**: the kernel's RSS (``psutil``, after ``gc.collect()``) after a 128-run warm-up
sweep with display (imports, pool, matplotlib), and after each sweep with its DataFrame
held; growth is the largest of those minus the first. **Where the time goes**: CPU seconds
of the kernel (``time.process_time``, all its threads), of the emulator process (``psutil``)
and of the baseline loop, beside the wall, and how busy the machine's cores were (all
processes: other users' load shows here). After the rounds the same sweep runs once more
in the kernel with ``display=False`` (no target): the difference is what drawing costs.

Targets: wall ≤ 1.2 × the bare loop; every run recorded; RSS growth ≤ 100 MiB; ≤ 20 display
messages/s with the largest message ≤ 256 KiB (a bound that does not grow with the runs:
a few screens of HTML, at most 5 MiB/s to the browser at 20 updates a second). What limits
the figure, with numbers: ``benchmarks/analysis.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import isolated_env, loadavg, result, scratch, spread, stop_process

TARGET_RATIO = 1.2
TARGET_RSS_MIB = 100.0
TARGET_RATE = 20.0
TARGET_MESSAGE_BYTES = 256 * 1024
# prompts, temperatures, repeats, concurrency, rounds (ours then baseline, each round)
SIZES = {"full": (100, 10, 10, 64, 2), "smoke": (10, 4, 5, 16, 1)}
WARM_RUNS = 128
ANSWER_WORDS = 8
MAX_TOKENS = 16
MIB = 1024 * 1024
SHOWN = ("display_data", "update_display_data", "comm_msg")


def _prompts(n: int) -> list[str]:
    return [f"Sweep question {i}: name a colour in a few words." for i in range(n)]


def _temperatures(n: int) -> list[float]:
    return [round(0.1 * (i + 1), 2) for i in range(n)]


def _bodies(template: dict[str, Any], prompts: list[str], temps: list[float],
            repeats: int) -> list[dict[str, Any]]:
    """The baseline's requests: the body ours sent, with each run's prompt and temperature
    (prompt-major like compare()'s plan; the order does not matter to the server)."""
    out = []
    for prompt in prompts:
        for temp in temps:
            for _ in range(repeats):
                body = dict(template, temperature=temp)
                body["messages"] = [{"role": "user", "content": prompt}]
                out.append(body)
    return out


async def _bare(url: str, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """The floor: httpx + httpx-sse + json.loads of every frame, a semaphore, nothing else."""
    import httpx
    from httpx_sse import aconnect_sse

    gate = asyncio.Semaphore(concurrency)
    frames = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one(body: dict[str, Any]) -> None:
            nonlocal frames
            async with gate, aconnect_sse(client, "POST", url, json=body,
                                          headers={"Authorization": "Bearer bench"}) as sse:
                sse.response.raise_for_status()
                async for event in sse.aiter_sse():
                    if event.data != "[DONE]":
                        json.loads(event.data)
                        frames += 1

        cpu0, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        wall = time.perf_counter() - start
        return {"wall": wall, "cpu": time.process_time() - cpu0, "frames": frames}


def _machine_busy() -> float:
    """CPU seconds all cores spent not idle so far (every process, other users' too)."""
    import psutil

    t = psutil.cpu_times()  # (guest time is inside user already)
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq",
                                              "steal"))


def _emulator_cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def _served(url: str) -> dict[str, Any]:
    """What the emulator saw since its last reset (then reset it): requests, TCP
    connections (distinct client ports: a lower bound, as ports get reused), and requests
    held by the server at once (its own arrival/finish stamps)."""
    from gemma_magics.emulator import RemoteEmulator

    remote = RemoteEmulator(url, timeout=60)
    seen = [r for r in remote.requests if r["path"].endswith("/completions")]
    remote.reset()
    spans = [(r["time"], r["finished"] or r["time"]) for r in seen]
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return {"requests": len(seen), "connections": len({r["peer"] for r in seen}),
            "peak_in_flight": peak}


SETUP = """\
import gc, json, time, psutil, gemma_magics as gm
def _rss():
    gc.collect()
    return psutil.Process().memory_info().rss
"""

SWEEP = """\
_cpu0 = time.process_time()
_t0 = time.perf_counter()
df = gm.compare({prompts!r}, providers="openai", grid={{"temperature": {temps!r}}},
                repeats={repeats}, concurrency={concurrency}, max_tokens={max_tokens},
                display={display})
_cell = time.perf_counter() - _t0
_cpu = time.process_time() - _cpu0
print("B8JSON" + json.dumps({{"wall": df.attrs["compare"]["wall_s"], "cell": _cell,
    "cpu": _cpu, "n": len(df), "ok": int((df["status"] == "ok").sum()),
    "run_ids": list(df["run_id"]), "rss": _rss()}}))
"""


def _ours(kernel: Any, prompts: list[str], temps: list[float], repeats: int,
          concurrency: int, display: bool = True) -> tuple[dict[str, Any], Any]:
    code = SWEEP.format(prompts=prompts, temps=temps, repeats=repeats,
                        concurrency=concurrency, max_tokens=MAX_TOKENS, display=display)
    start = time.perf_counter()
    cell = kernel.run(code, timeout=1200)
    stats = cell.json_line("B8JSON")
    stats["elapsed"] = time.perf_counter() - start  # the cell as the front end saw it
    return stats, cell


def _recorded(db: Path, run_ids: list[str]) -> int:
    """How many of ``run_ids`` the log file holds (read from outside the kernel)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        con.execute("CREATE TEMP TABLE wanted (run_id TEXT PRIMARY KEY)")
        con.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((r,) for r in run_ids))
        return con.execute("SELECT count(*) FROM calls JOIN wanted USING (run_id)").fetchone()[0]
    finally:
        con.close()


def _messages(cell: Any, wall: float) -> dict[str, Any]:
    shown = cell.timed(*SHOWN)
    sizes = [len(json.dumps(m["content"])) for _, m in shown]
    times = [t for t, _ in shown]
    busiest = max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)
    kinds = {k: sum(1 for _, m in shown if m["msg_type"] == k) for k in SHOWN}
    return {"count": len(shown), "rate": len(shown) / wall if wall > 0 else 0.0,
            "busiest_1s": busiest, "max_bytes": max(sizes, default=0),
            "total_bytes": sum(sizes), "kinds": kinds}


def run(size: str = "full") -> dict:
    from benchmarks.kernel import Kernel
    from gemma_magics.emulator import RemoteEmulator, start_emulator_process

    n_prompts, n_temps, repeats, concurrency, rounds = SIZES[size]
    prompts, temps = _prompts(n_prompts), _temperatures(n_temps)
    runs = n_prompts * n_temps * repeats
    load_before = loadavg()
    proc, url = start_emulator_process(
        idle_timeout=600, stderr=subprocess.DEVNULL,
        extra_args=["--answer-tokens", str(ANSWER_WORDS)])
    try:
        with scratch() as tmp:
            env = isolated_env(tmp)
            env.update(GEMMA_MAGICS_OPENAI_BASE_URL=url + "/v1", OPENAI_API_KEY="bench")
            db = Path(env["GEMMA_MAGICS_DB"])
            with Kernel(env) as kernel:
                kernel.run(SETUP)
                warm_p = _prompts(4)
                warm, _ = _ours(kernel, warm_p, _temperatures(4), WARM_RUNS // 16, concurrency)
                warm.pop("run_ids")
                rss0 = kernel.run("print('B8JSON' + json.dumps(_rss()))").json_line("B8JSON")
                template = RemoteEmulator(url).requests[-1]["body"]
                _served(url)
                bodies = _bodies(template, prompts, temps, repeats)
                ours, bare = [], []
                for _ in range(rounds):  # A B A B: ours, then the baseline
                    emu0, busy0 = _emulator_cpu(proc.pid), _machine_busy()
                    stats, cell = _ours(kernel, prompts, temps, repeats, concurrency)
                    stats["emulator_cpu"] = _emulator_cpu(proc.pid) - emu0
                    stats["machine_busy"] = _machine_busy() - busy0
                    stats["recorded"] = _recorded(db, stats.pop("run_ids"))
                    stats["messages"] = _messages(cell, stats["elapsed"])
                    stats["server"] = _served(url)
                    ours.append(stats)
                    emu0, busy0 = _emulator_cpu(proc.pid), _machine_busy()
                    t0 = time.perf_counter()
                    b = asyncio.run(_bare(url + "/v1/chat/completions", bodies, concurrency))
                    b["elapsed"] = time.perf_counter() - t0
                    b["emulator_cpu"] = _emulator_cpu(proc.pid) - emu0
                    b["machine_busy"] = _machine_busy() - busy0
                    b["server"] = _served(url)
                    bare.append(b)
                # for the attribution only (no target): the same sweep drawing nothing
                unseen, _ = _ours(kernel, prompts, temps, repeats, concurrency, display=False)
                unseen.pop("run_ids")
    finally:
        stop_process(proc)
    return _judge(size, runs, concurrency, warm, rss0, ours, bare, unseen, load_before)


def _load(row: dict) -> str:
    s = row["server"]
    return (f"{s['requests']} requests over ≥{s['connections']} connections, "
            f"≤{s['peak_in_flight']} held by the server at once")


def _busy(row: dict) -> str:
    return f"{row['machine_busy'] / (row['elapsed'] * (os.cpu_count() or 1)):.0%}"


def _judge(size: str, runs: int, concurrency: int, warm: dict, rss0: int, ours: list[dict],
           bare: list[dict], unseen: dict, load_before: list[float]) -> dict:
    walls = [o["wall"] for o in ours]
    bare_walls = [b["wall"] for b in bare]
    wall, base = statistics.median(walls), statistics.median(bare_walls)
    ratio = wall / base
    recorded_all = all(o["recorded"] == runs and o["n"] == runs for o in ours)
    all_ok = all(o["ok"] == runs for o in ours)
    growth = (max(o["rss"] for o in ours) - rss0) / MIB
    rate = max(o["messages"]["rate"] for o in ours)
    biggest = max(o["messages"]["max_bytes"] for o in ours)
    passed = (ratio <= TARGET_RATIO and recorded_all and all_ok and growth <= TARGET_RSS_MIB
              and rate <= TARGET_RATE and biggest <= TARGET_MESSAGE_BYTES)
    m = ours[0]["messages"]

    def cpu(rows: list[dict], key: str) -> str:
        return ", ".join(f"{r[key]:.1f}" for r in rows)

    notes = (
        f"{runs:,} runs (8-word answers, max_tokens {MAX_TOKENS}) at concurrency "
        f"{concurrency}, emulator in its own process, {len(ours)} round(s) ours/baseline "
        f"alternated. Ours (compare() in a kernel, live grid on): walls "
        f"{[round(w, 1) for w in walls]} s = {runs / wall:.0f} runs/s; bare httpx loop: "
        f"{[round(w, 1) for w in bare_walls]} s = {runs / base:.0f} runs/s. CPU s per "
        f"sweep: kernel {cpu(ours, 'cpu')}, emulator during ours "
        f"{cpu(ours, 'emulator_cpu')}; bare loop {cpu(bare, 'cpu')}, emulator during it "
        f"{cpu(bare, 'emulator_cpu')}; the machine's {os.cpu_count()} cores were busy "
        f"{[_busy(o) for o in ours]} of the time during ours, {[_busy(b) for b in bare]} "
        f"during the bare loop (every process counted). Whole cell with the final tables and "
        f"chart: {cpu(ours, 'cell')} s. The same sweep with display=False afterwards (no "
        f"target, to tell the display's share): {unseen['wall']:.1f} s, kernel CPU "
        f"{unseen['cpu']:.1f} s. Recorded in the log: "
        f"{[o['recorded'] for o in ours]} of {runs:,}, ok {[o['ok'] for o in ours]}. "
        f"At the server, ours {[_load(o) for o in ours]}, bare {[_load(b) for b in bare]}. Kernel RSS after the warm-up "
        f"{rss0 / MIB:.0f} MiB, after each sweep "
        f"{[round(o['rss'] / MIB) for o in ours]} MiB (growth {growth:.1f} MiB). Display: "
        f"{m['count']} messages ({m['kinds']}) = {m['rate']:.1f}/s, busiest 1-s window "
        f"{m['busiest_1s']}, largest {m['max_bytes'] / 1024:.1f} KiB, all "
        f"{m['total_bytes'] / MIB:.1f} MiB. Load average before {load_before}, after "
        f"{loadavg()}."
    )
    return result(
        bench="B8", name=f"sweep: {runs:,} runs at concurrency {concurrency}, live grid "
        "(wall s)", ours=wall, baseline=base, unit="s", target=TARGET_RATIO,
        target_text="≤ 1.2 × bare httpx loop; all recorded; RSS ≤ +100 MiB; ≤ 20 msgs/s",
        measured=ratio, passed=passed, ratio=ratio, notes=notes,
        ours_spread=spread(walls), baseline_spread=spread(bare_walls),
        details={"runs": runs, "ours": ours, "bare": bare, "warm_up": warm,
                 "display_false": unseen,
                 "rss_after_warm_up_mib": rss0 / MIB, "rss_growth_mib": growth,
                 "display_rate": rate, "max_message_bytes": biggest,
                 "recorded_all": recorded_all, "all_ok": all_ok},
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
