"""Peak memory of one call against hostile servers (issue 13 item 4), and the time to give
up on a trickling server (item 5). Not part of the benchmark suite; run by hand:

    PYTHONPATH=$PWD python -m benchmarks.hostile_rss [CODE_ROOT]

CODE_ROOT: the gemma_magics checkout to measure (default: this one), so a fix can be
measured before and after. Each case runs in a fresh process with its address space capped
(``CAP_MB``) and a wall-clock limit, so unbounded code is stopped rather than swapping the
machine: "≥ cap" then means it was still growing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CAP_MB = 2500
LIMIT_S = 40

CHILD = r"""
import itertools, json, os, resource, sys, time, zlib
sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[2], "tests")]
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[4]) << 20,) * 2)
from hostile import HostileServer, SSE_HEADERS, sse, DONE
case = sys.argv[3]
def endless(_):
    block = sse("word ") * 2000
    return 200, SSE_HEADERS, (block for _ in range(2600))  # ~50 MB
def frame(_):
    return 200, SSE_HEADERS, iter([sse("a" * (20 << 20)), sse(finish="stop"), DONE])
def bomb(_):  # ~1.8 GB of frames, ~1.7 MB on the wire, compressed as it is sent
    def chunks():
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        frame = sse("a" * 60000)
        for _ in range(30000):
            out = z.compress(frame)
            if out:
                yield out
        yield z.flush()
    return 200, {**SSE_HEADERS, "Content-Encoding": "gzip"}, chunks()
def trickle(_):
    def drip():
        for b in itertools.cycle(sse("slow ")):
            time.sleep(1.0); yield bytes([b])
    return 200, SSE_HEADERS, drip()
script = {"endless": endless, "frame": frame, "bomb": bomb, "trickle": trickle}[case]
server = HostileServer(script).__enter__()
os.environ.update(GEMMA_MAGICS_OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="k-123456",
                  GEMMA_MAGICS_MAX_RETRIES="0", GEMMA_MAGICS_CONFIG="/nonexistent")
if case == "trickle":
    os.environ["GEMMA_MAGICS_TOTAL_TIMEOUT"] = "10"
import gemma_magics as gm
from gemma_magics.session import Session
from gemma_magics.config import Config
start = time.monotonic()
try:
    c = gm.generate("Hi", "openai", max_tokens=64, session=Session(Config(), ":memory:"))
    outcome = f"ok ({len(c.text):,} chars)"
except MemoryError:
    outcome = "MemoryError (hit the cap)"
except Exception as e:
    outcome = f"{type(e).__name__}: {str(e)[:90]}"
print(json.dumps({"case": case, "outcome": outcome, "s": round(time.monotonic() - start, 1),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    root = sys.argv[1] if len(sys.argv) > 1 else str(here)
    for case in ("endless", "frame", "bomb", "trickle"):
        child = subprocess.Popen([sys.executable, "-c", CHILD, root, str(here), case,
                                  str(CAP_MB)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, "PYTHONPATH": root})
        peak = _watch(child, LIMIT_S)
        if child.poll() is None:
            child.kill()
            child.wait()
            print(json.dumps({"case": case, "outcome": f"still running after {LIMIT_S} s",
                              "peak_mb": peak}), flush=True)
            continue
        lines = child.stdout.read().strip().splitlines()
        print(lines[-1] if lines else child.stderr.read()[-300:], flush=True)


def _watch(child: subprocess.Popen, limit_s: float) -> int:
    """The child's peak RSS (VmHWM, MB) while it runs, up to ``limit_s``."""
    peak, start = 0, time.monotonic()
    while child.poll() is None and time.monotonic() - start < limit_s:
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) // 1024)
        except OSError:
            break
        time.sleep(0.2)
    return peak

if __name__ == "__main__":
    main()
