"""The log of requests the emulator received, with secrets redacted."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

REDACTED = "REDACTED"
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
    "x-auth-key", "cookie",
})


@dataclass
class RecordedRequest:
    """One request as received: ``body`` is the parsed JSON (None if absent or not JSON,
    then ``raw_body`` holds its text), ``headers`` has secrets replaced by "REDACTED",
    ``fault`` labels the fault applied, ``peer`` is the client's "host:port" (one per
    connection, so pooling shows as repeated peers). ``time`` is when the request was read
    and ``finished`` when its answer was written or abandoned (both ``time.time()``, server
    side: from them tests see which requests overlapped and in what order they came)."""

    method: str
    path: str
    query: str = ""
    body: Any = None
    raw_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    finished: float | None = None
    fault: str | None = None
    peer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def redact_headers(items: list[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict, secret values replaced."""
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in items}


class RequestLog:
    """Thread-safe append-only list of :class:`RecordedRequest`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def add(self, item: RecordedRequest) -> RecordedRequest:
        with self._lock:
            self._items.append(item)
        return item

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
