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
    runs = pd.Index(frame["run_id"].to_numpy(dtype=object))
    positions = np.arange(n)
    if not runs.is_unique:  # the same run twice: its last row gets the verdicts
        last = ~runs.duplicated(keep="last")
        runs, positions = runs[last], positions[last]
    hit = runs.get_indexer(long["run_id"].to_numpy(dtype=object))
    mine = hit >= 0
    if not mine.any():
        return frame
    long = long[mine]
    row = positions[hit[mine]]
    human = (long["kind"] == HUMAN).to_numpy(dtype=bool, na_value=False)
    rater = long["rater"].fillna("").astype(str).to_numpy(dtype=object)
    passed, unknown = _booleans(long["passed"])
    value = pd.to_numeric(long["value"]).to_numpy(dtype="float64", na_value=np.nan)
    # a table from before weights has none: the default weight
    weight = pd.to_numeric(long["weight"]).fillna(1.0).to_numpy(dtype="float64")
    failed = (long["status"] == FAILED).to_numpy(dtype=bool, na_value=False)

    # one group per (scorer, rater as named in the column, human or not), in order of first
    # appearance; the columns come in that order, a human rating's value column after its
    # pass column (two groups may share a column: the later verdict wins)
    shown_rater = np.where(human, rater, "")
    keys = pd.DataFrame({"scorer": long["scorer"].astype(str).to_numpy(dtype=object),
                         "rater": shown_rater, "human": human})
    group = keys.groupby(["scorer", "rater", "human"], sort=False).ngroup().to_numpy()
    firsts = keys.drop_duplicates().itertuples(index=False)
    pass_col: list[int] = []
    value_col: list[int] = []
    names: dict[str, int] = {}
    for scorer, shown, is_human in firsts:
        pass_col.append(names.setdefault(column_name(scorer, shown), len(names)))
        if is_human:
            tag = f"{scorer}@{shown}" if shown else scorer
            value_col.append(names.setdefault(f"value[{tag}]", len(names)))
        else:
            value_col.append(-1)
    columns: dict[str, Any] = {}
    order = list(names)
    pass_of = np.asarray(pass_col)[group]
    for name, cells in _last_per_cell(pass_of, row, order).items():
        vals, mask = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
        vals[row[cells]], mask[row[cells]] = passed[cells], unknown[cells]
        columns[name] = pd.arrays.BooleanArray(vals, mask)
    value_of = np.asarray(value_col)[group]
    for name, cells in _last_per_cell(value_of, row, order).items():
        vals = np.full(n, np.nan)
        vals[row[cells]] = value[cells]
        columns[name] = vals

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


def _booleans(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(True where the verdict passed, True where it is missing) from bools, 0/1 or None."""
    import numpy as np
    import pandas as pd

    objs = values.to_numpy(dtype=object)
    missing = pd.isna(objs).astype(bool)
    passed = np.zeros(len(objs), dtype=bool)
    passed[~missing] = objs[~missing].astype(bool)
    return passed, missing


def _last_per_cell(col: np.ndarray, row: np.ndarray, order: list[str]) -> dict[str, np.ndarray]:
    """For each column id in ``col`` (-1: none), the indexes of the verdicts it shows: the
    last one written per (column, row)."""
    import numpy as np
    import pandas as pd

    has = np.flatnonzero(col >= 0)
    if not len(has):
        return {}
    cells = pd.DataFrame({"col": col[has], "row": row[has], "at": has})
    cells = cells.drop_duplicates(["col", "row"], keep="last")
    return {order[c]: at.to_numpy() for c, at in cells.groupby("col", sort=False)["at"]}
