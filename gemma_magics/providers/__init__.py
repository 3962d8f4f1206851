"""Providers: one module per wire format, and the HTTP and llama.cpp plumbing under them.

Each turns a :class:`~.base.Request` into the provider's own request and its answer back
into :mod:`gemma_magics.events`; none of them displays anything or records. ``transport``,
``http_clients`` and ``retries`` send hosted calls; ``local`` and ``local_model`` run the
embedded Gemma. May import ``config``, ``params``, ``catalog``, ``events`` and ``errors``
only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Endpoint
    from .base import Provider


def make_provider(endpoint: Endpoint) -> Provider:
    """The provider object for an endpoint, by its catalog ``kind``."""
    kind = endpoint.provider.kind
    if kind == "local":
        from .local import LocalProvider

        return LocalProvider(endpoint)
    if kind == "cloudflare":
        from .cloudflare import CloudflareProvider

        return CloudflareProvider(endpoint)
    if kind == "dataoorts":
        from .dataoorts import DataoortsProvider

        return DataoortsProvider(endpoint)
    from .openai import OpenAIProvider

    return OpenAIProvider(endpoint)
