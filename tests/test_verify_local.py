"""The host verifier over the real local model (Gemma 3 270M in llama.cpp), issue 16: the
model against itself with other seeds passes; a second GGUF of the same model, requantized
here to Q2_K with llama.cpp's own quantizer, is flagged. A tiny suite and few tokens: the
machine is slow.

Each "host" is the local provider with its own set of seeds, one seed per repeat, so that
its repeats are independent draws (one seed repeated would give copies, not samples).
"""

from __future__ import annotations

import ctypes

import pytest

pytest.importorskip("scipy")
llama_cpp = pytest.importorskip("llama_cpp", reason="the [local] extra is not installed")

from gemma_magics.comparisons.run import compare  # noqa: E402
from gemma_magics.providers.local import is_loaded  # noqa: E402
from gemma_magics.providers.local_model import model_path  # noqa: E402
from gemma_magics.verification.analysis import analyze  # noqa: E402
from gemma_magics.verification.probes import load_probes  # noqa: E402

PROBES = load_probes([
    {"id": "sky", "prompt": "The sky is", "temperature": 0.8, "max_tokens": 8},
    {"id": "fruit", "prompt": "Three fruits:", "temperature": 0.8, "max_tokens": 8},
    {"id": "capital", "prompt": "The capital of France is", "max_tokens": 8},
    {"id": "count", "prompt": "One, two, three,", "max_tokens": 8},
    {"id": "cat", "prompt": "My cat likes to", "max_tokens": 8},
    {"id": "two", "prompt": "1 + 1 =", "check": "number:2", "max_tokens": 4},
])
REPEATS = 3


def local_host(name: str, seeds: list[int]):
    """The probes on the local model, one run per seed; rows labelled as host ``name``."""
    frames = []
    groups: dict[str, list] = {}
    for probe in PROBES:
        groups.setdefault(repr(probe.settings()), []).append(probe)
    for group in groups.values():
        frame = compare([p.prompt for p in group], "local", grid={"seed": seeds},
                        **group[0].settings())
        frame["probe_id"] = frame["prompt"].map({p.prompt: p.id for p in group})
        frame["repeat"] = frame["seed"].map({s: i for i, s in enumerate(seeds)})
        frames.append(frame)
    import pandas as pd

    runs = pd.concat(frames, ignore_index=True)
    runs["variant"] = name
    return runs


def check(*hosts):
    import pandas as pd

    runs = pd.concat(hosts, ignore_index=True)
    return analyze(runs, PROBES, model="gemma-3-270m", reference="reference", seed=0)


@pytest.fixture(scope="module")
def requantized(tmp_path_factory):
    """The bundled Q4_K_M GGUF requantized to Q2_K (llama.cpp's quantizer, in-process)."""
    target = tmp_path_factory.mktemp("gguf") / "gemma-3-270m-q2_k.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q2_K
    params.allow_requantize = True
    params.nthread = 1
    code = llama_cpp.llama_model_quantize(str(model_path()).encode(), str(target).encode(),
                                          ctypes.byref(params))
    if code != 0:
        pytest.skip(f"llama_model_quantize returned {code}: no second GGUF to compare")
    return target


def test_the_local_model_against_itself_with_other_seeds_is_not_called_different(session):
    result = check(local_host("reference", [1, 2, 3]), local_host("other seeds", [11, 12, 13]))
    other = result.host("other seeds")
    assert other.errors == 0 and other.runs == len(PROBES) * REPEATS
    assert not other.different, other.verdict
    assert other.mmd is not None and other.paired.n == REPEATS
    # the seeds really drew different samples of the sampled prompts
    sampled = result.runs[result.runs["probe_id"].isin(["sky", "fruit"])]
    assert sampled.groupby("variant")["text"].nunique().min() > 1


def test_a_requantized_gguf_of_the_same_model_is_flagged(session, requantized, monkeypatch):
    reference = local_host("reference", [1, 2, 3])
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_MODEL", str(requantized))
    result = check(reference, local_host("q2_k", [11, 12, 13]))
    q2 = result.host("q2_k")
    assert is_loaded(str(requantized))  # the other weights really ran
    print(f"\n{q2.verdict}")
    assert q2.different and "answers differ in distribution" in q2.verdict, q2.verdict
