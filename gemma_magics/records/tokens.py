"""Counting tokens when a provider does not report them.

Counted with the Gemma tokenizer from the local GGUF (llama.cpp loads its vocabulary only,
a few MB and milliseconds); estimated from characters when llama.cpp is not installed.
"""

from __future__ import annotations

import atexit
import threading
from functools import lru_cache
from typing import Literal

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _vocab():
    """A vocabulary-only llama.cpp model of the bundled Gemma GGUF, or None."""
    try:
        import llama_cpp

        from ..providers.local_model import model_path
    except ImportError:
        return None
    try:
        from llama_cpp._utils import suppress_stdout_stderr

        with suppress_stdout_stderr(disable=False):  # llama.cpp's context chatter on fd 2
            vocab = llama_cpp.Llama(model_path=str(model_path()), vocab_only=True, verbose=False)
    except Exception:  # a broken install must not break a remote call
        return None
    atexit.register(vocab.close)  # freeing at interpreter teardown raises inside llama_cpp
    return vocab


def vocab():
    """The vocabulary-only llama.cpp model (loaded on first use), or None without llama.cpp."""
    return _vocab()


def loaded() -> bool:
    """Whether the tokenizer is already in memory (loading it takes about a second)."""
    return _vocab.cache_info().currsize > 0


def count(text: str, *, add_bos: bool = False) -> tuple[int, Literal["counted", "estimated"]]:
    """Number of Gemma tokens in ``text`` and how that number was obtained.

    ``add_bos`` counts the begin-of-sequence token a prompt gets, unless the text already
    starts with a literal ``<bos>`` (a chat template does).
    """
    add_bos = add_bos and not text.startswith("<bos>")
    vocab = _vocab()
    if vocab is None:
        return estimate(text), "estimated"
    with _lock:
        tokens = vocab.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
    return len(tokens), "counted"


def estimate(text: str) -> int:
    """About four characters per token, the usual figure for English with Gemma's vocabulary."""
    return max(1, round(len(text) / 4)) if text else 0
