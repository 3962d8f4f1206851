"""The record of one call, the SQLite log that keeps every record, and its DataFrame view."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..safe_text import well_formed
from . import damage

if TYPE_CHECKING:  # pandas loads only when history() is called
    import pandas as pd

log = logging.getLogger("gemma_magics")

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_INTERRUPTED = "interrupted"
STATUS_SKIPPED = "skipped"  # never sent (budget, context window); resume runs it
READ_ONLY = "opened read-only"  # why a log opened by RecordLog.read_only is not written


@dataclass(slots=True)  # 10,000 of them in a sweep: no per-instance dict
class Record:
    """One call, good or failed. Metric definitions: see README "Record columns"."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    provider: str = ""
    model: str = ""
    prompt: str = ""
    system: str | None = None
    response: str = ""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: str | None = None  # JSON list
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    usage_source: str | None = None  # provider | counted | estimated
    ttft_s: float | None = None
    latency_s: float | None = None
    tokens_per_s: float | None = None  # decode rate: completion_tokens / (latency - ttft)
    e2e_tokens_per_s: float | None = None  # completion_tokens / latency
    cost_usd: float | None = None
    billed_cost_usd: float | None = None  # what the provider reported it billed, if it did
    finish_reason: str | None = None
    status: str = STATUS_OK  # ok | error | interrupted | skipped
    error: str | None = None
    error_type: str | None = None
    retries: int = 0
    cached: bool = False
    variant: str | None = None
    request_key: str | None = None
    tool_calls: str | None = None  # JSON list of {name, arguments}
    extra: str | None = None  # JSON object: features used (json schema, images, chat, raw...)
    think: bool | None = None  # the thinking switch sent (None: the model has none)
    reasoning: str | None = None  # the model's thinking, kept apart from ``response``
    reasoning_tokens: int | None = None  # of completion_tokens, those spent thinking
    ttfr_s: float | None = None  # time to the first reasoning token

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))
_INT_COLUMNS = ("max_tokens", "top_k", "prompt_tokens", "completion_tokens", "total_tokens",
                "retries", "reasoning_tokens")
_FLOAT_COLUMNS = ("temperature", "top_p", "repetition_penalty", "frequency_penalty",
                  "presence_penalty", "ttft_s", "latency_s", "tokens_per_s", "e2e_tokens_per_s",
                  "cost_usd", "ttfr_s", "billed_cost_usd")
_SQL_TYPES = {
    **{c: "INTEGER" for c in _INT_COLUMNS},
    **{c: "REAL" for c in _FLOAT_COLUMNS},
    "seed": "TEXT",  # seeds reach 2**64, beyond SQLite's INTEGER
    "cached": "INTEGER",
    "think": "INTEGER",
}


