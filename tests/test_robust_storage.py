"""Issue 13 item 2: a log that cannot be written after the answer arrived (disk full, locked
by another process) never throws the answer away: it is returned, shown by history(), kept in
memory and written once the log takes writes again (or saved aside at close).

"Disk full" is SQLite's own SQLITE_FULL, produced for real by capping the log's page count
(``PRAGMA max_page_count``) at its current size: no mock of the connection."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import gemma_magics as gm
from gemma_magics.comparisons.run import compare
from gemma_magics.config import Config
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

TEXT = "alpha beta gamma delta"
PROMPT = "Name a colour. " * 400  # ~6 KB: every record needs fresh pages


@pytest.fixture
def filed(hosted, emu, tmp_path):
    emu.set_text(TEXT)
    session = Session(config=Config(), db_path=tmp_path / "history.sqlite")
    yield session
    session.log.close()


def fill_up(session) -> None:
    """The log's file may grow no further: the next insert fails with SQLITE_FULL."""
    conn = session.log._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def free_up(session) -> None:
    session.log._conn.execute("PRAGMA max_page_count = 1073741823")


def stored_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def test_a_full_disk_keeps_every_answer_and_writes_them_later(filed, tmp_path, caplog):
    caplog.set_level(logging.WARNING, "gemma_magics")
    gm.generate("warm up", "openai", session=filed)
    fill_up(filed)
    answers = [gm.generate(f"{i} {PROMPT}", "openai", session=filed) for i in range(20)]
    assert [a.text for a in answers] == [TEXT] * 20
    assert all(a.record.status == "ok" for a in answers)
    assert len(filed.log.pending) == 20
    assert len(gm.history(session=filed)) == 21  # history() shows the kept ones too
    lines = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(lines) == 1 and "database or disk is full" in lines[0]
    free_up(filed)
    gm.generate("after", "openai", session=filed)
    assert filed.log.pending == []
    assert stored_rows(tmp_path / "history.sqlite") == 22


def test_compare_returns_every_row_under_a_full_disk(filed):
    gm.generate("warm up", "openai", session=filed)
    fill_up(filed)
    frame = compare([f"{i} {PROMPT}" for i in range(10)], providers=["openai"], session=filed)
    assert len(frame) == 10
    assert list(frame["response"]) == [TEXT] * 10
    assert len(filed.log.pending) == 10


def test_what_is_never_written_is_saved_aside_at_close(filed, tmp_path):
    gm.generate("warm up", "openai", session=filed)
    fill_up(filed)
    completion = gm.generate(PROMPT, "openai", session=filed)
    filed.log.close()
    aside = tmp_path / "history.sqlite.unwritten.jsonl"
    rows = [json.loads(line) for line in aside.read_text().splitlines()]
    assert [r["run_id"] for r in rows] == [completion.record.run_id]
    assert rows[0]["response"] == TEXT


def test_a_log_locked_by_another_process_keeps_the_answer(filed, tmp_path):
    path = tmp_path / "history.sqlite"
    gm.generate("warm up", "openai", session=filed)
    filed.log._conn.execute("PRAGMA busy_timeout = 200")  # not the default 5 s wait
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys
            conn = sqlite3.connect({str(path)!r}, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
            conn.execute("ROLLBACK")
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        answers = [gm.generate(f"{i}", "openai", session=filed) for i in range(3)]
        assert [a.text for a in answers] == [TEXT] * 3
        assert len(filed.log.pending) == 3
    finally:
        holder.communicate("go\n", timeout=60)
    gm.generate("after", "openai", session=filed)
    assert filed.log.pending == []
    assert stored_rows(path) == 5
