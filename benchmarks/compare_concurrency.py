"""How close a concurrent comparison comes to the ideal wall time.

32 runs against an emulator (its own process, like a remote service) that waits 300 ms
before answering, at concurrency 8: ideally 4 waves × 300 ms = 1.2 s. ``ours`` is the median
wall time of ``gemma_magics.compare()`` over three measured grids, after one warm-up grid
(imports, first sockets). For reference the notes give the same requests sent with a bare
``httpx.AsyncClient`` and a semaphore, which is the floor for this machine and HTTP stack.

    python benchmarks/compare_concurrency.py [full|smoke]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

SIZES = {
    # runs, concurrency, server latency (s)
    "full": (32, 8, 0.3),
    "smoke": (8, 4, 0.3),
}
TARGET = 1.25
REPEATS = {"full": 3, "smoke": 1}


@contextmanager
def _env(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _bare_httpx(url: str, runs: int, concurrency: int) -> float:
    """The same streamed requests with nothing but httpx (the floor)."""
    import httpx

    body = {"model": "gemma-3-12b-it", "messages": [{"role": "user", "content": "x"}],
            "stream": True, "max_tokens": 8}
    async with httpx.AsyncClient() as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate, client.stream("POST", url, json=body,
                                           headers={"Authorization": "Bearer k"}) as resp:
                async for _ in resp.aiter_bytes():
                    pass

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs)))
        return time.perf_counter() - start


def run(size: str = "full") -> dict:
    """Measure; returns name, ours, baseline, ratio, target, passed, unit, notes."""
    from gemma_magics.config import Config
    from gemma_magics.emulator import RemoteEmulator, start_emulator_process
    from gemma_magics.notebook.live_compare import compare
    from gemma_magics.session import Session

    runs, concurrency, latency = SIZES[size]
    proc, url = start_emulator_process(
        idle_timeout=120, stderr=subprocess.DEVNULL,
        extra_args=["--first-byte-latency", str(latency), "--answer-tokens", "8"],
    )
    try:
        with _env(GEMMA_MAGICS_OPENAI_BASE_URL=url + "/v1", OPENAI_API_KEY="bench"):
            session = Session(config=Config(), db_path=":memory:")

            def grid() -> float:
                df = compare("Write a haiku about gradient descent.", providers="openai",
                             grid={"temperature": [0.2, 0.9], "seed": [1, 2]},
                             repeats=runs // 4, concurrency=concurrency, max_tokens=8,
                             display=False, session=session)
                assert len(df) == runs and (df["status"] == "ok").all(), df["error"].dropna()
                return df.attrs["compare"]["wall_s"]

            cold = grid()
            walls = [grid() for _ in range(REPEATS[size])]
            bare = asyncio.run(_bare_httpx(url + "/v1/chat/completions", runs, concurrency))
            sent = RemoteEmulator(url).requests
    finally:
        proc.terminate()
        proc.wait(10)

    ideal = -(-runs // concurrency) * latency
    ours = statistics.median(walls)
    connections = len({r["peer"] for r in sent})
    return {
        "name": f"compare_concurrency[{size}]",
        "ours": round(ours, 3),
        "baseline": round(ideal, 3),
        "ratio": round(ours / ideal, 3),
        "target": TARGET,
        "passed": ours / ideal <= TARGET,
        "unit": "s",
        "notes": (
            f"{runs} runs, concurrency {concurrency}, {latency * 1000:.0f} ms server latency "
            f"(emulator in its own process); baseline = ideal "
            f"{-(-runs // concurrency)} waves x {latency * 1000:.0f} ms. "
            f"ours = median of {len(walls)} grids {[round(w, 3) for w in walls]}; "
            f"first (cold) grid {cold:.3f} s; bare httpx with a semaphore {bare:.3f} s "
            f"(ratio {bare / ideal:.3f}); {len(sent)} requests over {connections} TCP "
            f"connections; {os.cpu_count()} CPUs."
        ),
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
