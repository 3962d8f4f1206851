"""Where output goes: a Jupyter front end (rich MIME bundles) or a terminal (plain text).

The one place that asks "are we in a kernel?", so every layer that shows something (tool
steps, image thumbnails, notices, the notebook views) answers it the same way.
"""

from __future__ import annotations

from typing import Any


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a front end that understands display updates)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show(bundle: dict[str, Any], plain: str | None = None) -> None:
    """Display MIME ``bundle`` in a notebook; print ``plain`` (default: its text/plain)
    in a terminal."""
    if in_notebook():
        from IPython.display import display

        display(bundle, raw=True)
    else:
        print(bundle["text/plain"] if plain is None else plain, flush=True)
