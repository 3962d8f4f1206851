"""How much of this process's cores other processes have been using, from ``/proc``.

The local model asks before it tries decoding on every core (``local_threads``): when another
process keeps a core busy, a decode step on every core waits for it at each of llama.cpp's
thread barriers and can take seconds, so such a try is only worth making while a core is
free. The figure is the CPU time of the cores this process may run on (its affinity set)
spent outside this process, hypervisor steal included, over a window: Linux's ``/proc/stat``
less this process's own ``/proc/self/stat``. Elsewhere (no ``/proc``) it is unknown (None).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: /proc/stat columns that are busy time: user nice system idle iowait irq softirq steal
#: (guest time is already inside user and nice)
_BUSY = (0, 1, 2, 5, 6, 7)


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


class CpuWatch:
    """Others' busy cores between two snapshots (:meth:`mark`, then :meth:`others_busy`)."""

    def __init__(self, read: Callable[[str], str] = _read,
                 clock: Callable[[], float] = time.monotonic, cpus: set[int] | None = None):
        self._read, self._clock = read, clock
        try:
            self._cpus = {f"cpu{n}" for n in (cpus or os.sched_getaffinity(0))}
            self._tick = os.sysconf("SC_CLK_TCK")
        except (AttributeError, OSError, ValueError):
            self._cpus, self._tick = set(), 100
        self._mark = self._sample()

    def _sample(self) -> tuple[float, int, int] | None:
        """(time, busy ticks of our cores, this process's ticks), or None without /proc."""
        try:
            busy = 0
            for line in self._read("/proc/stat").splitlines():
                name, _, rest = line.partition(" ")
                if name in self._cpus:
                    values = rest.split()
                    busy += sum(int(values[i]) for i in _BUSY if i < len(values))
            own = self._read("/proc/self/stat").rpartition(")")[2].split()
            return self._clock(), busy, int(own[11]) + int(own[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            return None

    def mark(self) -> None:
        """Start a new window now."""
        self._mark = self._sample()

    def others_busy(self) -> float | None:
        """Cores other processes kept busy on average since :meth:`mark` (0 = all free;
        None: unknown here, or too short a window to tell)."""
        now, then = self._sample(), self._mark
        if now is None or then is None:
            return None
        seconds = now[0] - then[0]
        if seconds < 5 / self._tick:  # a few clock ticks: nothing measurable yet
            return None
        return max(0.0, ((now[1] - then[1]) - (now[2] - then[2])) / self._tick / seconds)
