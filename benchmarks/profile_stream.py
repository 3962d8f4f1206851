"""Where B2's time goes: the stream pipeline on a recorded emulator stream, without sockets.

The emulator's 20,000-frame answer is recorded once, then replayed from memory through an
``httpx.MockTransport`` (installed as the package's pooled sync client), so the CPU cost per
frame of each layer can be compared with no network, no emulator and little noise:

    python -m benchmarks.profile_stream                 # CPU µs per frame, ours vs loops
    python -m benchmarks.profile_stream --py-spy        # + a py-spy profile of ours, summarised

The ``--py-spy`` summary (inclusive and self share per function, under ``ours``) is what
``analysis.md`` quotes. py-spy samples without instrumenting, so unlike a tracing profiler it
does not inflate the cost of many small Python calls.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import emulator_process, openai_on, scratch

FRAMES = 20_000
CHUNK = 32 * 1024  # the emulator's batch size at full speed


def measure(rounds: int) -> dict[str, float]:
    import httpx
    from httpx_sse import EventSource

    import gemma_magics
    from gemma_magics.api import prepare
    from gemma_magics.config import Config
    from gemma_magics.providers import http_clients as transport
    from gemma_magics.session import Session

    with scratch() as tmp, emulator_process(answer_tokens=FRAMES) as url, openai_on(url, tmp):
        session = Session(config=Config(), db_path=":memory:")
        call = prepare("hi", "openai", session=session, max_tokens=FRAMES)
        http = call.provider._call(call.request)
        with httpx.Client() as c:
            recorded = c.post(http.url, json=http.body,
                              headers={"Authorization": "Bearer x"}).content
        chunks = [recorded[i:i + CHUNK] for i in range(0, len(recorded), CHUNK)]

        class Replay(httpx.SyncByteStream):
            def __iter__(self):
                yield from chunks

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  stream=Replay())

        client = httpx.Client(transport=httpx.MockTransport(handler))
        if not hasattr(transport, "_sync"):
            raise SystemExit("gemma_magics.providers.http_clients has no _sync pooled client any more; "
                             "update benchmarks/profile_stream.py")
        transport._sync = (os.getpid(), client)

        def ours() -> None:
            stream = gemma_magics.stream("hi", "openai", session=session, max_tokens=FRAMES)
            for _ in stream:
                pass
            assert stream.completion.record.completion_tokens == FRAMES

        def bare() -> None:
            with client.stream("POST", http.url, json=http.body) as response:
                for sse in EventSource(response).iter_sse():
                    _ = sse.data

        def bare_json() -> None:
            with client.stream("POST", http.url, json=http.body) as response:
                for sse in EventSource(response).iter_sse():
                    if sse.data == "[DONE]":
                        break
                    for choice in json.loads(sse.data).get("choices") or ():
                        choice["delta"].get("content")

        def raw() -> None:
            with client.stream("POST", http.url, json=http.body) as response:
                for _ in response.iter_raw():
                    pass

        variants = {"ours": ours, "bare": bare, "bare_json": bare_json, "raw": raw}
        for fn in variants.values():
            fn()
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for name, fn in variants.items():
                t = time.process_time()
                fn()
                cpu[name].append((time.process_time() - t) / FRAMES * 1e6)
        return {k: min(v) for k, v in cpu.items()}


def summarise(raw_path: str, root: str = "ours", top: int = 16) -> str:
    """Inclusive and self share per function in a py-spy ``--format raw`` file, under the
    function named ``root`` (qualified names such as ``measure.<locals>.ours`` match)."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0

    def name(frame: str) -> str:
        return re.sub(r" \(([^:]*/)?([^/:]+):\d+\)", r" (\2)", frame)

    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        at = next((i for i, f in enumerate(frames)
                   if f.split(" (")[0].rsplit(".", 1)[-1] == root), None)
        if at is None:
            continue
        n = int(count)
        total += n
        below = [name(f) for f in frames[at + 1:]]
        for f in set(below):
            incl[f] += n
        self_[below[-1] if below else "(ours itself)"] += n
    if not total:
        return f"no py-spy samples under {root}()"
    lines = [f"py-spy samples under {root}(): {total}", "inclusive:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in incl.most_common(top)]
    lines += ["self:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in self_.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--py-spy", action="store_true", help="profile ours with py-spy")
    a = p.parse_args()
    if a.py_spy:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "b2.raw")
            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            cmd = [spy, "record", "-r", "1000", "-f", "raw", "-o", out, "--",
                   sys.executable, "-m", "benchmarks.profile_stream", "--rounds", "30"]
            subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parents[1])
            print(summarise(out))
        return
    cpu = measure(a.rounds)
    print("CPU µs per frame (min of rounds): " + ", ".join(f"{k} {v:.2f}"
                                                          for k, v in cpu.items()))


if __name__ == "__main__":
    main()
