"""history()'s fast read: the ``calls`` table straight into Arrow columns, then pandas.

The plain road (``sqlite3`` rows into :func:`pandas.DataFrame.from_records`) builds a Python
object for every value of every row, which is most of the time a large history takes. With the
optional ``arrow`` extra (``pip install gemma_magics[arrow]``: ``pyarrow`` and
``adbc-driver-sqlite``) SQLite's values go into Arrow buffers in C and from there into the same
typed columns (nullable ``Int64``, ``float64``, ``boolean``, Arrow-backed strings) with no Python
object per value (benchmark B6′). Without the extra, or whenever this road fails (an old or odd
log, a damaged file), :meth:`RecordLog.dataframe` takes the plain road, which also explains
damage in one line. Nothing here is imported before ``history()`` is called.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .log import _FLOAT_COLUMNS, _INT_COLUMNS, COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger("gemma_magics")

#: Columns shown with pandas' ``string`` dtype (few distinct values, compared and grouped by).
STRING_COLUMNS = ("provider", "model", "usage_source", "status", "finish_reason")
#: SQLite infers nothing: the ADBC driver types each column from the rows of a batch, so a
#: batch holds every row (a column NULL in its first rows and text later would fail otherwise).
_ALL_ROWS = str(2**30)  # a billion rows; the driver takes no more than a C int


def available() -> bool:
    """Whether the ``arrow`` extra is installed (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("pyarrow", "adbc_driver_sqlite"))


def read_calls(path: str, *, immutable: bool = False) -> pd.DataFrame | None:
    """Every row of ``calls`` in the SQLite file at ``path`` as the typed frame
    :func:`~gemma_magics.records.log.to_dataframe` makes, in storage order; None when this
    road cannot be taken (the extra is absent, the log is in memory or empty, a value does not
    fit its column), and the caller reads the plain way."""
    table = read_table(path, f"SELECT {', '.join(COLUMNS)} FROM calls", immutable=immutable)
    if table is None or table.num_rows == 0:
        return None
    try:
        return _frame(table)
    except Exception as exc:  # any failure here only costs speed: the plain road decides
        log.debug("history(): the Arrow read of %s failed (%s); reading row by row", path, exc)
        return None


def read_table(path: str, sql: str, *, immutable: bool = False) -> pa.Table | None:
    """The result of ``sql`` on the SQLite file at ``path`` as an Arrow table; None when this
    road cannot be taken (the extra is absent, the log is in memory, a value does not fit
    its column) and the caller reads through ``sqlite3``."""
    if path == ":memory:" or not available():
        return None
    try:
        return _fetch(path, sql, immutable=immutable)
    except Exception as exc:  # any failure here only costs speed: the plain road decides
        log.debug("history(): the Arrow read of %s failed (%s); reading row by row", path, exc)
        return None


def _fetch(path: str, sql: str, *, immutable: bool) -> pa.Table:
    import adbc_driver_sqlite.dbapi

    uri = Path(path).resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    with adbc_driver_sqlite.dbapi.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _ALL_ROWS})
        cur.execute(sql)
        return cur.fetch_arrow_table()


def _frame(table: pa.Table) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    columns: dict[str, object] = {}
    for name in COLUMNS:
        col = table.column(name)
        if name == "timestamp":
            columns[name] = _timestamps(col)
        elif name in _INT_COLUMNS:
            columns[name] = pc.cast(col, pa.int64()).to_pandas(types_mapper=nullable)
        elif name in _FLOAT_COLUMNS:
            columns[name] = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        elif name == "cached":
            columns[name] = pc.cast(col.fill_null(0), pa.bool_()).to_numpy(zero_copy_only=False)
        elif name == "think":
            columns[name] = pc.cast(col, pa.bool_()).to_pandas(types_mapper=nullable)
        elif name == "seed":  # object: seeds reach 2**64, past int64 and float precision
            columns[name] = pd.array([None if v is None else int(v)
                                      for v in pc.cast(col, pa.string()).to_pylist()],
                                     dtype=object)
        elif name in STRING_COLUMNS:
            columns[name] = pc.cast(col, pa.string()).to_pandas(
                types_mapper={pa.string(): pd.StringDtype()}.get)
        elif col.null_count == len(col):  # as the plain road shows a column never filled
            columns[name] = pd.array([None] * len(col), dtype=object)
        else:
            columns[name] = pc.cast(col, pa.string()).to_pandas()
    return pd.DataFrame({name: _values(v) for name, v in columns.items()}, copy=False)


def _timestamps(col: pa.ChunkedArray):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # the records' own ISO 8601 with an offset: parsed in C
        return pc.cast(col, pa.timestamp("us", tz="UTC")).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. a naive time in an old log
        return pd.to_datetime(pc.cast(col, pa.string()).to_pandas(), utc=True, format="ISO8601")


def _values(value):
    """A column's values without its own index (every column gets the frame's RangeIndex)."""
    import pandas as pd

    return value.array if isinstance(value, pd.Series) else value
