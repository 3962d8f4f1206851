"""One module per wire format. Each turns a :class:`~.base.Request` into the provider's own
request and its answer back into :mod:`gemma_magics.events`; none of them displays anything.
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
