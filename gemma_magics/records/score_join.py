"""The scores beside the runs, column by column: the join behind ``history()`` and ``score()``.

A verdict per run per scorer becomes a ``pass[SCORER]`` column (human ratings also a
``value[SCORER@RATER]`` column), and every run gets ``passed`` (all machine verdicts passed;
<NA> when one is missing or failed) and ``score`` (their weighted mean value). The verdicts
arrive as a long table (one row per verdict, oldest first) and are spread with numpy over row
positions, so the cost grows with the number of verdicts but no Python object is made per
verdict: history() of 100,000 runs with a verdict each stays near the bare SQLite scan
(benchmark B6′). With the ``arrow`` extra the scores table is read through Arrow too; without
it, through ``sqlite3`` rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .scores import FAILED, HUMAN, Score, column_name

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .log import RecordLog

#: What the join reads of each verdict (not its reason, version, detail or time).
JOIN_COLUMNS = ("run_id", "scorer", "kind", "value", "passed", "rater", "status", "weight")


def read(log: RecordLog) -> pd.DataFrame:
    """The verdicts in ``log``'s scores table (which must exist) as a long table, in the
    order they were written (a replaced verdict counts as written when it was replaced)."""
    import pandas as pd

    from . import arrow_read

    sql = f"SELECT {', '.join(JOIN_COLUMNS)} FROM scores ORDER BY rowid"
    table = arrow_read.read_table(log.path, sql, immutable=False)
    if table is not None:
        return table.to_pandas()
    with log._lock:
        rows = log._conn.execute(sql).fetchall()
    return pd.DataFrame.from_records(rows, columns=list(JOIN_COLUMNS))


def long_of(scores: list[Score]) -> pd.DataFrame:
    """Score objects as the long table :func:`join_long` takes."""
    import pandas as pd

    return pd.DataFrame({c: [getattr(s, c) for s in scores] for c in JOIN_COLUMNS},
                        columns=list(JOIN_COLUMNS))


def join_long(frame: pd.DataFrame, long: pd.DataFrame, *, copy: bool = True) -> pd.DataFrame:
    """``frame`` (one row per run, with ``run_id``) with the verdicts of ``long`` beside it
    (see :func:`gemma_magics.records.scores.join`). ``copy=False`` adds the columns to
    ``frame`` itself (history()'s own fresh frame)."""
    import numpy as np
    import pandas as pd

    if long.empty or "run_id" not in frame.columns:
        return frame
    n = len(frame)
    # run ids as codes (hashed in C, Arrow strings stay Arrow strings), then the row of each
    # verdict's run: the run's last row when a frame shows it twice
    codes, uniques = pd.factorize(pd.concat([frame["run_id"], long["run_id"]],
                                            ignore_index=True))
    runs, wanted = codes[:n], codes[n:]
    rows = pd.Series(np.arange(n))[runs >= 0]
    rows = rows[~pd.Series(runs[rows.to_numpy()]).duplicated(keep="last").to_numpy()]
    row_of = np.full(len(uniques) + 1, -1)  # the extra last cell: a missing run id (-1)
    row_of[runs[rows.to_numpy()]] = rows.to_numpy()
    hit = row_of[wanted]
    mine = hit >= 0
    if not mine.any():
        return frame
    long = long[mine]
    row = hit[mine]
    human = (long["kind"] == HUMAN).to_numpy(dtype=bool, na_value=False)
    failed = (long["status"] == FAILED).to_numpy(dtype=bool, na_value=False)
    verdict = pd.to_numeric(long["passed"]).to_numpy(dtype="float64", na_value=np.nan)
    unknown = np.isnan(verdict)
    passed = ~unknown & (np.nan_to_num(verdict) != 0)
    value = pd.to_numeric(long["value"]).to_numpy(dtype="float64", na_value=np.nan)
    # a table from before weights has none: the default weight
    weight = pd.to_numeric(long["weight"]).fillna(1.0).to_numpy(dtype="float64")

    # one group per (scorer, rater as named in the column, human or not), in order of first
    # appearance; the columns come in that order, a human rating's value column after its
    # pass column (two groups may share a column: the later verdict wins)
    scorer, scorers = pd.factorize(long["scorer"])
    rater, raters = pd.factorize(long["rater"])
    rater = np.where(human, rater, -1)  # -1: no rater in the column's name
    key = (scorer.astype(np.int64) * (len(raters) + 1) + rater + 1) * 2 + human
    group, _ = pd.factorize(key)  # numbered in order of first appearance
    _, firsts = np.unique(group, return_index=True)
    pass_col: list[int] = []
    value_col: list[int] = []
    names: dict[str, int] = {}
    for first in firsts:
        name = scorers[scorer[first]] if scorer[first] >= 0 else None
        shown = raters[rater[first]] if rater[first] >= 0 else ""
        pass_col.append(names.setdefault(column_name(name, shown), len(names)))
        if human[first]:
            tag = f"{name}@{shown}" if shown else name
            value_col.append(names.setdefault(f"value[{tag}]", len(names)))
        else:
            value_col.append(-1)
    columns: dict[str, Any] = {}
    order = list(names)
    for c, cells in _last_per_cell(np.asarray(pass_col)[group], row, n).items():
        vals, mask = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
        vals[row[cells]], mask[row[cells]] = passed[cells], unknown[cells]
        columns[order[c]] = pd.arrays.BooleanArray(vals, mask)
    for c, cells in _last_per_cell(np.asarray(value_col)[group], row, n).items():
        vals = np.full(n, np.nan)
        vals[row[cells]] = value[cells]
        columns[order[c]] = vals

    machine = ~human
    judged = np.bincount(row[machine], minlength=n)
    open_ = np.bincount(row[machine & (failed | unknown)], minlength=n)
    refused = np.bincount(row[machine & ~failed & ~unknown & ~passed], minlength=n)
    counted = machine & ~np.isnan(value) & ~failed
    total = np.bincount(row[counted], weights=value[counted] * weight[counted], minlength=n)
    weights = np.bincount(row[counted], weights=weight[counted], minlength=n)

    out = frame.copy() if copy else frame
    for name in order:
        if name in columns:
            out[name] = columns[name]
    out["passed"] = pd.arrays.BooleanArray(refused == 0, (judged == 0) | (open_ > 0))
    score = np.full(n, np.nan)
    np.divide(total, weights, out=score, where=weights != 0)
    out["score"] = score
    return out


def _last_per_cell(col: np.ndarray, row: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """For each column id in ``col`` (-1: none), the indexes of the verdicts it shows: the
    last one written per (column, row)."""
    import numpy as np
    import pandas as pd

    has = np.flatnonzero(col >= 0)
    cell = col[has].astype(np.int64) * n + row[has]
    keep = has[~pd.Series(cell).duplicated(keep="last").to_numpy()]
    return {int(c): keep[col[keep] == c] for c in np.unique(col[keep])}
