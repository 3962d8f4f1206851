"""The panel's Stop button and the kernel's interrupt end a Run or Compare started from the
panel (issue 18 item 4), in a real Jupyter kernel, with the clicks sent as the front end
sends them (``comm_msg`` to the button's model).

The emulator's answer is 600 tokens at 30 ms each (18 s and more): a run recorded as
``interrupted`` with fewer tokens was stopped, whatever the machine's speed.
"""

from __future__ import annotations

import pytest
from kernel_client import Kernel, click, emulated_env, ok

from gemma_magics.emulator import Emulator

pytestmark = pytest.mark.slow
WORDS = " ".join(f"w{i}" for i in range(600))

SETUP = """%load_ext gemma_magics
import time
import gemma_magics as gm
p = gm.panel()
p.provider.value = "openai"
p.controls["max_tokens"].value = 600
p.prompt.value = "Count."
p.compare_with.value = ("openai",)
print("ids", p.run_button.model_id, p.compare_button.model_id, p.stop_button.model_id)
"""
#: Until the answer has started arriving (the worker streams while this cell runs: the
#: kernel is free for other messages).
UNTIL_STREAMING = """
deadline = time.monotonic() + 120
while not ({outputs}) and time.monotonic() < deadline:
    time.sleep(0.05)
print("streaming", bool({outputs}), p.worker is not None and p.worker.is_alive())
"""
WAIT = """
p.wait(120)
print("alive", p.worker.is_alive())
print("stats", p.stats.value)
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel-stop")
    with Emulator(first_byte_latency=0.0, per_token_latency=0.03) as emu:
        emu.set_text(WORDS)
        k = Kernel(env=emulated_env(tmp, emu.openai_base_url))
        try:
            line = next(x for x in ok(k.run(SETUP)).splitlines() if x.startswith("ids"))
            k.ids = dict(zip(("run", "compare", "stop"), line.split()[1:]))
            yield k
        finally:
            k.close()


def test_stop_ends_a_run_started_from_the_panel(kernel):
    click(kernel, kernel.ids["run"])
    shown = ok(kernel.run(UNTIL_STREAMING.format(outputs="p.output.outputs")))
    assert "streaming True True" in shown, shown  # the answer streams; the kernel answers
    click(kernel, kernel.ids["stop"])
    shown = ok(kernel.run(WAIT + "r = p.last.record\n"
                          "print('record', r.status, r.completion_tokens)\n"
                          "print('stop', p.stop_button.disabled, 'run', p.run_button.disabled)"))
    assert "alive False" in shown, shown
    status, tokens = next(x for x in shown.splitlines() if x.startswith("record")).split()[1:]
    assert status == "interrupted" and 0 < int(tokens) < 600, shown
    assert f"stopped after {tokens} tokens; recorded as interrupted" in shown
    assert "stop True run False" in shown  # Stop greys out again, Run is back


def test_the_kernel_interrupt_ends_a_compare_started_from_the_panel(kernel):
    click(kernel, kernel.ids["compare"])
    shown = ok(kernel.run(UNTIL_STREAMING.format(
        outputs="'w3' in str(p.compare_output.outputs)")))
    assert "streaming True True" in shown, shown
    kernel.interrupt()  # the kernel is idle: ipykernel alone would ignore this
    shown = ok(kernel.run(WAIT + "print('statuses', *p.last.status)"))
    assert "alive False" in shown, shown
    assert "statuses interrupted" in shown, shown
    assert "stopped: 0 of 1 runs had finished, 1 recorded as interrupted" in shown, shown
    # the interrupt still stops a cell of its own afterwards, and the kernel goes on
    assert "after" in ok(kernel.run("print('after')"))
