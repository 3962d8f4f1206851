"""A record log damaged mid-file (a disk fault, a copy taken while it was written): found
cheaply, moved aside rather than written into, and said in one line with what to do.

``PRAGMA quick_check`` reads every page, so it runs at open only on small files; on a big
one the damage shows up as SQLITE_CORRUPT on the first read or write, which is caught too.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: Files up to this size are checked when opened (a fraction of a second).
QUICK_CHECK_MAX_BYTES = 32 << 20
_CORRUPT = (getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26))


def is_damage(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT
    return "malformed" in str(exc) or "not a database" in str(exc)


def looks_damaged(conn: sqlite3.Connection, path: str) -> bool:
    """The cheap check at open: only for files small enough to read whole."""
    if path == ":memory:" or Path(path).stat().st_size > QUICK_CHECK_MAX_BYTES:
        return False
    try:
        return conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok"
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return True
        raise


def move_aside(path: str) -> Path:
    """Rename the damaged file (and its WAL and shared-memory files) out of the way."""
    aside = Path(f"{path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(path + suffix)
        if source.exists():
            source.rename(str(aside) + suffix)
    return aside


def explain(path: str, aside: Path) -> str:
    """The one line: what happened, where the old records are, how to get them back."""
    return (f"the record log at {path} was damaged; it was moved to {aside} and a new log "
            f"started there. To recover what is readable: sqlite3 {aside} .recover | "
            f"sqlite3 {path}")
