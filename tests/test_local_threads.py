"""The local model's decode thread count follows its measured steps (step times given here)."""

from __future__ import annotations

import pytest

from gemma_magics.providers import local, local_threads
from gemma_magics.providers.local_threads import PROBE_EVERY, ThreadChooser


def decode(chooser: ThreadChooser, step_s: dict[int, float], steps: int) -> list[int]:
    """Feed ``steps`` decode steps whose time depends on the count used; the counts used."""
    used = []
    for _ in range(steps):
        threads = chooser.current
        used.append(threads)
        chooser.observe(threads, step_s[threads])
    return used


def test_idle_machine_stays_on_every_core_and_tries_the_other_less_often():
    chooser = ThreadChooser(n_cores=2)
    used = decode(chooser, {2: 0.020, 1: 0.030}, 1000)
    assert used[0] == 2 and chooser.current == 2
    assert used.count(1) < 0.03 * len(used)  # a few probes, fewer as the answer holds
    assert chooser._interval == PROBE_EVERY[1]


def test_a_busy_core_moves_decoding_to_one_fewer_thread_and_back_when_it_frees():
    chooser = ThreadChooser(n_cores=2)
    busy = decode(chooser, {2: 0.200, 1: 0.040}, 200)
    assert chooser.current == 1 and busy[-100:].count(2) <= 2 * 3
    idle = decode(chooser, {2: 0.020, 1: 0.040}, 2000)
    assert chooser.current == 2 and idle[-500:].count(1) < 20


def test_one_stalled_step_on_every_core_is_enough_to_try_one_fewer():
    chooser = ThreadChooser(n_cores=2)
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
