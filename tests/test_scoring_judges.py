"""Judges on the emulator (a real HTTP server on loopback): verdicts in the judge format,
and every way a judgment can go wrong recorded as a failure, never as a pass."""

from __future__ import annotations

import json

import pytest

import gemma_magics as gm
from gemma_magics.emulator import Fault
from gemma_magics.records.log import Record
from gemma_magics.records.scores import FAILED, scores_of
from gemma_magics.scoring.judges import Judge, parse_verdict

pytest_plugins = ["conftest_providers"]


@pytest.fixture
def answers(hosted):
    from gemma_magics.session import set_session

    set_session(hosted)
    records = [
        Record(provider="local", model="m", prompt="Capital of France?", response="Paris.",
               variant="A"),
        Record(provider="local", model="m", prompt="Capital of Italy?", response="Milan.",
               variant="A"),
    ]
    hosted.log.append_many(records)
    yield records
    set_session(gm.Session())


REFS = {"Capital of France?": "Paris", "Capital of Italy?": "Rome"}


def judge_scores(session):
    return [s for s in scores_of(session.log).scores() if s.kind == "judge"]


def test_judge_grades_through_a_provider_and_its_calls_are_recorded(hosted, emu, answers):
    out = gm.score(gm.history(), judge="correct", judge_provider="openai", expected=REFS)
    assert list(out["pass[judge:correct]"]) == [True, False]
    by_run = {s.run_id: s for s in judge_scores(hosted)}
    first = by_run[answers[0].run_id]
    assert first.value == 1.0 and "contains the reference" in first.reason
    assert first.rater == "openai"
    calls = [r for r in hosted.log.records() if r.variant == "judge:correct"]
    assert len(calls) == 2  # judge calls are calls: recorded, with what they judged
    assert {json.loads(r.extra)["judged_run"] for r in calls} == {a.run_id for a in answers}
    assert json.loads(first.detail)["judge_run_id"] in {r.run_id for r in calls}
    # judges run concurrently, so the two judge requests arrive in either order
    prompts = [r.body["messages"][-1]["content"] for r in emu.requests]
    italy = [p for p in prompts if "REFERENCE: <<<Rome>>>" in p]
    assert len(italy) == 1 and "ANSWER: <<<Milan.>>>" in italy[0]


@pytest.mark.parametrize("garbage", [
    "Looks good to me!",                                  # no JSON
    '{"pass": "yes", "score": 1, "reason": "fine"}',      # pass not a boolean
    '{"pass": true, "score": 7, "reason": "great"}',      # score outside 0-1
    '{"pass": true, "score": 0.9',                        # cut off
])
def test_a_garbage_verdict_is_a_recorded_failure_never_a_pass(hosted, emu, answers, garbage):
    emu.set_text(garbage)
    out = gm.score(gm.history(), judge="correct", judge_provider="openai", expected=REFS)
    assert out["pass[judge:correct]"].isna().all()
    assert out["passed"].isna().all()
    scores = judge_scores(hosted)
    assert len(scores) == 2
    assert all(s.status == FAILED and s.passed is None for s in scores)
    assert all("malformed verdict" in s.reason for s in scores)


