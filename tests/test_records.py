"""The SQLite log: one row per call, proper dtypes, survives reopening."""

from __future__ import annotations

import math

from gemma_magics.records.log import COLUMNS, Record, RecordLog, request_key


def test_required_columns_present():
    required = ["run_id", "timestamp", "provider", "model", "prompt", "system", "response", "max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty", "frequency_penalty", "presence_penalty", "prompt_tokens", "completion_tokens", "total_tokens", "usage_source", "ttft_s", "latency_s", "tokens_per_s", "cost_usd", "finish_reason", "status", "error"]
    assert set(required) <= set(COLUMNS)


def test_round_trip_with_dtypes(tmp_path):
    path = tmp_path / "log.sqlite"
    log = RecordLog(path)
    log.append(Record(provider="local", model="m", prompt="p", response="r", completion_tokens=3,
                      temperature=0.5, seed=2**63 + 5, cost_usd=math.nan, status="ok"))
    log.append(Record(provider="x", model="m", status="error", error="boom"))
    log.close()
    frame = RecordLog(path).dataframe()
    assert len(frame) == 2
    assert str(frame["timestamp"].dtype).startswith("datetime64")
    assert str(frame["completion_tokens"].dtype) == "Int64"
    assert frame["temperature"].dtype == "float64"
    assert frame.loc[0, "seed"] == 2**63 + 5
    assert math.isnan(frame.loc[0, "cost_usd"])
    assert list(frame["status"]) == ["ok", "error"]


def test_wal_mode_and_keys(tmp_path):
    log = RecordLog(tmp_path / "log.sqlite")
    assert log._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    key = request_key(prompt="a", params={"t": 1})
    assert key == request_key(params={"t": 1}, prompt="a")
    log.append(Record(request_key=key))
    assert log.keys() == {key}
    assert log.find(key) is not None
