"""Same seed, same settings, same text: whatever ran before, in one process or another.

llama-cpp-python's ``Llama.generate`` reuses the KV cache of whatever the context held last
(it evaluates only the prompt's unmatched suffix), which changes the logits numerically and
so the sampled text. The local provider evaluates every prompt from a cleared context.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra (llama-cpp-python) is not installed")

import gemma_magics as gm  # noqa: E402
from gemma_magics.providers.local_threads import ThreadChooser  # noqa: E402

SKY = dict(max_tokens=8, seed=7)
OTHER = "Write a list of three fruits:"
JSON_PROMPT = "A JSON object describing a cat, with a name and an age:"
JSON_SETTINGS = dict(max_tokens=24, seed=11, temperature=0.9, json=True)


def _text(prompt: str, **settings) -> str:
    """The answer's text, also when a JSON answer was cut at max_tokens (not valid JSON)."""
    call = gm.stream(prompt, **settings)
    for _ in call:
        pass
    return call.text


def _interleaved(prompt: str, settings: dict, n: int = 4) -> list[str]:
    texts = []
    for i in range(n):
        texts.append(_text(prompt, **settings))
        gm.generate(OTHER if i % 2 else prompt + " maybe", max_tokens=5 + i, seed=100 + i)
    return texts


def test_interleaved_seeded_calls_give_one_text(session):
    texts = _interleaved("The sky is", SKY)
    assert len(set(texts)) == 1, texts


def test_interleaved_seeded_json_calls_give_one_text(session):
    texts = _interleaved(JSON_PROMPT, JSON_SETTINGS, n=3)
    assert len(set(texts)) == 1, texts


_CHILD = """
import json, sys
import gemma_magics as gm
from gemma_magics.config import Config
from gemma_magics.session import Session, set_session
set_session(Session(config=Config(), db_path=":memory:"))
settings = json.loads(sys.argv[2])
if settings.pop("warm", False):
    gm.generate("Once upon a time", max_tokens=6, seed=3)
call = gm.stream(sys.argv[1], **settings)
for _ in call:
    pass
print(json.dumps(call.text))
"""


def _in_subprocess(prompt: str, settings: dict, *, warm: bool) -> str:
    env = {**os.environ, "GEMMA_MAGICS_CONFIG": os.devnull}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, prompt, json.dumps({**settings, "warm": warm})],
        capture_output=True, text=True, check=True, env=env, timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("prompt", "settings"), [("The sky is", SKY),
                                                   (JSON_PROMPT, JSON_SETTINGS)],
                         ids=["plain", "json"])
def test_two_fresh_processes_give_the_in_process_text(session, prompt, settings):
    gm.generate(OTHER, max_tokens=6, seed=1)  # this process's context holds something else
    here = _text(prompt, **settings)
    cold = _in_subprocess(prompt, settings, warm=False)
    warm = _in_subprocess(prompt, settings, warm=True)
    assert here == cold == warm


class _Switching(ThreadChooser):
    """Changes the thread count after every decode step."""

    def observe(self, threads: int, seconds: float) -> int:
        self.current = 1 if threads > 1 else 2
        return self.current


def test_the_thread_count_does_not_change_the_seeded_text(session):
    """The decode threads follow the machine's load (providers/local_threads.py), so the
    same seed must give the same text at any count, even one changing within the answer."""
    from gemma_magics.providers import local, local_model

    llm = local.load_model(str(local_model.model_path()))
    saved = llm._gemma_threads
    texts = {}
    try:
        for name, chooser in {"1 thread": ThreadChooser(fixed=1),
                              "2 threads": ThreadChooser(fixed=2),
                              "switching": _Switching(n_cores=2)}.items():
            llm._gemma_threads = chooser
            texts[name] = _text("The sky is", max_tokens=16, seed=5, temperature=0.9)
    finally:
        llm._gemma_threads = saved
    assert len(set(texts.values())) == 1, texts