def request_key(**parts: Any) -> str:
    """A stable hash of everything that determines an answer (for resume and the cache)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _sql_value(value: Any) -> Any:
    if isinstance(value, str):
        return well_formed(value)  # SQLite stores UTF-8: a lone surrogate would raise
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return int(value)
    return value


_SEED_INDEX = COLUMNS.index("seed")


def _sql_row(record: Record) -> tuple:
    row = [_sql_value(getattr(record, c)) for c in COLUMNS]
    if row[_SEED_INDEX] is not None:
        row[_SEED_INDEX] = str(row[_SEED_INDEX])
    return tuple(row)


class RecordLog:
    """An append-only SQLite log of records (WAL mode, one commit per record).

    ``path`` may be ``":memory:"``. Safe to share between threads.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.RLock()
        self._pending: list[Record] = []  # records an unwritable log could not take yet
        self._unwritable: str | None = None
        try:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                self.path = str(Path(self.path).expanduser())
            self._connect()
            if damage.looks_damaged(self._conn, self.path):
                self._set_aside(writing=True)
        except (OSError, sqlite3.Error) as exc:
            from ..errors import ConfigError

            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"cannot keep the record log at {self.path}: {reason}",
                fix="set GEMMA_MAGICS_DB (or %config GemmaMagics.db_path) to a writable file, "
                    "or ':memory:'",
            ) from None
        self._insert = (
            f"INSERT OR REPLACE INTO calls ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in COLUMNS)})"
        )

    @classmethod
    def read_only(cls, path: str | Path) -> RecordLog:
        """The log opened for reading only (read-only storage: ``history()`` still works)."""
        self = cls.__new__(cls)
        self.path = str(Path(path).expanduser())
        self._lock = threading.RLock()
        self._pending, self._unwritable = [], READ_ONLY
        uri = Path(self.path).resolve().as_uri() + "?mode=ro&immutable=1"
        try:
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()
        except sqlite3.Error as exc:
            from ..errors import ConfigError

            raise ConfigError(f"cannot read the record log at {self.path}: {exc}") from None
        return self

    def _connect(self) -> None:
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._create()

    def _set_aside(self, *, writing: bool) -> str:
        """Move a damaged log aside and start a new one; the line that says so."""
        self._conn.close()
        message = damage.explain(self.path, damage.move_aside(self.path))
        self._connect()
        if writing:  # an answer is being kept: say it, do not raise
            log.warning("%s", message)
        return message

    @contextlib.contextmanager
    def _reading(self):
        """A read; a damaged log found here is moved aside, and the read fails in one line."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as exc:
                if not damage.is_damage(exc):
                    raise
                from ..errors import ConfigError

                raise ConfigError(self._set_aside(writing=False),
                                  fix="run it again to use the new log") from None

    def _create(self) -> None:
        cols = ", ".join(f"{c} {_SQL_TYPES.get(c, 'TEXT')}" for c in COLUMNS)
        with self._lock:
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS calls ({cols}, PRIMARY KEY (run_id))")
            have = {row[1] for row in self._conn.execute("PRAGMA table_info(calls)")}
            for c in COLUMNS:
                if c not in have:  # a log written by an older version
                    self._conn.execute(f"ALTER TABLE calls ADD COLUMN {c} {_SQL_TYPES.get(c, 'TEXT')}")
            self._conn.execute("CREATE INDEX IF NOT EXISTS calls_key ON calls (request_key)")

    def append(self, record: Record) -> None:
        """Write one record. Never raises: a log that cannot be written (disk full, locked
        by another process) keeps the record in memory, says so once, and writes it with
        the next record that gets through (or :meth:`close` puts it in a fallback file)."""
        self.append_many([record])

    def append_many(self, records: list[Record]) -> None:
        with self._lock:
            waiting = [*self._pending, *records]
            try:
                try:
                    self._write(waiting)
                except sqlite3.DatabaseError as exc:
                    if not damage.is_damage(exc):
                        raise
                    self._set_aside(writing=True)  # never write into a damaged file
                    self._write(waiting)
            except (sqlite3.Error, OSError) as exc:
                self._pending = waiting
                self._say_unwritable(exc)
                return
            if self._pending:
                log.warning("the record log at %s is writable again: %d kept record(s) "
                            "written", self.path, len(self._pending))
            self._pending = []
            self._unwritable = None

    def _write(self, records: list[Record]) -> None:
        rows = [_sql_row(r) for r in records]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(self._insert, rows)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _say_unwritable(self, exc: BaseException) -> None:
        reason = getattr(exc, "strerror", None) or str(exc)
        if self._unwritable != reason:  # once per cause, not once per record
            self._unwritable = reason
            log.warning("the record log at %s cannot be written (%s): answers are kept in "
                        "memory (history() shows them) and written when it is writable again",
                        self.path, reason)

    @property
    def pending(self) -> list[Record]:
        """Records not yet written (the log was unwritable when they arrived)."""
        with self._lock:
            return list(self._pending)

    def __len__(self) -> int:
        with self._reading():
            return self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] + len(
                self._pending)

    def find(self, key: str, *, status: str = STATUS_OK) -> Record | None:
        """The latest record with this ``request_key`` and status (None if there is none)."""
        with self._reading():
            cur = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM calls WHERE request_key = ? AND status = ? "
                "ORDER BY timestamp DESC LIMIT 1",
                (key, status),
            )
            row = cur.fetchone()
            kept = [r for r in self._pending if r.request_key == key and r.status == status]
        found = None if row is None else _record_from_row(row)
        if kept and (found is None or kept[-1].timestamp >= found.timestamp):
            return kept[-1]
        return found

    def keys(self, status: str = STATUS_OK) -> set[str]:
        with self._reading():
            rows = self._conn.execute(
                "SELECT DISTINCT request_key FROM calls WHERE status = ? AND request_key IS NOT NULL",
                (status,),
            ).fetchall()
            kept = {r.request_key for r in self._pending if r.status == status and r.request_key}
        return {r[0] for r in rows} | kept

    def records(self) -> list[Record]:
        with self._reading():
            rows = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM calls ORDER BY timestamp"
            ).fetchall()
            kept = list(self._pending)
        records = [_record_from_row(r) for r in rows]
        return sorted([*records, *kept], key=lambda r: r.timestamp) if kept else records

    def delete(self, *, cached_only: bool = False) -> int:
        """Delete all records (or only those served from the cache); returns how many."""
        where = " WHERE cached = 1" if cached_only else ""
        with self._reading():
            return self._conn.execute(f"DELETE FROM calls{where}").rowcount

    def dataframe(self) -> pd.DataFrame:
        import pandas as pd

        from . import arrow_read

        # Rows come in storage order (no ORDER BY: SQLite would sort every row, text and
        # all, through its sorter); the stable sort by timestamp afterwards takes milliseconds
        # and is skipped when storage order is already time order (the usual case).
        with self._reading():
            frame = arrow_read.read_calls(self.path, immutable=self._unwritable == READ_ONLY)
            if frame is None:  # no Arrow extra, or a log it cannot read: row by row
                rows = self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM calls").fetchall()
                rows += [_sql_row(r) for r in self._pending]
                frame = to_dataframe(pd.DataFrame.from_records(rows, columns=list(COLUMNS)))
            elif self._pending:
                frame = pd.concat([frame, to_dataframe(list(self._pending))], ignore_index=True)
        if frame["timestamp"].is_monotonic_increasing:
            return frame
        return frame.sort_values("timestamp", kind="stable", ignore_index=True)

    def close(self) -> None:
        """Close the log; records it could not take are tried once more, then saved next to
        it as JSON lines (``<log>.unwritten.jsonl``) so nothing is lost with the process."""
        with self._lock:
            if self._pending:
                try:
                    self._write(self._pending)
                    self._pending = []
                except (sqlite3.Error, OSError):
                    self._save_aside()
            self._conn.close()

    def _save_aside(self) -> None:
        if self.path == ":memory:":
            return
        aside = Path(self.path + ".unwritten.jsonl")
        try:
            with aside.open("a", encoding="utf-8", errors="replace") as out:
                for record in self._pending:
                    out.write(json.dumps(record.as_row(), default=str) + "\n")
        except OSError as exc:
            log.warning("%d record(s) could not be written to %s nor to %s (%s): they are "
                        "lost with this session", len(self._pending), self.path, aside,
                        exc.strerror)
            return
        log.warning("%d record(s) the log at %s could not take were saved to %s",
                    len(self._pending), self.path, aside)
        self._pending = []


def _record_from_row(row: tuple) -> Record:
    values = dict(zip(COLUMNS, row))
    values["cached"] = bool(values["cached"])
    if values["think"] is not None:
        values["think"] = bool(values["think"])
    if values["seed"] is not None:
        values["seed"] = int(values["seed"])
    return Record(**values)


def to_dataframe(data: pd.DataFrame | list[Record]) -> pd.DataFrame:
    """Records (or a raw frame of them) as a DataFrame with proper dtypes."""
    import pandas as pd

    # column by column: a dict per record (asdict) made a 10,000-run comparison's frame
    # the peak of its memory
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(
        {c: [getattr(r, c) for r in data] for c in COLUMNS}, columns=list(COLUMNS)
    )
    frame = frame.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    for col in _INT_COLUMNS:
        frame[col] = pd.to_numeric(frame[col]).astype("Int64")
    frame["seed"] = pd.Series(  # object dtype: seeds reach 2**64, past int64 and float precision
        [None if v is None or v != v else int(v) for v in frame["seed"]],
        index=frame.index,
        dtype=object,
    )
    for col in _FLOAT_COLUMNS:
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    frame["cached"] = frame["cached"].fillna(False).astype(bool)
    frame["think"] = frame["think"].astype("boolean")
    for col in ("provider", "model", "usage_source", "status", "finish_reason"):
        frame[col] = frame[col].astype("string")
    return frame
