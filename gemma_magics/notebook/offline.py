"""``gemma_magics.emulate_missing()``: the one-line set-up cell of the example notebooks.

Hosted providers whose credentials are set are called for real; each of the others is
pointed at the emulator bundled with gemma_magics (a real HTTP server on 127.0.0.1, in
its own process, speaking that provider's wire format with scripted answers).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from ..session import get_session

#: Where each provider's API lives on the emulator, and the stand-in credentials it needs.
OFFLINE = {
    "cloudflare": ("", {"CLOUDFLARE_ACCOUNT_ID": "demo", "CLOUDFLARE_API_TOKEN": "demo"}),
    "dataoorts": ("/api/v1", {"DATAOORTS_API_KEY": "demo"}),
    "aimlapi": ("/v1", {"AIMLAPI_API_KEY": "demo"}),
    "openai": ("/v1", {"OPENAI_API_KEY": "demo"}),
    "openrouter": ("/openrouter/api/v1", {"OPENROUTER_API_KEY": "demo"}),
}


def emulate_missing(*providers: str, per_token_latency: float = 0.03) -> Any:
    """For each of ``providers`` without credentials, point it at the emulator (started
    once, in a process that exits with this kernel); print one line per provider saying
    which it got. Returns the emulator (a :class:`~gemma_magics.emulator.RemoteEmulator`,
    to script answers: ``set_text``, ``inject``...) or None when every provider is real.

    >>> emulator = gm.emulate_missing("cloudflare", "aimlapi")
    """
    from ..emulator import RemoteEmulator, start_emulator_process

    config = get_session().config
    emulator = None
    for name in providers:
        if name not in OFFLINE:
            raise ValueError(f"no emulated route for {name!r}; choose from {', '.join(OFFLINE)}")
        path, stand_in = OFFLINE[name]
        ready, how = config.credentials_found(config.catalog.provider(name))
        if ready:
            print(f"{name:<10} real service ({how})")
            continue
        if emulator is None:
            _, url = start_emulator_process(
                extra_args=["--per-token-latency", str(per_token_latency)],
                stderr=subprocess.DEVNULL)
            emulator = RemoteEmulator(url)
        os.environ.update(stand_in)
        os.environ[config.base_url_variable(config.catalog.provider(name))] = \
            emulator.base_url + path
        print(f"{name:<10} no credentials found → emulator at {emulator.base_url + path} "
              "(scripted answers, not a model)")
    return emulator