def test_a_judge_that_times_out_is_a_recorded_failure(hosted, emu, answers, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    hosted.config.reload()
    emu.inject(Fault(hang=30), count=2)
    out = gm.score(gm.history(), judge="correct", judge_provider="openai", expected=REFS)
    assert out["pass[judge:correct]"].isna().all()
    scores = judge_scores(hosted)
    assert all(s.status == FAILED and s.passed is None for s in scores)
    assert all("judge call failed" in s.reason and "timeout" in s.reason for s in scores)
    calls = [r for r in hosted.log.records() if r.variant == "judge:correct"]
    assert len(calls) == 2 and {r.status for r in calls} == {"error"}


def test_an_error_answer_from_the_judge_is_a_failure(hosted, emu, answers):
    emu.inject(Fault(status=500), count=10)
    gm.score(gm.history(), judge="correct", judge_provider="openai", expected=REFS)
    assert all(s.failed and s.passed is None for s in judge_scores(hosted))


def test_checks_first_judge_only_where_they_cannot_decide(hosted, emu, answers):
    out = gm.score(gm.history(), checks="icontains:{expected}", judge="correct",
                   judge_provider="openai", expected=REFS)
    assert list(out["pass[icontains:{expected}]"]) == [True, False]
    assert out["pass[judge:correct]"].isna().tolist() == [False, True]  # second not judged
    assert len([r for r in hosted.log.records() if r.variant == "judge:correct"]) == 1


def test_several_judges_vote(hosted, emu, answers):
    judges = [Judge("correct", "openai"), Judge("correct", "openrouter"),
              Judge("correct", "aimlapi")]
    out = gm.score(gm.history(), judge=judges, expected=REFS)
    assert list(out["pass[judge:correct]"]) == [True, False]
    (first,) = [s for s in judge_scores(hosted) if s.run_id == answers[0].run_id]
    votes = json.loads(first.detail)["votes"]
    assert [v["rater"] for v in votes] == ["openai", "openrouter", "aimlapi"]
    assert first.reason == "3 of 3 judges passed it"


def test_a_failed_judge_does_not_vote(hosted, emu, answers):
    emu.inject(Fault(status=400), count=5, path_contains="/openrouter/")
    judges = [Judge("correct", "openai"), Judge("correct", "openrouter"),
              Judge("correct", "aimlapi")]
    gm.score(gm.history()[:1], judge=judges, expected=REFS)
    (score,) = judge_scores(hosted)
    assert score.passed is True and score.reason == "2 of 2 judges passed it"
    votes = json.loads(score.detail)["votes"]
    assert [v["status"] for v in votes] == ["ok", "failed", "ok"]


def test_a_split_or_empty_vote_is_a_failed_judgment():
    from gemma_magics.records.scores import Score
    from gemma_magics.scoring.judges import majority

    judges = [Judge("correct", "a"), Judge("correct", "b"), Judge("correct", "c")]
    yes = Score("r", "judge:correct", "judge", 1.0, True, "ok", rater="a")
    no = Score("r", "judge:correct", "judge", 0.0, False, "no", rater="b")
    broken = Score("r", "judge:correct", "judge", None, None, "garbage", rater="c",
                   status=FAILED)
    split = majority(judges, [yes, no, broken])
    assert split.status == FAILED and split.passed is None and "split 1–1" in split.reason
    none = majority(judges[:2], [broken, broken])
    assert none.status == FAILED and none.passed is None
    assert majority(judges, [yes, no, yes]).passed is True
    assert majority(judges, [no, no, yes]).passed is False


def test_pairwise_order_is_random_recorded_and_undone(hosted, emu):
    from gemma_magics.session import set_session

    set_session(hosted)
    records = []
    for i in range(12):
        q = f"Question {i}: capital of France?"
        records.append(Record(provider="local", model="m", prompt=q, response="Lyon",
                              variant="base"))
        records.append(Record(provider="local", model="m", prompt=q, response="Paris",
                              variant="new"))
    hosted.log.append_many(records)
    refs = {r.prompt: "Paris" for r in records}
    out = gm.score(gm.history(), judge="correct", judge_provider="openai", pairwise=True,
                   baseline="base", expected=refs)
    scores = judge_scores(hosted)
    assert len(scores) == 12  # only the non-baseline answers are judged
    orders = {json.loads(s.detail)["order"] for s in scores}
    assert orders == {"candidate first", "baseline first"}
    assert all(s.value == 1.0 and s.passed for s in scores)  # "Paris" wins wherever it stood
    new = out[out["variant"] == "new"]
    assert new["pass[pairwise:correct]"].all()
    set_session(gm.Session())


def test_parse_verdict_rules():
    assert parse_verdict('Sure. {"pass": false, "score": 0.2, "reason": "wrong"}') == (
        False, 0.2, "wrong")
    assert parse_verdict('{"pass": true}') == (True, 1.0, "")
    with pytest.raises(ValueError):
        parse_verdict('{"score": 1}')


def test_the_local_model_is_allowed_but_called_a_weak_judge(hosted, answers):
    from gemma_magics.scoring.score import Scorer

    assert "weak judge" in Scorer(judge="correct", judge_provider="local").notices[0]


def test_judge_calls_are_cached_like_any_call(hosted, emu, answers):
    judge = Judge("correct", "openai", seed=3, cache=True)
    gm.score(gm.history()[:1], judge=judge, expected=REFS)
    sent = len(emu.requests)
    gm.score(gm.history(scores=False)[:1], judge=judge, expected=REFS)
    assert len(emu.requests) == sent  # the second judgment came from the log
    calls = [r for r in hosted.log.records() if r.variant == "judge:correct"]
    assert [c.cached for c in calls] == [False, True]
    (score,) = judge_scores(hosted)
    assert score.passed is True


def test_judge_calls_run_concurrently_up_to_the_limit(hosted, emu):
    from emulated import peak_overlap

    from gemma_magics.session import set_session

    set_session(hosted)
    hosted.log.append_many([Record(provider="local", model="m", prompt=f"Q{i}?",
                                   response="Paris", variant="A") for i in range(8)])
    emu.set_latency(first_byte=0.3)
    out = gm.score(gm.history(), judge="correct", judge_provider="openai",
                   judge_concurrency=3, expected={f"Q{i}?": "Paris" for i in range(8)})
    assert out["pass[judge:correct]"].all()
    assert 2 <= peak_overlap(emu.requests) <= 3  # in flight together, never above the limit
    emu.reset()
    emu.set_latency(first_byte=0.1)
    gm.score(gm.history(scores=False).iloc[:8], judge="correct", judge_provider="openai",
             judge_concurrency=1, expected={f"Q{i}?": "Paris" for i in range(8)})
    assert peak_overlap(emu.requests) == 1
    set_session(gm.Session())
