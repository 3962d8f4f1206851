"""Scores are data: stored in the log's scores table, joined into history(), re-scored
without regenerating, kept across a reopened log file."""

from __future__ import annotations

import pandas as pd
import pytest

import gemma_magics as gm
from gemma_magics.errors import ValidationError
from gemma_magics.records.log import Record, RecordLog
from gemma_magics.records.scores import FAILED, Score, join, scores_of


def finished(prompt: str, answer: str, *, variant: str = "A", status: str = "ok",
             tokens: int = 5) -> Record:
    return Record(provider="local", model="gemma-3-270m", prompt=prompt, response=answer,
                  variant=variant, status=status, completion_tokens=tokens,
                  finish_reason="stop" if status == "ok" else None)


@pytest.fixture
def runs(session):
    records = [
        finished("Capital of France?", "Paris."),
        finished("Capital of Italy?", "Milan, I think."),
        finished("2 + 2 =", "4", tokens=1),
        finished("Capital of Spain?", "Mad", status="error"),
    ]
    session.log.append_many(records)
    return records


def test_scores_are_stored_and_joined_into_history(session, runs):
    assert "passed" not in gm.history().columns  # nothing scored yet: history as before
    refs = {"Capital of France?": "Paris", "Capital of Italy?": "Rome", "2 + 2 =": "4",
            "Capital of Spain?": "Madrid"}
    scored = gm.score(gm.history(), checks=["icontains:{expected}", "max-tokens:4"],
                      expected=refs)
    assert len(scores_of(session.log)) == 8
    table = gm.history()
    assert list(table["pass[icontains:{expected}]"]) == [True, False, True, False]
    assert list(table["pass[max-tokens:4]"]) == [False, False, True, False]
    assert list(table["passed"]) == [False, False, True, False]
    assert list(table["score"]) == [0.5, 0.0, 1.0, 0.0]
    assert list(scored["passed"]) == list(table["passed"])
    assert list(scored["expected"]) == ["Paris", "Rome", "4", "Madrid"]
    failed_run = [s for s in scores_of(session.log).scores() if s.run_id == runs[3].run_id]
    assert {s.passed for s in failed_run} == {False}
    assert all("did not finish (error)" in s.reason for s in failed_run)
    assert "passed" not in gm.history(scores=False).columns


def test_rescoring_replaces_the_same_scorer_and_regenerates_nothing(session, runs):
    before = len(session.log)
    gm.score(gm.history(), checks=["contains:Paris"])
    gm.score(gm.history(), checks=["contains:Paris", "max-chars:5"])
    assert len(session.log) == before  # no call made
    kinds = [(s.run_id, s.scorer) for s in scores_of(session.log).scores()]
    assert len(kinds) == len(set(kinds)) == 8
    # a re-score with a changed check function replaces the old verdicts
    gm.score(gm.history(), checks=[gm.Check(lambda a, r: True, name="python:lenient")])
    gm.score(gm.history(), checks=[gm.Check(lambda a, r: False, name="python:lenient")])
    assert not gm.history()["pass[python:lenient]"].any()


def test_scores_survive_reopening_the_log(tmp_path):
    path = tmp_path / "log.sqlite"
    log = RecordLog(path)
    record = finished("q", "a")
    log.append(record)
    scores_of(log).add([Score(record.run_id, "human", kind="human", value=1.0, passed=True,
                              rater="ana")])
    log.close()
    again = RecordLog(path)
    (score,) = scores_of(again).scores()
    assert (score.run_id, score.kind, score.passed, score.rater) == (
        record.run_id, "human", True, "ana")
    again.close()


def test_a_failed_judgment_is_never_a_pass_in_the_join():
    frame = pd.DataFrame({"run_id": ["r1", "r2"]})
    scores = [
        Score("r1", "icontains:x", value=1.0, passed=True),
        Score("r1", "judge:good", kind="judge", status=FAILED, reason="garbage"),
        Score("r2", "icontains:x", value=1.0, passed=True),
    ]
    out = join(frame, scores)
    assert out["passed"].isna().tolist() == [True, False]
    assert bool(out["passed"].iloc[1])
    assert out["pass[judge:good]"].isna().iloc[0]


def test_score_needs_something_to_score_with(session, runs):
    with pytest.raises(ValidationError, match="nothing to score"):
        gm.score(gm.history())
    with pytest.raises(ValidationError, match="2 values for 4 runs"):
        gm.score(gm.history(), checks="icontains:{expected}", expected=["a", "b"])
