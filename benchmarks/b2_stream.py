"""B2: the stream pipeline at full speed.

The emulator (its own process, no per-token delay) answers with a 20,000-token OpenAI chunk
stream: 20,000 token frames plus a finish frame, a usage frame and ``[DONE]``. Ours consumes
it through ``gemma_magics.stream(..., "openai")``: SSE decoding, JSON parsing, typed events,
accumulation in the recorder, metrics, and one record appended to the SQLite log. The
baseline is the least any client that shows the answer must do: a plain ``httpx`` +
``httpx-sse`` loop over the same request (the body is the very one our provider builds) that
parses every frame with the standard library's ``json.loads`` and collects its text. Runs
alternate (order flipping every round); frames/s = SSE events received / wall time.

For context the notes also give two more loops over the same stream, measured in the same
rounds: a bare ``httpx-sse`` loop touching each event's data and parsing nothing (the earlier
baseline; no client that reads the frames can come near it, see analysis.md), and raw bytes
(``iter_raw``: socket plus emulator, the floor).

Target: ours >= 0.9 x the httpx-sse + json.loads loop's frames/s, with the same final text.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.common import emulator_process, openai_on, result, scratch, spread

TARGET = 0.9
SIZES = {"full": (20_000, 9), "smoke": (500, 1)}  # frames, rounds
PROMPT = "Write a very long essay about open models."


def run(size: str = "full", profile: str | None = None) -> dict:
    frames, rounds = SIZES[size]
    with scratch() as tmp, emulator_process(answer_tokens=frames) as url, openai_on(url, tmp):
        return _measure(frames, rounds, tmp, profile)


def _measure(frames: int, rounds: int, tmp, profile: str | None) -> dict:
    import httpx
    from httpx_sse import EventSource

    import gemma_magics
    from gemma_magics.api import prepare
    from gemma_magics.config import Config
    from gemma_magics.session import Session

    session = Session(config=Config(), db_path=tmp / "b2.sqlite")
    call = prepare(PROMPT, "openai", session=session, max_tokens=frames)
    http = call.provider._call(call.request)  # exactly what ours sends
    headers = {"Authorization": f"Bearer {http.api_key.reveal()}",
               "Accept": "text/event-stream"}
    client = httpx.Client()

    def ours() -> tuple[float, int, str]:
        start = time.perf_counter()
        stream = gemma_magics.stream(PROMPT, "openai", session=session, max_tokens=frames)
        for _ in stream:
            pass
        wall = time.perf_counter() - start
        rec = stream.completion.record
        if rec.status != "ok" or rec.completion_tokens != frames:
            raise RuntimeError(f"ours: {rec.status} {rec.error} {rec.completion_tokens}")
        return wall, frames + 3, stream.completion.text  # + finish, usage, [DONE]

    def bare() -> tuple[float, int, str]:
        n = 0
        start = time.perf_counter()
        with client.stream("POST", http.url, json=http.body, headers=headers) as response:
            for sse in EventSource(response).iter_sse():
                n += 1
                _ = sse.data
        return time.perf_counter() - start, n, ""

    def bare_json() -> tuple[float, int, str]:
        n = 0
        parts = []
        start = time.perf_counter()
        with client.stream("POST", http.url, json=http.body, headers=headers) as response:
            for sse in EventSource(response).iter_sse():
                n += 1
                if sse.data == "[DONE]":
                    break
                for choice in json.loads(sse.data).get("choices") or ():
                    parts.append(choice["delta"].get("content") or "")
        return time.perf_counter() - start, n, "".join(parts)

    def raw_bytes() -> tuple[float, int, str]:
        size = 0
        start = time.perf_counter()
        with client.stream("POST", http.url, json=http.body, headers=headers) as response:
            for chunk in response.iter_raw():
                size += len(chunk)
        return time.perf_counter() - start, size, ""

    variants = {"ours": ours, "bare": bare, "bare_json": bare_json, "raw": raw_bytes}
    for fn in variants.values():  # warm-up: imports, config, pooled connections
        fn()
    rates: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}  # µs of CPU per frame
    texts: dict[str, str] = {}
    sizes: dict[str, int] = {}
    names = list(variants)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            cpu0 = time.process_time()
            wall, count, text = variants[name]()
            cpu[name].append((time.process_time() - cpu0) / (frames + 3) * 1e6)
            if name == "raw":
                sizes[name] = count
                count = frames + 3
            rates[name].append(count / wall)
            if text:
                texts[name] = text
    if profile:
        _profile(ours, profile)
    client.close()

    same_text = texts["ours"] == texts["bare_json"]
    s = {k: spread(v) for k, v in rates.items()}
    ours_rate, base_rate = s["ours"]["median"], s["bare_json"]["median"]
    ratio = ours_rate / base_rate
    us = {k: 1e6 / s[k]["median"] for k in s}  # microseconds per frame
    cpu_us = {k: spread(v)["median"] for k, v in cpu.items()}
    notes = (
        f"{frames:,} token frames (+3: finish, usage, [DONE]); {rounds} interleaved rounds, "
        f"medians. Per frame: ours {us['ours']:.1f} µs, the baseline (httpx-sse + "
        f"json.loads, collecting the text) {us['bare_json']:.1f} µs; for context a bare "
        f"httpx-sse loop parsing nothing {us['bare']:.1f} µs (ours = "
        f"{ours_rate / s['bare']['median']:.2f}x its rate) and raw bytes {us['raw']:.1f} µs "
        f"({sizes.get('raw', 0) / 1e6:.1f} MB). Client CPU per frame (less sensitive to "
        f"machine load): ours {cpu_us['ours']:.1f} µs, json loop {cpu_us['bare_json']:.1f} µs "
        f"(ratio {cpu_us['bare_json'] / cpu_us['ours']:.2f}), bare loop {cpu_us['bare']:.1f} "
        f"µs, raw {cpu_us['raw']:.1f} µs. Final text identical to the JSON loop's: "
        f"{same_text}."
    )
    return result(
        bench="B2", name="stream pipeline, 20k frames (frames/s)" if frames == 20_000
        else f"stream pipeline, {frames} frames (frames/s)",
        ours=ours_rate, baseline=base_rate, unit="frames/s", target=TARGET,
        target_text="≥ 0.9 × httpx-sse + json.loads", measured=ratio,
        passed=ratio >= TARGET and same_text, higher_is_better=True,
        ours_spread=s["ours"], baseline_spread=s["bare_json"], notes=notes,
        details={"rates": s, "us_per_frame": us, "cpu_us_per_frame": cpu_us,
                 "same_text": same_text, "vs_bare_loop": ours_rate / s["bare"]["median"]},
    )


def _profile(fn, path: str) -> None:
    """A pyinstrument profile of ``fn`` (ours), as text, for RESULTS.md."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(3):
        fn()
    profiler.stop()
    with open(path, "w") as f:
        f.write(profiler.output_text(unicode=True, color=False, short_mode=False))


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
