"""The local model's decode thread count follows its measured steps (step times, and how busy
other processes keep the cores, given here: the real figures would make the tests depend on
the machine's load)."""

from __future__ import annotations

import pytest

from gemma_magics.providers import local, local_threads
from gemma_magics.providers.cpu_load import CpuWatch
from gemma_magics.providers.local_threads import (
    GIVE_UP,
    PROBE_EVERY,
    PROBE_STEPS,
    RECHECK,
    ThreadChooser,
)

IDLE = lambda: 0.0  # noqa: E731 (others keep no core busy)


def decode(chooser: ThreadChooser, step_s: dict[int, float], steps: int) -> list[int]:
    """Feed ``steps`` decode steps whose time depends on the count used; the counts used."""
    used = []
    for _ in range(steps):
        threads = chooser.current
        used.append(threads)
        chooser.observe(threads, step_s[threads])
    return used


def test_idle_machine_stays_on_every_core_and_tries_the_other_less_often():
    chooser = ThreadChooser(n_cores=2, others_busy=IDLE)
    used = decode(chooser, {2: 0.020, 1: 0.030}, 1000)
    assert used[0] == 2 and chooser.current == 2
    assert used.count(1) < 0.03 * len(used)  # a few probes, fewer as the answer holds
    assert chooser._interval == PROBE_EVERY[1]


def test_a_busy_core_moves_decoding_to_one_fewer_thread_and_back_when_it_frees():
    load = [1.0]  # another process keeps one core busy
    chooser = ThreadChooser(n_cores=2, others_busy=lambda: load[0])
    busy = decode(chooser, {2: 0.200, 1: 0.040}, 200)
    assert chooser.current == 1 and busy[-150:].count(2) == 0  # every core not tried again
    assert chooser.skipped > 0
    load[0] = 0.0
    idle = decode(chooser, {2: 0.020, 1: 0.040}, 2000)
    assert idle[:RECHECK + PROBE_STEPS + 1].count(2) >= 1  # back on every core soon
    assert chooser.current == 2 and idle[-500:].count(1) < 20


def test_with_the_load_unknown_every_core_is_still_tried_now_and_then():
    chooser = ThreadChooser(n_cores=2, others_busy=lambda: None)  # no /proc here
    used = decode(chooser, {2: 0.200, 1: 0.040}, 1000)
    assert 0 < used[100:].count(2) < 0.03 * len(used)


def test_a_try_that_is_far_slower_from_its_first_step_ends_there():
    chooser = ThreadChooser(n_cores=2, others_busy=IDLE)
    decode(chooser, {2: 0.020, 1: 0.100}, 8)  # the first try of 1 thread comes now
    assert chooser.current == 1
    chooser.observe(1, GIVE_UP * 0.020 * 1.5)
    assert chooser.current == 2 and chooser.tries == 1


def test_a_try_measures_afresh_not_from_an_old_figure():
    load = [1.0]
    chooser = ThreadChooser(n_cores=2, others_busy=lambda: load[0])
    decode(chooser, {2: 0.500, 1: 0.040}, 100)  # every core was very slow under load
    load[0] = 0.0
    used = decode(chooser, {2: 0.020, 1: 0.040}, 200)
    first_try = used.index(2)
    assert set(used[first_try:]) - {1} == {2} and used[-1] == 2  # one try was enough
    assert used[first_try + PROBE_STEPS:].count(1) < 0.05 * len(used)


def test_a_single_stall_on_every_core_is_checked_back_soon():
    chooser = ThreadChooser(n_cores=2, others_busy=IDLE)
    decode(chooser, {2: 0.020, 1: 0.030}, 300)
    chooser.observe(2, 0.5)  # a blip: the machine is idle again afterwards
    assert chooser.current == 1
    used = decode(chooser, {2: 0.020, 1: 0.030}, RECHECK + PROBE_STEPS + 1)
    assert used[-1] == 2


def test_the_first_call_starts_on_one_fewer_when_a_core_was_busy_during_the_load():
    assert ThreadChooser(n_cores=2, others_busy=lambda: 1.0).start() == 1
    assert ThreadChooser(n_cores=2, others_busy=IDLE).start() == 2
    assert ThreadChooser(n_cores=2, others_busy=lambda: None).start() == 2
    settled = ThreadChooser(n_cores=2, others_busy=lambda: 1.0)
    decode(settled, {2: 0.020, 1: 0.030}, 20)  # learned: every core is faster
    assert settled.start() == 2  # a later call starts where the last one settled


def test_a_call_ending_during_a_try_starts_the_next_on_the_count_it_settled_on():
    chooser = ThreadChooser(n_cores=2, others_busy=IDLE)
    decode(chooser, {2: 0.020, 1: 0.030}, 9)  # the try of 1 thread has begun
    assert chooser.current == 1
    assert chooser.start() == 2


def test_others_cpu_use_from_proc_stat_without_our_own():
    clock, files = [0.0], {}

    def proc(cpu0: int, cpu1: int, cpu2: int, ours: int) -> None:
        files["/proc/stat"] = (
            f"cpu  1 1 1 1 1 1 1 1 0 0\ncpu0 {cpu0} 0 0 500 7 0 0 0 0 0\n"
            f"cpu1 {cpu1} 0 0 500 7 0 0 0 0 0\ncpu2 {cpu2} 0 0 900 0 0 0 0 0 0\nintr 5 6\n")
        files["/proc/self/stat"] = (f"42 (a (tricky) name) R 1 1 1 0 -1 0 0 0 0 0 {ours} 0 "
                                    "0 0 20 0 1 0")

    proc(0, 0, 0, 0)
    watch = CpuWatch(read=files.__getitem__, clock=lambda: clock[0], cpus={0, 1})  # 2 of 3
    clock[0] = 2.0
    proc(150, 150, 999, 100)  # 3 core-seconds busy on our cores, 1 of them ours
    assert watch.others_busy() == pytest.approx(1.0 * 100 / watch._tick)
    watch.mark()
    clock[0] = 2.01  # one tick: too short a window to tell
    assert watch.others_busy() is None


def test_without_proc_the_load_is_unknown():
    def missing(path: str) -> str:
        raise FileNotFoundError(path)

    assert CpuWatch(read=missing).others_busy() is None


def test_one_stalled_step_on_every_core_is_enough_to_try_one_fewer():
    chooser = ThreadChooser(n_cores=2, others_busy=IDLE)
    decode(chooser, {2: 0.020, 1: 0.030}, 300)  # learned: 2 is faster
    chooser.observe(2, 0.5)  # another process took a core
    assert chooser.current == 1


def test_the_environment_variable_fixes_the_count(monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_THREADS", "3")
    assert local.n_threads() == 3
    chooser = ThreadChooser(n_cores=2, fixed=local_threads.fixed_threads())
    assert set(decode(chooser, {3: 0.5}, 100)) == {3}


def test_without_the_variable_decoding_starts_on_every_usable_core(monkeypatch):
    monkeypatch.delenv("GEMMA_MAGICS_LOCAL_THREADS", raising=False)
    assert local.n_threads() == local_threads.cores()


@pytest.mark.parametrize("n_cores", [1, 4])
def test_counts_are_every_core_and_one_fewer(n_cores):
    assert ThreadChooser(n_cores=n_cores).counts == tuple(sorted({n_cores, max(1, n_cores - 1)},
                                                                  reverse=True))
