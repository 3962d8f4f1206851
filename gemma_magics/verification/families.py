"""Model families: the host-specific ids of one set of weights.

``@cf/google/gemma-4-26b-a4b-it`` ≙ ``google/gemma-4-26b-a4b-it`` ≙ ``gemma-4-26b-a4b-it``
≙ ``gemma4:26b`` ≙ ``google/gemma-4-26b-a4b-it:free`` ≙ ``gemma-4-26b-a4b-it-maas``: all
are family ``gemma-4-26b-it``. The key is generation, size and tuning; quantization tags
(``-qat``, ``-q4_K_M``) and host suffixes do not change it, LoRA variants do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PREFIX = re.compile(r"^(?:@cf/|@hf/)?(?:google/|models/)?", re.I)
_SUFFIX = re.compile(r"(?::free|-maas|-qat|[-_.:]q\d[\w]*|-gguf|-instruct)+$", re.I)
_DASHED = re.compile(r"^gemma-?(?P<gen>\d+(?:\.\d+)?n?)?-(?P<size>e?\d+(?:\.\d+)?[bm])"
                     r"(?:-a\d+(?:\.\d+)?b)?(?P<rest>(?:-[\w.]+)*)$", re.I)
_OLLAMA = re.compile(r"^gemma(?P<gen>\d+(?:\.\d+)?n?)?:(?P<size>e?\d+(?:\.\d+)?[bm])"
                     r"(?P<rest>[-\w.]*)$", re.I)


def family_of(model_id: str | None) -> str | None:
    """The family key of a Gemma model id, or None when the id is not recognisably Gemma."""
    if not model_id:
        return None
    name = _PREFIX.sub("", model_id.strip())
    name = _SUFFIX.sub("", name)
    match = _OLLAMA.match(name)
    if match:  # Ollama's tags are the instruction-tuned models unless they say "-pt"/"text"
        rest = match["rest"].lower()
        tuned = "pt" if ("-pt" in rest or "text" in rest) else "it"
        return f"gemma-{match['gen'] or '1'}-{match['size'].lower()}-{tuned}"
    match = _DASHED.match(name)
    if not match:
        return None
    rest = [part for part in match["rest"].lower().split("-") if part]
    if "lora" in rest:
        return None  # an adapter base is not the plain weights
    tuned = "it" if "it" in rest else "pt"
    return f"gemma-{match['gen'] or '1'}-{match['size'].lower()}-{tuned}"


def same_family(a: str | None, b: str | None) -> bool:
    fa, fb = family_of(a), family_of(b)
    return fa is not None and fa == fb


def member(family: str, ids: Iterable[str]) -> str | None:
    """The first of ``ids`` in ``family`` (None when none is)."""
    return next((i for i in ids if family_of(i) == family), None)
