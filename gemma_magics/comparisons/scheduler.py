"""Running many calls at once: an event loop in its own thread, a global concurrency limit,
and one adaptive limit per provider.

The loop runs in a dedicated background thread so it works whether or not the calling
thread already runs one (a Jupyter kernel does); the calling thread stays free to render and
to receive Ctrl-C / kernel interrupts, which :meth:`BackgroundJob.cancel` turns into task
cancellation. The loop lives as long as the process, so its pooled HTTP client does too.

Per provider, :class:`ProviderLimiter` caps runs in flight. The local model is serial (one
generation at a time). A rate-limit answer (HTTP 429) halves that provider's limit and holds
its next starts for the server's ``Retry-After`` (or a backoff); each success raises the
limit by one again. Runs waiting for a rate-limited provider hold no global slot, so other
providers keep the whole budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import threading
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from typing import Any

from ..api import CallStream
from ..errors import RateLimitError
from ..events import Done, Retrying
from .budget import BudgetGate, log_skipped
from .gridstate import GridState
from .plan import Run

#: Pause after a 429 that came without a usable Retry-After (seconds; doubles while it lasts).
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0


class ProviderLimiter:
    """Admits at most :attr:`limit` runs of one provider at once, adapting to 429s.

    Waiting runs queue in order and a freed slot is handed to the first of them only: a
    sweep queues thousands of runs here, and waking them all on every release (to let one
    through) cost O(runs) per run, which made a 10,000-run sweep CPU-bound in this class.
    """

    def __init__(self, name: str, max_limit: int):
        self.name = name
        self.max_limit = max(1, int(max_limit))
        self.limit = self.max_limit
        self.active = 0
        self.paused_until = 0.0
        self.rate_limited = 0  # 429s seen
        self._backoff = BACKOFF_START_S
        # futures of the waiting runs, oldest first; a cancelled one stays until it is
        # reached (removing it would scan the queue, once per run on an interrupt)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None  # wakes the queue when a pause ends

    def paused(self) -> float:
        """Seconds until new runs may start (0 when they may start now)."""
        return max(0.0, self.paused_until - time.monotonic())

    async def acquire(self) -> None:
        if not self._waiters and self.active < self.limit and self.paused() <= 0:
            self.active += 1
            return
        slot = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        self._wake()
        try:
            await slot
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():  # handed a slot as it was cancelled
                self.release()
            raise

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand the free slots to the runs waiting longest; during a pause, come back when
        it ends."""
        while self._waiters and self.active < self.limit:
            wait = self.paused()
            if wait > 0:
                if self._timer is None:  # pauses only grow: a later wake re-checks
                    self._timer = asyncio.get_running_loop().call_later(wait, self._resume)
                return
            slot = self._waiters.popleft()
            if slot.done():  # its run was cancelled while waiting
                continue
            self.active += 1
            slot.set_result(None)

    def _resume(self) -> None:
        self._timer = None
        self._wake()

    def throttled(self, retry_after: float | None) -> None:
        """A 429 arrived: halve the limit and pause new starts."""
        self.rate_limited += 1
        self.limit = max(1, min(self.limit, max(self.active, 1)) // 2)
        if retry_after is None or retry_after < 0:  # none given; "0" is the server's word
            retry_after = self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
        self.paused_until = max(self.paused_until, time.monotonic() + retry_after)

    def succeeded(self) -> None:
        """A run finished without a 429: allow one more at once, up to the maximum."""
        self._backoff = BACKOFF_START_S
        if self.limit < self.max_limit and self.paused() <= 0:
            self.limit += 1
            self._wake()


def limits_for(runs: list[Run], concurrency: int,
               per_provider: Mapping[str, int] | None) -> dict[str, ProviderLimiter]:
    """One limiter per provider: serial providers get 1, others ``per_provider`` or the
    global ``concurrency``."""
    chosen = dict(per_provider or {})
    limiters: dict[str, ProviderLimiter] = {}
    for run in runs:
        if run.provider in limiters:
            continue
        cap = int(chosen.get(run.provider, concurrency))
        if getattr(run.call.provider, "serial", False):
            cap = 1
        limiters[run.provider] = ProviderLimiter(run.provider, min(cap, concurrency))
    return limiters


class Scheduler:
    """Runs every not-yet-finished run of a plan, feeding events into a :class:`GridState`."""

    def __init__(self, runs: list[Run], state: GridState, concurrency: int,
                 per_provider: Mapping[str, int] | None = None,
                 budget: BudgetGate | None = None):
        self.runs = runs
        self.budget = budget
        self.state = state
        self.concurrency = concurrency
        self.limiters = limits_for(runs, concurrency, per_provider)
        self._global: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the runs started and not yet ended

    async def main(self) -> None:
        self._global = asyncio.Semaphore(self.concurrency)
        todo = [run for run in self.runs if not run.skipped and not run.refused]
        if any(hasattr(run.call.provider, "transport") for run in todo):
            from ..providers.http_clients import async_client

            await async_client()  # built once here, so the first runs all start together
        queues: dict[str, list[Run]] = {}
        for run in todo:
            queues.setdefault(run.provider, []).append(run)
        # one feeder per provider starts a run's task once it has the provider's slot, so
        # a 10,000-run sweep keeps tens of tasks alive, not 10,000 waiting coroutines
        feeders = [asyncio.create_task(self._feed(runs), name=f"gemma-feed-{name}")
                   for name, runs in queues.items()]
        try:
            if feeders:
                await asyncio.gather(*feeders)
            while self._tasks:
                await asyncio.wait(list(self._tasks))
        finally:
            # on cancellation: stop every run, and wait until each has recorded itself
            pending = [*feeders, *self._tasks]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _feed(self, runs: list[Run]) -> None:
        """Start one provider's runs in order, each once the provider has a slot for it."""
        limiter = self.limiters[runs[0].provider]
        for run in runs:
            await limiter.acquire()
            task = asyncio.create_task(self._run(run), name=f"gemma-run-{run.index}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            # let the run (and the other providers' feeders) take their turn: runs reach
            # the global limit in about the plan's order, not one provider's runs first
            await asyncio.sleep(0)

    async def _acquire(self, limiter: ProviderLimiter) -> None:
        """A global slot for a run that holds a provider slot; give both back if the
        provider got rate limited meanwhile, so a waiting run never blocks other providers,
        and queue for the provider again."""
        held = True
        while True:
            if not held:
                await limiter.acquire()
            held = False
            try:
                await self._global.acquire()
            except BaseException:
                limiter.release()
                raise
            if limiter.paused() <= 0:
                return
            self._global.release()
            limiter.release()

    async def _run(self, run: Run) -> None:
        """One run, started holding its provider's slot (given back when it ends)."""
        if self.budget is None:
            await self._send(run)
            return
        cell = self.state.cells[run.index]
        try:
            reason = await self.budget.admit(run.index)
        except BaseException:
            self.limiters[run.provider].release()
            raise
        if reason is not None:  # over the budget: recorded, never sent
            self.limiters[run.provider].release()
            cell.refuse(log_skipped(run, reason))
            self.state.touch()
            return
        try:
            await self._send(run)
        finally:
            self.budget.settle(run.index, cell.record)
            self.state.touch()

    async def _send(self, run: Run) -> None:
        cell = self.state.cells[run.index]
        limiter = self.limiters[run.provider]
        await self._acquire(limiter)
        stream = CallStream(run.call)
        throttled = False
        try:
            cell.start()
            self.state.touch()
            async for event in stream:
                kind = type(event)
                if kind is Retrying and isinstance(event.error, RateLimitError):
                    throttled = True
                    limiter.throttled(event.wait_s)
                elif kind is Done and isinstance(event.completion.error, RateLimitError):
                    throttled = True  # retries used up: keep the provider slowed down
                    limiter.throttled(event.completion.error.retry_after)
                cell.add(event)
                self.state.touch()
        except asyncio.CancelledError:
            cell.stop(stream.completion)
            self.state.touch()
            raise
        except Exception as exc:  # a bug below CallStream: keep the grid going
            cell.crash(exc)
            self.state.touch()
        finally:
            self._global.release()
            if not throttled:
                limiter.succeeded()
            limiter.release()
            run.call = None  # sent and recorded (the cell holds the record): free the request


class _SharedLoop:
    """One event loop per process, in a daemon thread, shared by every comparison: its HTTP
    client and connection pool outlive a single ``compare()`` call."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="gemma-compare-loop",
                                       daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.loop.is_closed()


_shared: _SharedLoop | None = None
_shared_lock = threading.Lock()


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop (started on first use, again after a fork)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = _SharedLoop()
        return _shared.loop


def pending_tasks() -> int:
    """Tasks still alive on the background loop (0 when every comparison has wound down)."""
    loop = shared_loop()

    async def count() -> int:
        return len(asyncio.all_tasks()) - 1  # minus this one

    return asyncio.run_coroutine_threadsafe(count(), loop).result(5)


class BackgroundJob:
    """Runs one coroutine on the background loop; the calling thread stays free.

    :meth:`cancel` may be called from any thread; the coroutine then sees CancelledError,
    and :attr:`done` is set only once it has finished winding down (every run recorded).
    An exception other than cancellation is kept in :attr:`error`.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any]):
        self._coro = coro
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        self._cancelled = False

    def start(self) -> BackgroundJob:
        self._loop = shared_loop()
        self._loop.call_soon_threadsafe(self._begin)
        self._ready.wait()
        return self

    def _begin(self) -> None:
        self._task = self._loop.create_task(self._coro, name="gemma-compare")
        self._task.add_done_callback(self._ended)
        if self._cancelled:  # cancel() came before the task existed
            self._task.cancel()
        self._ready.set()

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()  # handed to the calling thread
        if inspect.getcoroutinestate(self._coro) == inspect.CORO_CREATED:
            self._coro.close()  # cancelled before its first step: not "never awaited"
        self.done.set()

    def cancel(self) -> None:
        self._cancelled = True
        if self._task is None or self.done.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._task.cancel)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the coroutine to finish; True if it did."""
        return self.done.wait(timeout)
