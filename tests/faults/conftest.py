"""Fixtures of the fault matrix, and the hook that prints the matrix when the run ends.

Every test of ``test_fault_matrix.py`` adds one :class:`Row`; at the end of the session the
rows are printed as a table in the test log and written to ``test-artifacts/fault_matrix.md``.
"""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
from fault_rows import ARTIFACT, COLUMNS, ROWS, Row


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def matrix_markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_escape(c) for c in row.cells()) + " |")
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    rows = sorted(ROWS, key=lambda r: (r.format, r.fault))
    tried = sum(1 for r in rows if r.records != "-")
    records = sum(int(r.records.split()[0]) for r in rows if r.records[:1].isdigit())
    lost = sum(1 for r in rows if "LOST" in r.records)
    summary = (f"faults tried: {tried} (+ {len(rows) - tried} n/a) · records written: "
               f"{records} · texts lost: {lost}")
    terminalreporter.section("fault matrix")
    terminalreporter.write_line(summary)
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *(r.cells() for r in rows))]
    widths[3] = min(widths[3], 200)

    def line(cells):
        return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths))

    terminalreporter.write_line(line(COLUMNS))
    for row in rows:
        terminalreporter.write_line(line(row.cells()))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(f"# Fault matrix\n\n{summary}\n\n{matrix_markdown(rows)}")
    terminalreporter.write_line(f"(written to {ARTIFACT})")


@pytest.fixture
def refused_url():
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def unaccepting_url():
    """A listening socket that never accepts, its backlog already full: a connect to it
    hangs until the client's connect timeout (a SYN nobody answers)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.05)
    probe = socket.socket()
    probe.settimeout(0.2)
    try:
        probe.connect(("127.0.0.1", port))
        pytest.skip("this kernel accepts connections past a full backlog")
    except TimeoutError:
        pass
    finally:
        probe.close()
    yield f"http://127.0.0.1:{port}"
    for c in fillers:
        c.close()
    server.close()
