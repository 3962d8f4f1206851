"""Issue 13 item 7: a log damaged mid-file is found (at open when small, on the first read
or write error when big), moved aside rather than written into, and said in one line with
what to do; history() works from read-only storage."""

from __future__ import annotations

import logging
import sqlite3
import subprocess

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.records import damage
from gemma_magics.records.log import Record, RecordLog
from gemma_magics.session import Session

SECRET_PROMPT = "a stored prompt that must not be quoted in an error"


def damaged_log(path, where: str = "middle") -> None:
    """300 records, then two pages overwritten: mid-file, or the table's root page (which
    every insert goes through)."""
    log = RecordLog(path)
    log.append_many([Record(prompt=f"{SECRET_PROMPT} {i} " + "x" * 2000) for i in range(300)])
    log.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'calls'").fetchone()[0]
    raw = bytearray(path.read_bytes())
    start = (root - 1) * size if where == "root" else len(raw) // 2 // size * size
    raw[start:start + 2 * size] = b"\xde\xad\xbe\xef" * (size // 2)
    path.write_bytes(bytes(raw))


def aside_files(tmp_path):
    return sorted(p.name for p in tmp_path.glob("history.sqlite.damaged-*"))


def test_a_small_damaged_log_is_moved_aside_at_open(tmp_path, caplog):
    path = tmp_path / "history.sqlite"
    damaged_log(path)
    caplog.set_level(logging.WARNING, "gemma_magics")
    log = RecordLog(path)
    assert len(log) == 0  # a new log
    assert aside_files(tmp_path)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "was damaged" in lines[0] and ".recover" in lines[0]
    log.append(Record(prompt="new"))
    assert len(log) == 1


@pytest.mark.parametrize("first", ["read", "write"])
def test_a_big_damaged_log_is_moved_aside_on_first_error(first, tmp_path, monkeypatch):
    monkeypatch.setattr(damage, "QUICK_CHECK_MAX_BYTES", 0)  # as if the file were big
    path = tmp_path / "history.sqlite"
    damaged_log(path, "middle" if first == "read" else "root")
    session = Session(db_path=path)
    if first == "read":
        with pytest.raises(errors.ConfigError) as caught:
            gm.history(session=session)
        message = str(caught.value)
        assert "was damaged" in message and SECRET_PROMPT not in message
        assert len(message.splitlines()) == 1
        assert len(gm.history(session=session)) == 0  # then the new log works
    else:
        session.log.append(Record(prompt="new"))
        assert [r.prompt for r in session.log.records()] == ["new"]  # in the new log
    assert aside_files(tmp_path)
    session.log.close()


def test_history_reads_a_log_on_read_only_storage(tmp_path):
    source, mounted = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    mounted.mkdir()
    log = RecordLog(source / "history.sqlite")
    log.append_many([Record(prompt=f"p{i}") for i in range(5)])
    log.close()
    bind = subprocess.run(["mount", "--bind", str(source), str(mounted)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip("no bind mount here (needs root)")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(mounted)])
        assert remount.returncode == 0
        session = Session(db_path=mounted / "history.sqlite")
        frame = gm.history(session=session)
        assert list(frame["prompt"]) == [f"p{i}" for i in range(5)]
    finally:
        subprocess.run(["umount", "--lazy", str(mounted)])  # the reader may still hold it
