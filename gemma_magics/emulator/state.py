"""Everything one emulator instance shares between its request threads."""

from __future__ import annotations

import threading
import time
from typing import Any

from .faults import FaultPlan
from .recording import RequestLog
from .settings import Settings


class State:
    """Settings (current and as constructed), the request log, the fault plan, and the
    stop event that interrupts sleeps and hangs when the server shuts down."""

    def __init__(self, settings: Settings) -> None:
        self.initial = settings
        self.settings = settings
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.draws: dict[tuple[str, str, str], int] = {}  # answer-book draws per question
        self.stop = threading.Event()
        self.last_activity = time.monotonic()
        self.in_flight = 0
        self._lock = threading.Lock()

    def configure(self, **changes: Any) -> Settings:
        """Apply setting changes atomically (readers see the old or the new object)."""
        with self._lock:
            self.settings = self.settings.updated(**changes)
            return self.settings

    def reset(self) -> None:
        """Back to the constructed settings; forget requests and faults."""
        with self._lock:
            self.settings = self.initial
        self.log.clear()
        self.faults.clear()
        self.draws.clear()

    def begin(self) -> None:
        """A request started (it keeps the server from counting as idle)."""
        with self._lock:
            self.in_flight += 1
            self.last_activity = time.monotonic()

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is in flight."""
        with self._lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last_activity

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True if it stopped."""
        if seconds <= 0:
            return self.stop.is_set()
        return self.stop.wait(seconds)
