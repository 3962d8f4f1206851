"""The rows of the fault matrix, collected by the tests and printed by ``conftest.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "fault_matrix.md"
COLUMNS = ("format", "fault", "class", "message the user sees", "retries", "seconds",
           "partial chars", "records")


@dataclass
class Row:
    format: str
    fault: str
    error_class: str
    message: str
    retries: str
    seconds: float
    partial: int
    records: str

    def cells(self) -> list[str]:
        return [self.format, self.fault, self.error_class, self.message, self.retries,
                f"{self.seconds:.2f}", str(self.partial), self.records]


ROWS: list[Row] = []
