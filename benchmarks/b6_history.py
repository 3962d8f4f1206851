"""B6: the history log. Append 100,000 records to the SQLite log, then ``history()`` them
into a DataFrame.

Append goes through the real per-call path, ``RecordLog.append`` (one autocommitted
``INSERT`` per record, WAL, ``synchronous=NORMAL``), on a file on disk, one record at a time,
as ``stream()`` does after every call. The records are realistic (a prompt of ~100
characters, an answer of ~600, every setting and metric filled) and built before the clock
starts. The baseline for append is the bare ``sqlite3`` floor of the same design: the same
row tuples inserted one autocommitted ``execute`` at a time into the same table with the
same pragmas. ``RecordLog.append_many`` (one transaction) is reported beside it.

Load (B6′) is ``gemma_magics.history(session)`` as users call it, on a fresh session (opening
the file included, the scores join included); its baseline is a bare ``sqlite3`` scan that
reads every value of the same rows (``SELECT count(*), sum(length(col)), ...`` over every
column, on a fresh connection). Both sides pay their imports in an untimed first call; then
five interleaved rounds in a rotating order, medians. Beside them, untargeted: the frame
alone (``RecordLog.dataframe()``) and the row-by-row road taken without the ``[arrow]`` extra.

With scores (B6′, second row): the same log after a check has given every run a verdict
(100,000 rows in the ``scores`` table, stored with ``score()``'s own table), history() joining
them into ``pass[...]``, ``passed`` and ``score`` columns, against the bare scan reading every
value of both tables (the scores table's every column too, though the join reads only the
verdict's columns). Same rounds; beside it the row-by-row road without the ``[arrow]`` extra.

Targets: append <= 0.2 ms per record amortised; history() <= 2x the bare scan, with and
without a verdict per row.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import sys
import time

from benchmarks.common import result, scratch, spread

APPEND_TARGET_MS = 0.2
LOAD_TARGET_RATIO = 2.0  # B6': history() <= 2x a bare scan of every value
LOAD_REPEATS = 5
SIZES = {"full": 100_000, "smoke": 2_000}
BLOCKS = 10  # the append is timed in blocks, for a spread
WORDS = ["gradient", "descent", "model", "token", "answer", "provider", "latency", "sample",
         "notebook", "stream", "gemma", "record", "prompt", "haiku", "cost", "metric"]


def make_records(n: int) -> list:
    from gemma_magics.records.log import Record

    rnd = random.Random(7)
    providers = [("local", "gemma-3-270m"), ("cloudflare", "@cf/google/gemma-3-12b-it"),
                 ("openai", "gemma-3-12b-it"), ("aimlapi", "google/gemma-3-27b-it")]
    out = []
    for i in range(n):
        provider, model = providers[i % len(providers)]
        prompt = f"#{i} " + " ".join(rnd.choices(WORDS, k=14))
        response = " ".join(rnd.choices(WORDS, k=85))
        latency = rnd.uniform(0.3, 6.0)
        ttft = latency * rnd.uniform(0.05, 0.3)
        completion = rnd.randint(16, 256)
        out.append(Record(
            provider=provider, model=model, prompt=prompt, response=response,
            max_tokens=256, temperature=round(rnd.uniform(0, 1.5), 2), top_p=0.95, top_k=64,
            seed=rnd.randint(0, 2**32), repetition_penalty=1.0, frequency_penalty=0.0,
            presence_penalty=0.0, prompt_tokens=20, completion_tokens=completion,
            total_tokens=20 + completion, usage_source="provider", ttft_s=ttft,
            latency_s=latency, tokens_per_s=completion / (latency - ttft),
            e2e_tokens_per_s=completion / latency, cost_usd=completion * 0.56e-6,
            finish_reason="length", variant=f"temperature={i % 3}", request_key=f"{i:032x}",
        ))
    return out


@contextlib.contextmanager
def _arrow_off():
    """The read as it is without the [arrow] extra installed."""
    from gemma_magics.records import arrow_read

    available = arrow_read.available
    arrow_read.available = lambda: False
    try:
        yield
    finally:
        arrow_read.available = available


def run(size: str = "full") -> list[dict]:
    n = SIZES[size]
    with scratch() as tmp:
        return _measure(n, tmp)


def _measure(n: int, tmp) -> list[dict]:
    import gemma_magics
    from gemma_magics.config import Config
    from gemma_magics.records import arrow_read
    from gemma_magics.records.log import COLUMNS, RecordLog, _sql_row
    from gemma_magics.session import Session

    t0 = time.perf_counter()
    records = make_records(n)
    build_s = time.perf_counter() - t0

    # ours (the per-call path, one record at a time) and the bare-sqlite3 baseline (same
    # rows, same table and pragmas, one autocommitted INSERT each), block by block, alternating
    log = RecordLog(tmp / "append.sqlite")
    insert_sql = log._insert
    RecordLog(tmp / "floor.sqlite").close()  # same table and pragmas
    conn = sqlite3.connect(tmp / "floor.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    rows = [_sql_row(r) for r in records]
    block = n // BLOCKS

    def ours_block(b: int) -> float:
        t = time.perf_counter()
        for rec in records[b * block:(b + 1) * block]:
            log.append(rec)
        return time.perf_counter() - t

    def floor_block(b: int) -> float:
        t = time.perf_counter()
        for row in rows[b * block:(b + 1) * block]:
            conn.execute(insert_sql, row)
        return time.perf_counter() - t

    per_block, floor_blocks = [], []
    for b in range(BLOCKS):
        first, second = (ours_block, floor_block) if b % 2 == 0 else (floor_block, ours_block)
        times = {first: first(b), second: second(b)}
        per_block.append(times[ours_block] / block * 1000)
        floor_blocks.append(times[floor_block] / block * 1000)
    append_ms = sum(per_block) / BLOCKS
    floor_ms = sum(floor_blocks) / BLOCKS
    stored = len(log)
    log.close()
    conn.close()

    # append_many: one transaction
    many = RecordLog(tmp / "many.sqlite")
    t = time.perf_counter()
    many.append_many(records)
    many_ms = (time.perf_counter() - t) / n * 1000
    many.close()

    # load (B6'): history() as users call it, on a fresh session (opening the file included),
    # against a bare sqlite3 scan that reads every value of the same rows, interleaved, with
    # the first (import-paying) call of each side untimed
    path = tmp / "append.sqlite"
    scan_sql = ("SELECT count(*), " + ", ".join(f"sum(length({c}))" for c in COLUMNS)
                + " FROM calls")
    frames: list = []

    def ours_history() -> None:
        session = Session(config=Config(), db_path=path)
        frames[:] = [gemma_magics.history(session)]
        session.log.close()

    def frame_alone() -> None:
        log = RecordLog(path)
        log.dataframe()
        log.close()

    def row_by_row() -> None:  # the road taken without the [arrow] extra
        log = RecordLog(path)
        with _arrow_off():
            log.dataframe()
        log.close()

    def bare_scan() -> None:
        conn = sqlite3.connect(path)
        conn.execute(scan_sql).fetchone()
        conn.close()

    t = time.perf_counter()
    ours_history()
    first_s = time.perf_counter() - t
    bare_scan()
    sides = {"history": ours_history, "frame": frame_alone, "rows": row_by_row,
             "scan": bare_scan}
    times: dict[str, list[float]] = {k: [] for k in sides}
    for i in range(LOAD_REPEATS):
        names = list(sides)[i % len(sides):] + list(sides)[:i % len(sides)]  # rotate the order
        for name in names:
            t = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - t)
    frame = frames[0]
    assert len(frame) == stored == n, (len(frame), stored, n)
    scored = _with_scores(path, records, bare_scan)
    dtypes_ok = (str(frame["completion_tokens"].dtype) == "Int64"
                 and str(frame["latency_s"].dtype) == "float64"
                 and str(frame["think"].dtype) == "boolean"
                 and str(frame["timestamp"].dtype).startswith("datetime64"))
    loads, raw_loads = times["history"], times["scan"]
    frame_s, rows_s = spread(times["frame"]), spread(times["rows"])
    arrow_on = arrow_read.available()
    load_s, raw_s = spread(loads), spread(raw_loads)
    size_mb = (tmp / "append.sqlite").stat().st_size / 1e6
    ap_s, fl_s = spread(per_block), spread(floor_blocks)
    append_notes = (
        f"{n:,} records ({size_mb:.0f} MB file) via RecordLog.append, one commit each: "
        f"{append_ms * 1000:.0f} µs/record (blocks of {block:,}: {ap_s['min'] * 1000:.0f}-"
        f"{ap_s['max'] * 1000:.0f} µs); bare sqlite3 same rows: {floor_ms * 1000:.0f} µs; "
        f"append_many (one transaction): {many_ms * 1000:.1f} µs/record. Building the "
        f"Record objects (not timed): {build_s / n * 1e6:.0f} µs each."
    )
    scan_ms = raw_s["median"]
    load_notes = (
        f"history() of {n:,} rows on a fresh session, as users call it (scores joined; none "
        f"given): median {load_s['median']:.2f} s (min {load_s['min']:.2f}, max "
        f"{load_s['max']:.2f}) against a bare sqlite3 scan reading every value of the same "
        f"rows (SELECT count(*), sum(length(col)) over all {len(COLUMNS)} columns): "
        f"{scan_ms:.2f} s; {LOAD_REPEATS} interleaved rounds, rotated order, imports paid "
        f"by an untimed first call on both sides (that first history(), imports included: "
        f"{first_s:.2f} s). Arrow road {'on' if arrow_on else 'OFF (extra not installed)'}. "
        f"The frame alone (RecordLog.dataframe()): {frame_s['median']:.2f} s "
        f"({frame_s['median'] / scan_ms:.2f}× the scan); the row-by-row road (no [arrow] "
        f"extra): {rows_s['median']:.2f} s ({rows_s['median'] / scan_ms:.2f}×). Typed "
        f"columns (Int64, float64, boolean, datetime64): {dtypes_ok}."
    )
    return [
        *[result(bench="B6", name=f"history log: append {n:,} records (ms/record)",
               ours=append_ms, baseline=floor_ms, unit="ms/record", target=APPEND_TARGET_MS,
               target_text="≤ 0.2 ms/record", measured=append_ms,
               passed=append_ms <= APPEND_TARGET_MS, ours_spread=ap_s, baseline_spread=fl_s,
               notes=append_notes,
               details={"append_many_ms": many_ms, "file_mb": size_mb}),
        result(bench="B6", name=f"B6′ history(): {n:,} rows vs a bare SQLite scan (s)",
               ours=load_s["median"], baseline=raw_s["median"], unit="s",
               target=LOAD_TARGET_RATIO, target_text="≤ 2× the scan",
               measured=load_s["median"] / raw_s["median"],
               passed=load_s["median"] <= LOAD_TARGET_RATIO * raw_s["median"] and dtypes_ok,
               ours_spread=load_s, baseline_spread=raw_s, notes=load_notes,
               details={"dtypes_ok": dtypes_ok, "arrow": arrow_on, "first_call_s": first_s,
                        "frame_alone_s": frame_s, "row_by_row_s": rows_s})],
        scored,
    ]


def _with_scores(path, records, bare_scan) -> dict:
    """history() of the same log after a check gave every run a verdict, against the bare
    scan of every value of both tables (see the module's docstring)."""
    import gemma_magics
    from gemma_magics.records.log import RecordLog
    from gemma_magics.records.scores import SCORE_COLUMNS, Score, scores_of

    n = len(records)
    log = RecordLog(path)
    rnd = random.Random(11)
    scores = []
    for rec in records:
        hit = rnd.random() < 0.7
        scores.append(Score(rec.run_id, "icontains:{expected}", value=float(hit), passed=hit,
                            reason=("found 'gradient'" if hit else "no 'gradient' in the "
                                    "answer"), version=gemma_magics.__version__))
    t = time.perf_counter()
    scores_of(log).add(scores)
    store_s = time.perf_counter() - t
    log.close()
    scores_sql = ("SELECT count(*), " + ", ".join(f"sum(length({c}))" for c in SCORE_COLUMNS)
                  + " FROM scores")
    def ours() -> object:  # history() as users call it, on a fresh session
        from gemma_magics.config import Config
        from gemma_magics.session import Session

        session = Session(config=Config(), db_path=path)
        try:
            return gemma_magics.history(session)
        finally:
            session.log.close()

    def plain() -> None:  # history() as it is without the [arrow] extra
        with _arrow_off():
            ours()

    def scan() -> None:  # the calls as before, and every value of the scores table
        bare_scan()
        conn = sqlite3.connect(path)
        conn.execute(scores_sql).fetchone()
        conn.close()

    frame = ours()  # imports, caches: untimed on both sides
    scan()
    sides = {"history": ours, "rows": plain, "scan": scan}
    times: dict[str, list[float]] = {k: [] for k in sides}
    for i in range(LOAD_REPEATS):
        names = list(sides)[i % len(sides):] + list(sides)[:i % len(sides)]
        for name in names:
            t = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - t)
    joined_ok = (str(frame["pass[icontains:{expected}]"].dtype) == "boolean"
                 and str(frame["passed"].dtype) == "boolean"
                 and int(frame["passed"].sum()) == sum(s.passed for s in scores)
                 and frame["score"].notna().all() and len(frame) == n)
    h, r, sc = spread(times["history"]), spread(times["rows"]), spread(times["scan"])
    ratio = h["median"] / sc["median"]
    notes = (
        f"The same {n:,}-row log after a check gave every run a verdict ({n:,} rows in the "
        f"scores table, stored in one transaction in {store_s:.2f} s): history() joining "
        f"them (pass[icontains:{{expected}}], passed, score) median {h['median']:.2f} s (min "
        f"{h['min']:.2f}, max {h['max']:.2f}) against the bare sqlite3 scan of every value "
        f"of both tables ({len(SCORE_COLUMNS)} scores columns, though the join reads 8 of "
        f"them): {sc['median']:.2f} s; {LOAD_REPEATS} interleaved rounds, rotated order, "
        f"first calls untimed. Without the [arrow] extra (calls and scores read through "
        f"sqlite3 rows, the same columnar join): {r['median']:.2f} s "
        f"({r['median'] / sc['median']:.2f}×). Verdict columns typed (boolean, float64) and "
        f"counted right: {joined_ok}."
    )
    return result(bench="B6", name=f"B6′ history() with a verdict per row: {n:,} rows vs "
                                   f"a bare SQLite scan of both tables (s)",
                  ours=h["median"], baseline=sc["median"], unit="s", target=LOAD_TARGET_RATIO,
                  target_text="≤ 2× the scan", measured=ratio,
                  passed=ratio <= LOAD_TARGET_RATIO and joined_ok, ours_spread=h,
                  baseline_spread=sc, notes=notes,
                  details={"joined_ok": joined_ok, "store_s": store_s, "row_by_row_s": r})


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
