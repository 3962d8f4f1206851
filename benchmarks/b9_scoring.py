"""B9: scoring finished runs. 10,000 runs (a history frame with a reference answer per run),
5 checks each, with ``gemma_magics.score(df, checks=[...], store=False)``: parsing the check
texts, every check on every run, a Score per verdict (with its reason) and the join back
into ``pass[CHECK]``, ``passed`` and ``score`` columns.

Baseline: the same 5 checks written as a plain pandas loop (``itertuples`` over the frame,
five expressions per row, five boolean columns and ``passed`` assigned at the end): what a
user writes by hand, without reasons, weights or storage. Ours and the baseline alternate,
5 rounds each, medians. Reported beside it: the same ``score()`` storing the 50,000 scores
in the SQLite log (``store=True``).

Target: ours <= 3 x the plain loop (reasons and per-check records cost something; more
would make re-scoring a large history tedious).
"""

from __future__ import annotations

import random
import re
import time

from benchmarks.common import result, scratch, spread

SIZES = {"full": 10_000, "smoke": 500}
ROUNDS = {"full": 5, "smoke": 2}
TARGET_RATIO = 3.0
CHECKS = ["icontains:{expected}", "max-chars:400", "not-icontains:sorry", r"regex:\d+",
          "finish:stop"]
WORDS = ["paris", "rome", "the", "answer", "is", "sorry", "capital", "of", "42", "model",
         "token", "city", "maybe", "river", "7", "country"]


def make_frame(n: int):
    from gemma_magics.records.log import Record, to_dataframe

    rnd = random.Random(9)
    records = []
    for i in range(n):
        words = rnd.choices(WORDS, k=rnd.randint(10, 90))
        records.append(Record(provider="local", model="m", prompt=f"question {i % 500}",
                              response=" ".join(words), completion_tokens=len(words),
                              finish_reason=rnd.choice(["stop", "stop", "length"]),
                              variant=f"v{i % 2}"))
    frame = to_dataframe(records)
    frame["expected"] = [rnd.choice(["Paris", "Rome", "Lyon"]) for _ in range(n)]
    return frame


def plain_loop(frame):
    digits = re.compile(r"\d+")
    contains, short, polite, number, stopped = [], [], [], [], []
    for row in frame.itertuples(index=False):
        answer = row.response or ""
        contains.append(str(row.expected).lower() in answer.lower())
        short.append(len(answer) <= 400)
        polite.append("sorry" not in answer.lower())
        number.append(digits.search(answer) is not None)
        stopped.append(row.finish_reason == "stop")
    out = frame.copy()
    out["c1"], out["c2"], out["c3"], out["c4"], out["c5"] = (
        contains, short, polite, number, stopped)
    out["passed"] = out[["c1", "c2", "c3", "c4", "c5"]].all(axis=1)
    return out


def run(size: str = "full") -> list[dict]:
    import gemma_magics as gm
    from gemma_magics.config import Config
    from gemma_magics.session import Session

    n, rounds = SIZES[size], ROUNDS[size]
    frame = make_frame(n)
    with scratch() as tmp:
        session = Session(config=Config(), db_path=tmp / "scores.sqlite")
        ours, base = [], []
        scored = plain = None
        for r in range(rounds):
            order = ("ours", "base") if r % 2 == 0 else ("base", "ours")
            for side in order:
                t = time.perf_counter()
                if side == "ours":
                    scored = gm.score(frame, checks=CHECKS, store=False, session=session)
                    ours.append(time.perf_counter() - t)
                else:
                    plain = plain_loop(frame)
                    base.append(time.perf_counter() - t)
        t = time.perf_counter()
        gm.score(frame, checks=CHECKS, store=True, session=session)
        stored_s = time.perf_counter() - t
        session.log.close()
    same = bool((scored["passed"].astype(bool).to_numpy() == plain["passed"].to_numpy()).all())
    o, b = spread(ours), spread(base)
    ratio = o["median"] / b["median"]
    notes = (f"{n:,} runs x {len(CHECKS)} checks ({', '.join(CHECKS)}); {rounds} alternating "
             f"rounds. score(store=False) median {o['median']:.3f} s "
             f"({o['median'] / (n * len(CHECKS)) * 1e6:.1f} µs per verdict); plain pandas "
             f"loop {b['median']:.3f} s; with the {n * len(CHECKS):,} scores stored in SQLite "
             f"(store=True) {stored_s:.3f} s. Same pass/fail as the plain loop on every "
             f"run: {same}.")
    return [result(
        bench="B9", name=f"score(): {n:,} runs x 5 checks (s)", ours=o["median"],
        baseline=b["median"], unit="s", target=TARGET_RATIO,
        target_text=f"≤ {TARGET_RATIO:g} × plain pandas loop", measured=ratio,
        passed=ratio <= TARGET_RATIO and same, notes=notes, ours_spread=o, baseline_spread=b,
        details={"stored_s": stored_s, "same_verdicts": same})]
