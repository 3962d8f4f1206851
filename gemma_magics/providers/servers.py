"""Whether a provider served from this machine (ollama, llama.cpp's llama-server, vLLM) is
running: one short loopback connect, no request sent. Providers elsewhere are not probed."""

from __future__ import annotations

import socket

import httpx

from ..catalog.models import ProviderInfo
from ..config import Config

LOOPBACK = ("localhost", "127.0.0.1", "::1")
#: A refused loopback connect returns at once; this only bounds a host that drops packets.
CONNECT_S = 0.25


def server_status(config: Config, info: ProviderInfo) -> tuple[bool | None, str] | None:
    """None for providers that are not a server you run; else ``(True, "listening at
    127.0.0.1:11434")``, ``(False, "nothing listens at …: start …")`` or, for a base URL
    off this machine, ``(None, "not checked")``."""
    if info.server is None or info.kind == "local":
        return None
    url = httpx.URL(config.base_url(info))
    port = url.port or (443 if url.scheme == "https" else 80)
    where = f"{url.host}:{port}"
    if url.host not in LOOPBACK:
        return None, f"not checked ({where} is not on this machine)"
    try:
        socket.create_connection((url.host, port), timeout=CONNECT_S).close()
    except OSError:
        return False, (f"nothing listens at {where}: start {info.server}, or set "
                       f"{config.base_url_variable(info)}")
    return True, f"listening at {where}"
