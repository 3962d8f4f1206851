"""The per-provider limiter hands a freed slot to one waiting run, in order.

A 10,000-run sweep queues almost every run in its provider's limiter. It used to wake every
waiting run on each release so that one could go. That is O(runs) work per run, and it made
the sweep CPU-bound in the limiter (benchmarks/b8_sweep.py). These tests count the wake-ups
on a real event loop: a loop subclass counts the callbacks it schedules.
"""

from __future__ import annotations

import asyncio

from gemma_magics.comparisons.scheduler import ProviderLimiter


class CountingLoop(asyncio.SelectorEventLoop):
    """An ordinary event loop that counts the callbacks scheduled on it."""

    scheduled = 0

    def call_soon(self, callback, *args, context=None):
        self.scheduled += 1
        return super().call_soon(callback, *args, context=context)


def run(coro_fn):
    loop = CountingLoop()
    try:
        return loop.run_until_complete(coro_fn(loop))
    finally:
        loop.close()


def test_a_release_wakes_one_waiting_run_not_all_of_them():
    async def main(loop):
        limiter = ProviderLimiter("p", 4)
        got: list[int] = []

        async def one(i: int) -> None:
            await limiter.acquire()
            got.append(i)

        tasks = [asyncio.create_task(one(i)) for i in range(500)]
        await asyncio.sleep(0)  # every task ran up to its wait: 4 hold slots, 496 queue
        assert limiter.active == 4 and got == [0, 1, 2, 3]
        before = loop.scheduled
        for _ in range(20):
            limiter.release()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        woken = loop.scheduled - before
        assert got == list(range(24))  # first come, first served
        # one wake-up (and a few callbacks) per released slot; waking all 496 queued
        # runs on each release would schedule thousands
        assert woken < 20 * 10, woken
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    run(main)


def test_cancelled_waiters_never_keep_a_slot():
    async def main(loop):
        limiter = ProviderLimiter("p", 1)
        await limiter.acquire()
        waiting = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # cancelled while queued: skipped
        limiter.release()  # handed to waiting[1]...
        waiting[1].cancel()  # ...which is cancelled before it resumes: gives it back
        await asyncio.gather(*waiting[:2], return_exceptions=True)
        await waiting[2]  # so the third gets it
        assert limiter.active == 1
        limiter.release()
        assert limiter.active == 0

    run(main)


def test_queued_runs_wait_out_a_rate_limit_pause_then_start():
    async def main(loop):
        limiter = ProviderLimiter("p", 2)
        await limiter.acquire()
        await limiter.acquire()
        waiting = [asyncio.create_task(limiter.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        limiter.throttled(0.05)  # a 429: limit halves to 1, starts pause for 50 ms
        limiter.release()
        limiter.release()
        await asyncio.sleep(0.01)
        assert not any(t.done() for t in waiting)  # paused
        await asyncio.wait_for(waiting[0], 2)  # the pause ended: the first goes
        await asyncio.sleep(0.01)
        assert not waiting[1].done() and limiter.active == 1  # the halved limit holds
        limiter.succeeded()  # a success raises the limit again: the second goes
        await asyncio.wait_for(waiting[1], 2)
        assert limiter.active == 2

    run(main)
