"""``gemma_magics.score()``: checks and judges on finished runs, without regenerating them.

>>> import gemma_magics as gm
>>> cmp = gm.compare(df["question"], providers=["local", "cloudflare"], expected=df["answer"])
>>> scored = gm.score(cmp, checks=["icontains:{expected}", "max-chars:200"],
...                   judge="correct and concise", judge_provider="cloudflare")
>>> gm.summary(scored)      # pass rate ± 95 % interval, Δ vs the first variant, p
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..records.scores import CHECK, SCORED, Score, join, scores_of
from ..session import Session, get_session
from .checks import Check, parse_checks
from .judges import WEAK_JUDGE, Judge, majority, parse_judges

if TYPE_CHECKING:
    import pandas as pd

SCORE_COLUMNS_PREFIXES = ("pass[", "value[")
_NULLABLE = ("string", "Int64", "boolean", "Float64")
FAILED_RUN = "the run did not finish ({status}): no answer to score"


class Scorer:
    """Checks, then judges, for one comparison or one re-scoring.

    ``judge_when``: "undecided" (default) grades only runs every check passed (a failed
    check has decided already); "always" grades every finished run.
    """

    def __init__(self, checks: Any = None, judge: Any = None, *,
                 judge_provider: str | None = None, judge_model: str | None = None,
                 pairwise: bool = False, functions: Mapping[str, Any] | None = None,
                 judge_when: str = "undecided"):
        if judge_when not in ("undecided", "always"):
            raise ValidationError(f"judge_when={judge_when!r}", fix='use "undecided" or "always"')
        self.checks: list[Check] = parse_checks(checks, functions)
        self.judges: list[Judge] = parse_judges(judge, judge_provider, judge_model, pairwise)
        self.judge_when = judge_when
        self.timestamp = datetime.now(timezone.utc).isoformat()

    def __bool__(self) -> bool:
        return bool(self.checks or self.judges)

    @property
    def notices(self) -> list[str]:
        local = any((j.provider or "") == "local" for j in self.judges)
        return [f"Judge: {WEAK_JUDGE}"] if local else []

    def check(self, row: Mapping[str, Any], expected: Any = None) -> list[Score]:
        """Every check on one run (a failed run fails every check)."""
        run_id = row["run_id"]
        status = row.get("status")
        if status is not None and status != "ok":
            why = FAILED_RUN.format(status=status)
            return [Score(run_id, c.name, CHECK, 0.0, False, why, c.version, weight=c.weight,
                          timestamp=self.timestamp) for c in self.checks]
        answer = row.get("response") or ""
        out = []
        for c in self.checks:
            value, passed, reason = c.evaluate(answer, row, expected)
            out.append(Score(run_id, c.name, CHECK, value, passed, reason, c.version,
                             status=SCORED if passed is not None else "failed",
                             weight=c.weight, timestamp=self.timestamp))
        return out

    def wants_judge(self, row: Mapping[str, Any], checked: list[Score]) -> bool:
        if not self.judges or row.get("status", "ok") != "ok":
            return False
        return self.judge_when == "always" or all(s.passed for s in checked)

    def judge(self, row: Mapping[str, Any], expected: Any = None,
              baseline_answer: str | None = None, session: Session | None = None) -> list[Score]:
        """The judges' verdicts on one run: one score per rubric (a majority when several
        judges share it)."""
        by_rubric: dict[str, list[Judge]] = {}
        for j in self.judges:
            by_rubric.setdefault(j.name, []).append(j)
        out = []
        for judges in by_rubric.values():
            votes = [j.grade(row, expected, baseline_answer, session) for j in judges]
            out.append(majority(judges, votes))
        return out


def summary_verdict(scores: list[Score]) -> tuple[bool | None, float | None, str]:
    """A run's verdict from its scores: passed (all passed; None if any is missing or
    failed), the weighted mean value, and the reasons (for the grid's hover text)."""
    machine = [s for s in scores if s.kind != "human"]
    if not machine:
        return None, None, ""
    passed: bool | None = True
    for s in machine:
        if s.failed or s.passed is None:
            passed = None
            break
        passed = passed and s.passed
    weights = sum(s.weight for s in machine if s.value is not None and not s.failed)
    value = (sum(s.value * s.weight for s in machine if s.value is not None and not s.failed)
             / weights) if weights else None
    lines = [f"{'✓' if s.passed else '?' if s.passed is None else '✗'} {s.scorer}: {s.reason}"
             for s in machine]
    return passed, value, "\n".join(lines)


def expected_values(frame: pd.DataFrame, expected: Any) -> list[Any]:
    """The reference answer of each row: ``expected`` as a column name, a mapping
    prompt → answer, a sequence aligned with the rows, or the frame's ``expected`` column."""
    if expected is None:
        if "expected" in frame.columns:
            return list(frame["expected"])
        return [None] * len(frame)
    if isinstance(expected, str):
        if expected not in frame.columns:
            raise ValidationError(f"expected={expected!r}: the frame has no such column",
                                  fix="give a column name, a mapping prompt → answer, or a list")
        return list(frame[expected])
    if isinstance(expected, Mapping):
        return [expected.get(p) for p in frame["prompt"]]
    values = list(expected)
    if len(values) != len(frame):
        raise ValidationError(f"expected= has {len(values)} values for {len(frame)} runs",
                              fix="give one per row, or a mapping prompt → answer")
    return values


def _clean(value: Any) -> Any:
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):  # pd.NA
        return None
    return value


