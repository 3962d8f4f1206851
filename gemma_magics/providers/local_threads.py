"""How many threads the local model decodes with, chosen from its own measured decode steps.

llama.cpp's decode is a thread barrier per layer: on an idle machine every core helps (on 2
cores, 2 threads decode ~1.5x faster than 1), but when another process holds a core, the
thread waiting for it stalls every step: 2 threads ran at a quarter to a half of 1 thread's
speed, single steps took seconds. No fixed count is right for both, so the count follows the
machine. Each decode step is timed, and the count with the lowest recent step time is used;
the count settled on carries over to the next call (one chooser lives with the loaded model).
Now and then a few steps try the other count to see if the machine changed, less often while
the answer stays the same. The risk is lopsided (one fewer thread costs a third when the
machine is idle, every core can cost ten times under load), so:

- every core is tried only while one is free (others' CPU use on this process's cores,
  :mod:`~gemma_magics.providers.cpu_load`); the first call starts on one fewer when others
  kept a core busy while the model loaded;
- the first step of a try is a warm-up (the threads wake), and a try ends after it when that
  step was already far slower than the count it would replace;
- a try starts from a fresh figure for its count (not one from minutes ago), and a switch
  forced by a stalled step is checked back soon, since one stall may have been a blip.

The numbers of threads change how the work is split, not the arithmetic per value, so the
same seed gives the same text at any count (tests/test_determinism.py, and the benchmark B5′
compares the texts). ``GEMMA_MAGICS_LOCAL_THREADS`` fixes the count and turns this off.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .cpu_load import CpuWatch

ALPHA = 0.3  # weight of the newest step in a count's running step time
PROBE_STEPS = 3  # steps spent on the other count when trying it: a warm-up, then two timed
GIVE_UP = 3.0  # a try ends after its warm-up when that step took this many times the best's
FIRST_PROBE = 8  # steps on the first count before the other is tried at all
RECHECK = 8  # steps after a stall moved to the other count before trying back
PROBE_EVERY = (32, 512)  # steps between tries: the first interval, doubling up to the last
WINDOW = 16  # steps per window of others' CPU use (the busy figure covers 1-2 windows)
FREE = 0.5  # others' busy cores under which one counts as free (every core may be tried)


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
    ``others_busy`` says how many cores other processes kept busy lately (None: unknown);
    by default it is read from ``/proc`` (:class:`~gemma_magics.providers.cpu_load.CpuWatch`).
    """

    def __init__(self, n_cores: int | None = None, fixed: int | None = None,
                 others_busy: Callable[[], float | None] | None = None):
        n_cores = n_cores or cores()
        self.fixed = fixed
        self.counts = (fixed,) if fixed else tuple(sorted({n_cores, max(1, n_cores - 1)},
                                                          reverse=True))
        self.step_s: dict[int, float] = {}
        self.current = self.counts[0]
        self.tries = self.skipped = 0  # tries of the other count made / put off (no free core)
        self._lock = threading.Lock()
        self._steps_on_best = 0
        self._interval = PROBE_EVERY[0]
        self._probe_left = 0
        self._home = self.current  # the count a try would hand back to
        self._steps = 0
        self._watch = self._last_window = None
        if others_busy is None and len(self.counts) > 1:
            self._watch = CpuWatch()  # from now: the model's load is the first window
            others_busy = self._watched_busy
        self._others_busy = others_busy or (lambda: None)

    def _watched_busy(self) -> float | None:
        """Others' busy cores in the last whole window and in the one under way (since the
        last call ended, when it starts a call), the larger: a try on every core risks much
        more than it gains, so either window's load puts it off."""
        figures = [f for f in (self._last_window, self._watch.others_busy()) if f is not None]
        return max(figures) if figures else None

    def best(self) -> int:
        known = {n: s for n, s in self.step_s.items() if n in self.counts}
        return min(known, key=known.get) if known else self.counts[0]

    def _core_free(self) -> bool:
        busy = self._others_busy()
        return busy is None or busy < FREE

    def start(self) -> int:
        """The count a call starts decoding with: the one the last call settled on (a try
        left unfinished is dropped); on the first call one fewer than every core when other
        processes kept a core busy since the model began loading."""
        with self._lock:
            if self._probe_left:
                self._probe_left, self.current = 0, self._home
            if not self.step_s and len(self.counts) > 1 and not self._core_free():
                self.current = self.counts[1]
            return self.current

    def _window(self) -> None:
        """Every WINDOW steps: the busy figure of the window that just ended, a new window."""
        self._steps += 1
        if self._watch is not None and self._steps % WINDOW == 0:
            self._last_window = self._watch.others_busy()
            self._watch.mark()

    def observe(self, threads: int, seconds: float) -> int:
        """Record that one decode step on ``threads`` took ``seconds``; the count to use next."""
        with self._lock:
            self._window()
            if self._probe_left:
                return self._probing(threads, seconds)
            old = self.step_s.get(threads)
            self.step_s[threads] = seconds if old is None else old + ALPHA * (seconds - old)
            if len(self.counts) == 1:
                return self.current
            best = self.best()
            if best != self.current:  # this count stalled: the other is faster on record
                self.current, self._steps_on_best = best, 0
                self._interval = RECHECK  # try back soon: the stall may have been a blip
                return best
            self._steps_on_best += 1
            untried = [n for n in self.counts if n not in self.step_s]
            if self._steps_on_best < (FIRST_PROBE if untried else self._interval):
                return self.current
            other = untried[0] if untried else next(n for n in self.counts if n != self.current)
            self._steps_on_best = 0
            if other > self.current and not self._core_free():
                self.skipped += 1  # every core would wait for the busy one: not now
                return self.current
            self._home, self.current = self.current, other
            self._probe_left = PROBE_STEPS
            self.tries += 1
            return other

    def _probing(self, threads: int, seconds: float) -> int:
        self._probe_left -= 1
        home = self.step_s.get(self._home)
        if self._probe_left == PROBE_STEPS - 1:  # the warm-up step: not a fair figure
            if home is None or seconds < GIVE_UP * home:
                return self.current
            self.step_s[threads] = seconds  # far slower even so: the try is over
            self._probe_left = 0
        elif self._probe_left == PROBE_STEPS - 2 or threads not in self.step_s:
            self.step_s[threads] = seconds  # a fresh figure, not one from long ago
        else:
            self.step_s[threads] += ALPHA * (seconds - self.step_s[threads])
        if self._probe_left:
            return self.current
        best = self.best()  # the try is over: keep the faster count
        self._interval = (min(max(self._interval, PROBE_EVERY[0]) * 2, PROBE_EVERY[1])
                          if best == self._home else PROBE_EVERY[0])
        self.current, self._steps_on_best = best, 0
        return best


def timed_steps(llm: Any, tokens: Iterator[int], chooser: ThreadChooser) -> Iterator[int]:
    """``tokens`` (a ``Llama.generate`` loop), each step timed inside llama.cpp only (not
    while the caller renders a token) and the thread count set between steps. The prompt's
    evaluation (the first step) is not a decode step and is not counted."""
    threads = chooser.start()
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
