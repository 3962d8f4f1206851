"""The panel's seed box: empty with the placeholder "random" while no seed is set.

A number box would show 0 (or the model's minimum, 1 on Workers AI) next to the word
"random", which reads as that seed. ipywidgets is imported only when a box is built.
"""

from __future__ import annotations

from typing import Any

JS_MAX_INT = 2**53 - 1


def seed_box(lo: int, hi: int, **kwargs: Any) -> Any:
    """A text box whose ``value`` is the seed as text ("" = random; an int is accepted and
    shown as text); ``min``/``max`` are the model's range, checked by :func:`typed_seed`."""
    import ipywidgets as w
    from traitlets import CUnicode, Int

    class SeedBox(w.Text):
        value = CUnicode("", help="the seed, or empty for random").tag(sync=True)
        min = Int(0)
        max = Int(JS_MAX_INT)

    return SeedBox(min=lo, max=hi, placeholder="random", continuous_update=False, **kwargs)


def typed_seed(text: str, lo: int, hi: int) -> int | None:
    """The seed typed in the box: an int, or None when emptied. ValueError (a message for
    the user) when it is not a whole number from ``lo`` to ``hi``."""
    text = text.strip()
    if not text:
        return None
    try:
        seed = int(text)
    except ValueError:
        seed = None
    if seed is None or not lo <= seed <= hi:
        raise ValueError(f"seed {text!r}: give a whole number from {lo} to {hi}, or leave "
                         "it empty for a random seed")
    return seed
