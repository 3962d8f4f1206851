"""gemma_magics: stream, log and compare Gemma models from a Jupyter notebook.

``%load_ext gemma_magics`` registers ``%%gemma``, ``%gemma`` and ``%%gemma_compare``.
From Python: :func:`generate`, :func:`stream`, :func:`history`, :func:`compare`,
:func:`panel`, :class:`Chat`, :func:`replay`, :func:`run_tools`; scoring answers:
:func:`score`, :class:`Check`, :class:`Judge`, :func:`rate`, :func:`agreement`. Importing this package is
light: pandas, ipywidgets and llama.cpp load only when a feature needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .version import __version__ as __version__

# public name -> module that defines it; resolved on first attribute access
_LAZY = {
    "generate": "api",
    "stream": "api",
    "history": "api",
    "prepare": "api",
    "Completion": "completion",
    "Params": "params",
    "Session": "session",
    "get_session": "session",
    "GemmaError": "errors",
    "APIError": "errors",
    "ValidationError": "errors",
    "ConfigError": "errors",
    "Interrupted": "errors",
    "compare": "notebook.live_compare",
    "side_by_side": "comparisons.views",
    "summary": "comparisons.views",
    "plot": "comparisons.views",
    "panel": "notebook.panel",
    "emulate_missing": "notebook.offline",
    "Emulator": "emulator",
    "Chat": "workflows.chat",
    "replay": "workflows.chat",
    "run_tools": "workflows.tool_loop",
    "models": "notebook.listing",
    "verify": "notebook.live_verify",
    "report": "verification.report",
    "score": "scoring.score",
    "Check": "scoring.checks",
    "Judge": "scoring.judges",
    "rate": "notebook.rater",
    "agreement": "scoring.summary",
}

__all__ = [*_LAZY, "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gemma_magics' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext gemma_magics``: registers the magics."""
    from .notebook.compare_magics import CompareMagics
    from .notebook.magics import GemmaMagics

    ipython.register_magics(GemmaMagics(shell=ipython))
    ipython.register_magics(CompareMagics(shell=ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext gemma_magics``."""
