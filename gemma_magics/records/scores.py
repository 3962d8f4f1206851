"""Scores: verdicts on recorded answers, kept in the same SQLite log as the calls.

One row per (run, scorer, rater): a check, a judge or a human said whether the answer of
run ``run_id`` passes, with a value in 0–1 and a reason. Scoring again with the same scorer
replaces its row (the scorer's version is kept beside it). A judgment that could not be made
(the judge answered garbage, timed out) is a row with ``status = "failed"`` and no ``passed``:
it is never counted as a pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .log import RecordLog

CHECK, JUDGE, HUMAN = "check", "judge", "human"
KINDS = (CHECK, JUDGE, HUMAN)
SCORED, FAILED = "ok", "failed"


@dataclass
class Score:
    """One verdict on one run's answer."""

    run_id: str
    scorer: str  # e.g. "icontains:{expected}", "judge:correct", "human"
    kind: str = CHECK  # check | judge | human
    value: float | None = None  # 0-1
    passed: bool | None = None  # None: no verdict (a failed judgment, a skipped run)
    reason: str = ""
    version: str = ""  # of the scorer (gemma_magics version, the judge's model and rubric)
    rater: str = ""  # who: "" for checks, the judge's provider/model, a human's name
    status: str = SCORED  # ok | failed
    detail: str | None = None  # JSON: pairwise order, the judge call's run_id, votes...
    weight: float = 1.0
    timestamp: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def as_row(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def details(self) -> dict[str, Any]:
        return json.loads(self.detail) if self.detail else {}


SCORE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Score))
_TYPES = {"value": "REAL", "passed": "INTEGER", "weight": "REAL"}


def _row(score: Score) -> tuple:
    values = []
    for name in SCORE_COLUMNS:
        value = getattr(score, name)
        values.append(int(value) if isinstance(value, bool) else value)
    return tuple(values)


class ScoreTable:
    """The ``scores`` table of a :class:`~gemma_magics.records.log.RecordLog` (created on
    first use, in the same file and connection as the calls)."""

    def __init__(self, log: RecordLog):
        self.log = log
        cols = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" for c in SCORE_COLUMNS)
        with log._lock:
            log._conn.execute(f"CREATE TABLE IF NOT EXISTS scores ({cols}, "
                              "PRIMARY KEY (run_id, scorer, rater))")
            have = {row[1] for row in log._conn.execute("PRAGMA table_info(scores)")}
            for c in SCORE_COLUMNS:
                if c not in have:  # a table written by an older version
                    log._conn.execute(f"ALTER TABLE scores ADD COLUMN {c} "
                                      f"{_TYPES.get(c, 'TEXT')}")
        self._insert = (f"INSERT OR REPLACE INTO scores ({', '.join(SCORE_COLUMNS)}) "
                        f"VALUES ({', '.join('?' for _ in SCORE_COLUMNS)})")

    def add(self, scores: list[Score]) -> None:
        """Store (or replace) scores, in one transaction."""
        if not scores:
            return
        rows = [_row(s) for s in scores]
        conn = self.log._conn
        with self.log._lock:
            conn.execute("BEGIN")
            try:
                conn.executemany(self._insert, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def scores(self, run_ids: list[str] | None = None) -> list[Score]:
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores"
        with self.log._lock:
            rows = self.log._conn.execute(sql).fetchall()
        wanted = None if run_ids is None else set(run_ids)
        out = []
        for row in rows:
            values = dict(zip(SCORE_COLUMNS, row))
            if wanted is not None and values["run_id"] not in wanted:
                continue
            if values["passed"] is not None:
                values["passed"] = bool(values["passed"])
            out.append(Score(**values))
        return out

    def __len__(self) -> int:
        with self.log._lock:
            return self.log._conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]

    def dataframe(self, run_ids: list[str] | None = None) -> pd.DataFrame:
        """The scores as a long table, one row per verdict."""
        import pandas as pd

        frame = pd.DataFrame([s.as_row() for s in self.scores(run_ids)],
                             columns=list(SCORE_COLUMNS))
        frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
        frame["passed"] = frame["passed"].astype("boolean")
        return frame


def scores_of(log: RecordLog) -> ScoreTable:
    """The score table of ``log`` (one per log, made on first use)."""
    table = getattr(log, "_score_table", None)
    if table is None:
        table = ScoreTable(log)
        log._score_table = table
    return table


def column_name(scorer: str, rater: str = "") -> str:
    """The wide column a scorer's verdicts go in: ``pass[icontains:{expected}]``."""
    return f"pass[{scorer}{'@' + rater if rater else ''}]"


def join(frame: pd.DataFrame, scores: list[Score]) -> pd.DataFrame:
    """``frame`` (one row per run, with ``run_id``) with the scores beside it: a
    ``pass[SCORER]`` column per scorer (True/False/<NA>), and overall ``passed`` (every check
    and judge passed; <NA> when a verdict is missing or failed) and ``score`` (the weighted
    mean value). Human ratings get their own columns and stay out of ``passed``/``score``."""
    from .score_join import join_long, long_of

    if not scores or "run_id" not in frame.columns:
        return frame
    return join_long(frame, long_of(scores))
