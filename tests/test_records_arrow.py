"""history()'s Arrow road gives the very frame the row-by-row road gives (values, dtypes, order)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from gemma_magics.records import arrow_read
from gemma_magics.records.log import Record, RecordLog

pytest.importorskip("pyarrow")
pytest.importorskip("adbc_driver_sqlite")


def plain_frame(log: RecordLog, monkeypatch) -> pd.DataFrame:
    with monkeypatch.context() as m:
        m.setattr(arrow_read, "available", lambda: False)
        return log.dataframe()


def varied_records(n: int) -> list[Record]:
    out = []
    for i in range(n):
        late = i >= n - 3  # columns NULL for more rows than the driver's default batch, then set
        out.append(Record(
            timestamp=f"2026-12-01T10:{i // 60 % 60:02d}:{i % 60:02d}"
                      + ("" if i % 7 else ".25") + "+00:00",
            provider=["local", "openai"][i % 2], model="m", prompt=f"prompt {i} ✓ 🦙",
            response="" if i % 5 == 0 else f"answer {i}", max_tokens=None if i % 3 else 64,
            temperature=None if i % 4 else 0.5, seed=[None, 2**64 - 1, 7][i % 3],
            completion_tokens=i, cost_usd=None if i % 2 else 1e-6 * i,
            status="error" if late else "ok", error="boom" if late else None,
            error_type="ProviderError" if late else None, cached=i % 11 == 0,
            think=[None, True, False][i % 3], reasoning="thought" if late else None,
            finish_reason=None if i % 6 else "stop", retries=i % 2,
        ))
    return out


def test_arrow_frame_equals_row_by_row_frame(tmp_path, monkeypatch):
    log = RecordLog(tmp_path / "log.sqlite")
    log.append_many(varied_records(1500))
    fast = arrow_read.read_calls(log.path)
    assert fast is not None, "the Arrow road was not taken"
    plain = plain_frame(log, monkeypatch)
    pd.testing.assert_frame_equal(log.dataframe(), plain)
    assert plain.loc[1, "seed"] == 2**64 - 1 and plain["think"].dtype == "boolean"
    assert list(plain["error"].dropna()) == ["boom"] * 3
    assert plain["system"].isna().all() and str(plain["provider"].dtype) == "string"


def test_rows_stored_out_of_time_order_come_oldest_first(tmp_path, monkeypatch):
    log = RecordLog(tmp_path / "log.sqlite")
    log.append(Record(timestamp="2026-12-01T10:00:02+00:00", prompt="second"))
    log.append(Record(timestamp="2026-12-01T10:00:01+00:00", prompt="first"))
    fast, plain = log.dataframe(), plain_frame(log, monkeypatch)
    assert list(fast["prompt"]) == ["first", "second"]
    pd.testing.assert_frame_equal(fast, plain)


def test_records_kept_in_memory_join_the_arrow_frame(tmp_path, monkeypatch):
    log = RecordLog(tmp_path / "log.sqlite")
    log.append(Record(timestamp="2026-12-01T10:00:00+00:00", prompt="written"))
    log._pending = [Record(timestamp="2026-12-01T10:00:01+00:00", prompt="kept")]
    assert list(log.dataframe()["prompt"]) == ["written", "kept"]
    assert list(plain_frame(log, monkeypatch)["prompt"]) == ["written", "kept"]


def test_old_logs_naive_times_and_read_only_storage(tmp_path, monkeypatch):
    path = tmp_path / "log.sqlite"
    RecordLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO calls (run_id, timestamp, provider, status, cached) "
                 "VALUES ('a', '2026-01-01T00:00:00.5', 'local', 'ok', 0)")
    conn.commit()
    conn.close()
    path.chmod(0o444)
    log = RecordLog.read_only(path)
    assert arrow_read.read_calls(log.path, immutable=True) is not None
    frame = log.dataframe()
    assert str(frame.loc[0, "timestamp"]) == "2026-01-01 00:00:00.500000+00:00"
    pd.testing.assert_frame_equal(frame, plain_frame(log, monkeypatch))


def test_a_value_that_fits_no_column_falls_back_to_the_row_by_row_road(tmp_path):
    path = tmp_path / "log.sqlite"
    log = RecordLog(path)
    log.append(Record(prompt="fine"))
    log._conn.execute("UPDATE calls SET timestamp = 'not a time'")
    assert arrow_read.read_calls(log.path) is None


def test_memory_logs_read_row_by_row():
    log = RecordLog(":memory:")
    log.append(Record(prompt="here"))
    assert arrow_read.read_calls(log.path) is None
    assert list(log.dataframe()["prompt"]) == ["here"]
