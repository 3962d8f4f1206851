"""Which turn format ``--template`` shows: Gemma 4's (``<|turn>…<turn|>``) for a Gemma 4
model or a local GGUF whose chat template is Gemma 4's, else Gemma 3's."""

from __future__ import annotations

from ..catalog.thinking import is_gemma4
from ..session import get_session


def is_gemma4_target(provider: str | None, model: str | None) -> bool:
    """Whether the cell's backend (its ``-p``/``-m``, else the session's) is a Gemma 4."""
    session = get_session()
    name = provider or session.default_provider()
    info = session.config.catalog.provider(name)
    if model is None and session.model and name == session.default_provider():
        model = session.model
    if is_gemma4(info.model(model).id):
        return True
    if info.kind == "local":
        from ..providers import local_model

        return local_model.is_gemma4_gguf()
    return False
