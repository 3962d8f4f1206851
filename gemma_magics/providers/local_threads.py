"""How many threads the local model decodes with, chosen from its own measured decode steps.

llama.cpp's decode is a thread barrier per layer: on an idle machine every core helps (on 2
cores, 2 threads decode ~1.5x faster than 1), but when another process holds a core, the
thread waiting for it stalls every step, and 2 threads ran at a quarter to a half of 1
thread's speed. No fixed count is right for both, so the count follows the machine: decoding
starts on every core, each step is timed, the count with the lowest recent step time is used,
and now and then a few steps try the other count to see if the machine changed (less often
while the answer stays the same). The numbers of threads change how the work is split, not
the arithmetic per value, so the same seed gives the same text at any count
(tests/test_determinism.py, and the benchmark B5′ compares the texts).
``GEMMA_MAGICS_LOCAL_THREADS`` fixes the count and turns this off.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

ALPHA = 0.3  # weight of the newest step in a count's running step time
PROBE_STEPS = 3  # steps spent on the other count when trying it again
FIRST_PROBE = 8  # steps on the first count before the other is tried at all
PROBE_EVERY = (32, 512)  # steps between tries: the first interval, doubling up to the last


def cores() -> int:
    """CPUs this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def fixed_threads() -> int | None:
    """The count set by ``GEMMA_MAGICS_LOCAL_THREADS``, or None when it is not set."""
    explicit = os.environ.get("GEMMA_MAGICS_LOCAL_THREADS")
    return max(1, int(explicit)) if explicit else None


class ThreadChooser:
    """Chooses between every core and one fewer, step by step, from timed decode steps.

    One chooser lives with the loaded model, so what it learned carries over between calls.
    """

    def __init__(self, n_cores: int | None = None, fixed: int | None = None):
        n_cores = n_cores or cores()
        self.fixed = fixed
        self.counts = (fixed,) if fixed else tuple(sorted({n_cores, max(1, n_cores - 1)},
                                                          reverse=True))
        self.step_s: dict[int, float] = {}
        self.current = self.counts[0]
        self._lock = threading.Lock()
        self._steps_on_best = 0
        self._interval = PROBE_EVERY[0]
        self._probe_left = 0
        self._best_before_probe = self.current

    def best(self) -> int:
        known = {n: s for n, s in self.step_s.items() if n in self.counts}
        return min(known, key=known.get) if known else self.counts[0]

    def observe(self, threads: int, seconds: float) -> int:
        """Record that one decode step on ``threads`` took ``seconds``; the count to use next."""
        with self._lock:
            old = self.step_s.get(threads)
            self.step_s[threads] = seconds if old is None else old + ALPHA * (seconds - old)
            if len(self.counts) == 1:
                return self.current
            if self._probe_left:
                self._probe_left -= 1
                if self._probe_left:
                    return self.current
                best = self.best()  # the probe is over: keep the faster count
                self._interval = (min(self._interval * 2, PROBE_EVERY[1])
                                  if best == self._best_before_probe else PROBE_EVERY[0])
                self.current, self._steps_on_best = best, 0
                return best
            self.current = self.best()
            self._steps_on_best += 1
            untried = [n for n in self.counts if n not in self.step_s]
            due = FIRST_PROBE if untried else self._interval
            if self._steps_on_best >= due:
                self._best_before_probe = self.current
                self.current = untried[0] if untried else next(
                    n for n in self.counts if n != self.current)
                self._probe_left = PROBE_STEPS
                self._steps_on_best = 0
            return self.current


def timed_steps(llm: Any, tokens: Iterator[int], chooser: ThreadChooser) -> Iterator[int]:
    """``tokens`` (a ``Llama.generate`` loop), each step timed inside llama.cpp only (not
    while the caller renders a token) and the thread count set between steps. The prompt's
    evaluation (the first step) is not a decode step and is not counted."""
    threads = chooser.current
    llm._ctx.set_n_threads(threads, threads)
    first = True
    while True:
        start = time.perf_counter()
        try:
            token = next(tokens)
        except StopIteration:
            return
        if not first:
            chosen = chooser.observe(threads, time.perf_counter() - start)
            if chosen != threads:
                threads = chosen
                llm._ctx.set_n_threads(threads, threads)
        first = False
        yield token