def score(df: pd.DataFrame, checks: Any = None, judge: Any = None, *,
          expected: Any = None, judge_provider: str | None = None,
          judge_model: str | None = None, pairwise: bool = False,
          baseline: str | None = None, functions: Mapping[str, Any] | None = None,
          judge_when: str = "undecided", store: bool = True,
          session: Session | None = None) -> pd.DataFrame:
    """Score finished runs (the frame of :func:`~gemma_magics.compare` or
    :func:`~gemma_magics.history`) again, without regenerating any answer.

    checks: check texts (``"icontains:{expected}"``, ``"not-regex:sorry"``, see
        :mod:`gemma_magics.scoring.checks`), functions ``(answer, row)``, or Checks.
    judge: a rubric (``"correct and concise"``), a :class:`~gemma_magics.scoring.Judge`, or
        a list of them (a majority vote per rubric). ``judge_provider``/``judge_model``: who
        grades a rubric given as text. ``pairwise``: grade each answer against the
        ``baseline`` variant's answer to the same prompt (default: the first variant).
    expected: reference answers for ``{expected}`` and the judge: a column name, a mapping
        prompt → answer, a list aligned with the rows; default the frame's ``expected``.
    judge_when: "undecided" grades only runs that passed every check; "always" all.
    store: keep the scores in the log (replacing this scorer's earlier verdicts on these
        runs), where :func:`~gemma_magics.history` and later summaries find them.

    Returns the frame with ``pass[SCORER]`` columns, ``passed`` and ``score``.
    """
    import pandas as pd

    if not hasattr(df, "columns") or "run_id" not in df.columns:
        raise TypeError("expected the DataFrame from compare() or history()")
    session = session or get_session()
    scorer = Scorer(checks, judge, judge_provider=judge_provider, judge_model=judge_model,
                    pairwise=pairwise, functions=functions, judge_when=judge_when)
    if not scorer:
        raise ValidationError("nothing to score with", fix='give checks=[...] and/or judge="..."')
    frame = df[[c for c in df.columns if not c.startswith(SCORE_COLUMNS_PREFIXES)
                and c not in ("passed", "score")]]
    refs = [_clean(v) for v in expected_values(frame, expected)]
    rows = _rows(frame, scorer)
    pair = scorer.judges and any(j.pairwise for j in scorer.judges)
    baselines, base_runs = _baseline_answers(frame, baseline) if pair else ({}, set())
    new: list[Score] = []
    for row, ref in zip(rows, refs):
        if is_judge_call(row):
            continue  # a judge's own call (in history()): graded answers, not an answer
        checked = scorer.check(row, ref)
        new += checked
        if scorer.wants_judge(row, checked) and row["run_id"] not in base_runs:
            new += scorer.judge(row, ref, baselines.get(row["run_id"]), session)
    if store:
        table = scores_of(session.log)
        table.add(new)
        found = table.scores(list(frame["run_id"]))
    else:
        found = new
    out = join(frame, found)
    if expected is not None:
        out["expected"] = pd.Series(refs, index=out.index, dtype=object)
    out.attrs = dict(df.attrs)
    out.attrs["scoring"] = {"checks": [c.name for c in scorer.checks],
                            "judges": [repr(j) for j in scorer.judges],
                            "notices": scorer.notices}
    return out


#: The columns checks and judges read; a ``python:`` check gets the whole row.
ROW_COLUMNS = ("run_id", "status", "prompt", "response", "completion_tokens", "finish_reason",
               "extra", "variant", "provider", "model")


def _rows(frame: pd.DataFrame, scorer: Scorer) -> list[dict[str, Any]]:
    """The rows as plain dicts (``tolist()`` per column: far quicker than ``to_dict``),
    pandas' missing values as None."""
    import pandas as pd

    whole = any(c.name.startswith("python:") for c in scorer.checks)
    cols = list(frame.columns) if whole else [c for c in ROW_COLUMNS if c in frame.columns]
    values = [[None if v is pd.NA else v for v in frame[c].tolist()]
              if str(frame[c].dtype) in _NULLABLE else frame[c].tolist() for c in cols]
    return [dict(zip(cols, row)) for row in zip(*values)]


def is_judge_call(row: Mapping[str, Any]) -> bool:
    extra = row.get("extra")
    return isinstance(extra, str) and '"judged_run"' in extra


def _baseline_answers(frame: pd.DataFrame,
                      baseline: str | None) -> tuple[dict[str, str], set[str]]:
    """run_id → the baseline variant's answer to the same prompt (the same repeat when
    there is one, else cycling through its answers), and the baseline's own run ids (not
    judged against themselves)."""
    if "variant" not in frame.columns or frame["variant"].isna().all():
        raise ValidationError("pairwise judging needs variants (the frame of compare())",
                              fix="run compare() with several providers, models or settings")
    variants = list(dict.fromkeys(frame["variant"].dropna()))
    base = baseline or variants[0]
    if base not in variants:
        raise ValidationError(f"baseline={base!r} is not a variant of this comparison",
                              fix="use one of " + ", ".join(map(repr, variants)))
    theirs: dict[str, list[str]] = {}
    for _, row in frame[frame["variant"] == base].iterrows():
        if row["status"] == "ok":
            theirs.setdefault(row["prompt"], []).append(row["response"] or "")
    out: dict[str, str] = {}
    counters: dict[tuple[str, str], int] = {}
    for _, row in frame[frame["variant"] != base].iterrows():
        answers = theirs.get(row["prompt"])
        if not answers:
            continue
        key = (row["variant"], row["prompt"])
        n = counters.get(key, 0)
        counters[key] = n + 1
        out[row["run_id"]] = answers[n % len(answers)]
    return out, set(frame.loc[frame["variant"] == base, "run_id"])

