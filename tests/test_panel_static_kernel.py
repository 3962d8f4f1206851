"""A panel's finished Run and Compare are kept as static output of the panel's own cell
(issue 18 item 13), in a real Jupyter kernel with the clicks sent as JupyterLab sends them.

The worker thread that runs a click updates a display that the panel's cell made: the
update must carry that cell's parent header (not the click's, nor that of the cell running
meanwhile), or the front end would not put it in the saved notebook. The answer is hostile
HTML, so the copy is checked to be escaped as every other view of model text.
"""

from __future__ import annotations

import pytest
from kernel_client import Kernel, click, emulated_env, ok, saved_outputs

from gemma_magics.emulator import Emulator

pytestmark = pytest.mark.slow
WIDGET = "application/vnd.jupyter.widget-view+json"
ANSWER = '<img src=x onerror="alert(1)"> costs $3.50\nsecond line'
ESCAPED = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; costs $3.50\nsecond line"

SETUP = """%load_ext gemma_magics
import gemma_magics as gm
p = gm.panel()
p.provider.value = "openai"
p.controls["max_tokens"].value = 16
p.prompt.value = "Say <b>hi</b>."
p.compare_with.value = ("openai",)
print("ids", p.run_button.model_id, p.compare_button.model_id)
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel-static")
    with Emulator(first_byte_latency=0.0, per_token_latency=0.002) as emu:
        emu.set_text(ANSWER)
        k = Kernel(env=emulated_env(tmp, emu.openai_base_url))
        try:
            line = next(x for x in ok(k.run(SETUP)).splitlines() if x.startswith("ids"))
            k.ids = dict(zip(("run", "compare"), line.split()[1:]))
            yield k
        finally:
            k.close()


def test_run_and_compare_results_stay_as_static_output_of_the_panels_cell(kernel):
    shown = kernel.run("p")  # the panel's cell
    ok(shown)
    cell = [m for _, m in shown.messages]
    outputs = saved_outputs(cell)
    assert len(outputs) == 2, outputs
    panel, copy = outputs
    assert WIDGET in panel  # without widgets (nbconvert, GitHub) the text says what it is
    assert panel["text/plain"].startswith("<gemma_magics panel: openai · "), panel["text/plain"]
    assert WIDGET not in copy and "run this cell again" in copy["text/plain"]

    click(kernel, kernel.ids["run"])
    waited = kernel.run("p.wait(60)", keep=(shown.msg_id,))
    ok(waited)
    assert waited.kept, "no update reached the panel's cell"
    assert all(m["parent_header"]["msg_id"] == shown.msg_id for m in waited.kept)
    outputs = saved_outputs(cell + waited.kept)
    assert len(outputs) == 2
    copy = outputs[1]
    assert ESCAPED in copy["text/html"] and "<img src=x" not in copy["text/html"]
    assert "Say &lt;b&gt;hi&lt;/b&gt;." in copy["text/html"]  # the prompt, escaped too
    assert "tex2jax_ignore" in copy["text/html"]  # no math typesetting of "$3.50"
    text = copy["text/plain"]
    assert ANSWER in text and "prompt: Say <b>hi</b>." in text
    assert "openai" in text and "tokens" in text  # the footer of the stats line

    click(kernel, kernel.ids["compare"])
    compared = kernel.run("p.wait(60)", keep=(shown.msg_id,))
    ok(compared)
    copy = saved_outputs(cell + waited.kept + compared.kept)[1]
    assert copy["text/html"].count(ESCAPED) >= 2, "the Run's copy and the Compare's grid"
    assert "1/1 done" in copy["text/html"] and 'class="gmc-grid gmc-full"' in copy["text/html"]
    assert "1 runs · 1 ok" in copy["text/plain"]
    assert "<img src=x" not in copy["text/html"]
