"""The columnar scores join gives the very frame the row-by-row join it replaced gave: the same
columns in the same order, the same dtypes and values, for every kind of verdict (checks,
judges, humans with and without a rater, failed judgments, missing verdicts, replaced ones,
weights), and history() reads the scores table the same through Arrow and through sqlite3."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from gemma_magics.records import arrow_read, score_join
from gemma_magics.records.log import Record, RecordLog
from gemma_magics.records.scores import FAILED, HUMAN, Score, column_name, join, scores_of


def row_by_row_join(frame: pd.DataFrame, scores: list[Score]) -> pd.DataFrame:
    """The join as it was before the columnar one (one Python step per verdict): the
    reference the new one must match."""
    if not scores or "run_id" not in frame.columns:
        return frame
    index = {rid: i for i, rid in enumerate(frame["run_id"])}
    mine = [s for s in scores if s.run_id in index]
    if not mine:
        return frame
    out = frame.copy()
    columns: dict[str, list[Any]] = {}
    total = [0.0] * len(out)
    weights = [0.0] * len(out)
    verdict: list[Any] = [None] * len(out)

    def column(name: str) -> list[Any]:
        if name not in columns:
            columns[name] = [None] * len(out)
        return columns[name]

    for s in mine:
        i = index[s.run_id]
        column(column_name(s.scorer, s.rater if s.kind == HUMAN else ""))[i] = s.passed
        if s.kind == HUMAN:
            column(f"value[{s.scorer}@{s.rater}]" if s.rater else f"value[{s.scorer}]")[i] = \
                s.value
            continue
        if s.failed or s.passed is None:
            verdict[i] = pd.NA
        elif verdict[i] is not pd.NA:
            verdict[i] = s.passed if verdict[i] is None else (verdict[i] and s.passed)
        if s.value is not None and not s.failed:
            total[i] += s.value * s.weight
            weights[i] += s.weight
    for name, values in columns.items():
        dtype = "boolean" if name.startswith("pass[") else "float64"
        out[name] = pd.array(values, dtype=dtype) if dtype == "boolean" else pd.to_numeric(
            pd.Series(values, index=out.index, dtype=object)).astype("float64")
    out["passed"] = pd.array([pd.NA if v is None else v for v in verdict], dtype="boolean")
    out["score"] = [t / w if w else float("nan") for t, w in zip(total, weights)]
    return out


def mixed_scores(run_ids: list[str], n: int, seed: int) -> list[Score]:
    rnd = random.Random(seed)
    scorers = [("icontains:{expected}", "check", ""), ("max-chars:400", "check", ""),
               ("judge:correct", "judge", "local/gemma"), ("judge:correct", "judge", "other/m"),
               ("human", HUMAN, "ana"), ("human", HUMAN, ""), ("stars", HUMAN, "bo"),
               ("human", "check", "")]  # a check whose column a human rating shares
    out = []
    for _ in range(n):
        scorer, kind, rater = rnd.choice(scorers)
        failed = kind == "judge" and rnd.random() < 0.15
        passed = None if failed or rnd.random() < 0.1 else rnd.random() < 0.6
        value = None if rnd.random() < 0.1 else rnd.choice([0.0, 0.25, 0.5, 1.0])
        out.append(Score(rnd.choice(run_ids), scorer, kind=kind, value=value, passed=passed,
                         rater=rater, status=FAILED if failed else "ok",
                         weight=rnd.choice([1.0, 1.0, 2.0, 0.5, 0.0])))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_columnar_join_equals_the_row_by_row_join(seed):
    runs = [f"r{i}" for i in range(40)]
    frame = pd.DataFrame({"run_id": runs, "prompt": [f"p{i}" for i in range(40)]})
    scores = mixed_scores(runs + ["not-in-the-frame"], 150, seed)
    pd.testing.assert_frame_equal(join(frame, scores), row_by_row_join(frame, scores))
    assert "passed" not in frame.columns  # the caller's frame is left alone


def test_a_run_shown_twice_gets_its_verdicts_on_its_last_row():
    frame = pd.DataFrame({"run_id": ["a", "b", "a"]})
    scores = [Score("a", "check:x", value=1.0, passed=True), Score("b", "check:x", passed=False)]
    pd.testing.assert_frame_equal(join(frame, scores), row_by_row_join(frame, scores))


def test_no_verdict_for_these_runs_leaves_the_frame_as_it_was():
    frame = pd.DataFrame({"run_id": ["a"]})
    assert join(frame, [Score("z", "check:x", passed=True)]) is frame
    assert join(frame, []) is frame


def _log_with_scores(tmp_path) -> RecordLog:
    log = RecordLog(tmp_path / "log.sqlite")
    records = [Record(prompt=f"q{i}", response="a", timestamp=f"2026-12-01T10:00:{i:02d}+00:00")
               for i in range(30)]
    log.append_many(records)
    table = scores_of(log)
    scores = mixed_scores([r.run_id for r in records], 120, seed=3)
    table.add(scores[:60])
    table.add(scores[60:])  # replaces some of the first verdicts: later ones win
    return log


def test_history_reads_the_scores_the_same_through_arrow_and_sqlite(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    pytest.importorskip("adbc_driver_sqlite")
    log = _log_with_scores(tmp_path)
    sql = f"SELECT {', '.join(score_join.JOIN_COLUMNS)} FROM scores"
    assert arrow_read.read_table(log.path, sql) is not None, "the Arrow road was not taken"
    fast = score_join.join_long(log.dataframe(), score_join.read(log))
    with monkeypatch.context() as m:
        m.setattr(arrow_read, "available", lambda: False)
        plain = score_join.join_long(log.dataframe(), score_join.read(log))
    pd.testing.assert_frame_equal(fast, plain)
    reference = row_by_row_join(log.dataframe(), scores_of(log).scores())
    pd.testing.assert_frame_equal(fast, reference)
    assert fast["passed"].dtype == "boolean" and fast["score"].dtype == "float64"


def test_history_joins_the_stored_scores(session, monkeypatch):
    import gemma_magics as gm

    log = session.log
    log.append_many([Record(prompt="q1", response="Paris"), Record(prompt="q2", response="no")])
    ids = list(log.dataframe()["run_id"])
    scores_of(log).add([Score(ids[0], "contains:Paris", value=1.0, passed=True),
                        Score(ids[1], "contains:Paris", value=0.0, passed=False)])
    table = gm.history()
    assert list(table["pass[contains:Paris]"]) == [True, False]
    assert list(table["passed"]) == [True, False] and list(table["score"]) == [1.0, 0.0]
    with monkeypatch.context() as m:
        m.setattr(arrow_read, "available", lambda: False)
        pd.testing.assert_frame_equal(gm.history(), table)
