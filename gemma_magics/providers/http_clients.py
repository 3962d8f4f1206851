"""Pooled HTTP clients: one sync client per process, one async client per event loop.

Sharing them keeps connections (and TLS sessions) alive across calls; a fork gets a new
sync client, and each loop's async client closes when ``asyncio.run`` shuts that loop down.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import re
import ssl
import threading
import weakref
from typing import Any

import httpx

from ..version import __version__

USER_AGENT = f"gemma_magics/{__version__}"
_lock = threading.Lock()
_sync: tuple[int, httpx.Client] | None = None
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, Any]] = (
    weakref.WeakKeyDictionary()
)
_HEADERS = {"User-Agent": USER_AGENT}
#: Idle connections kept open per client. httpx keeps 20 by default, so a comparison at
#: concurrency 64 closed and reopened a connection for most runs (7,474 TCP connections
#: for 10,000 runs to one host); 128 covers the concurrency people use against one host.
#: No cap on open connections: the scheduler's ``concurrency`` is the one limit (httpx's
#: cap of 100 made runs past it queue inside the pool, where its pool timeout could fail
#: them).
LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=128)
_ssl: ssl.SSLContext | None = None


class _HideCredentials(logging.Filter):
    """httpx logs every request's URL at INFO ("HTTP Request: POST https://..."): a password
    in a base URL and Cloudflare's account id would be in every such line. They are blanked
    in the record before any handler formats it."""

    _USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
    _ACCOUNT = re.compile(r"(?<=/accounts/)[^/\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._ACCOUNT.sub("<account>", self._USERINFO.sub("<credentials>@", message))
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = _HideCredentials()
for _name in ("httpx", "httpcore"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) takes ~50 ms,
    which every new event loop's client would otherwise pay again."""
    global _ssl
    if _ssl is None:
        _ssl = httpx.create_ssl_context()
    return _ssl


def sync_client() -> httpx.Client:
    """The process's shared client (a new one after a fork: sockets must not be shared)."""
    global _sync
    with _lock:
        if _sync is None or _sync[0] != os.getpid() or _sync[1].is_closed:
            _sync = (os.getpid(), httpx.Client(headers=_HEADERS, verify=_ssl_context()))
        return _sync[1]


async def async_client() -> httpx.AsyncClient:
    """The running loop's shared client, closed when ``asyncio.run`` shuts that loop down."""
    loop = asyncio.get_running_loop()
    entry = _async.get(loop)
    if entry is None or entry[0].is_closed:
        client = httpx.AsyncClient(headers=_HEADERS, verify=_ssl_context(), limits=LIMITS)
        # asyncio.run finalises every live async generator of its loop before closing it;
        # this one's finally clause is therefore a loop-shutdown hook that closes the client.
        closer = _close_at_loop_shutdown(loop, client)
        await closer.__anext__()
        entry = _async[loop] = (client, closer)
    return entry[0]


async def _close_at_loop_shutdown(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient):
    try:
        yield
    finally:
        # the generator holds its loop (asyncio's finaliser hook), so the weak mapping alone
        # would never let go of either: drop the entry explicitly
        if _async.get(loop, (None,))[0] is client:
            del _async[loop]
        await client.aclose()


def close_clients() -> None:
    """Close the process's sync client (also run at interpreter exit)."""
    global _sync
    with _lock:
        if _sync is not None:
            _sync[1].close()
            _sync = None


async def aclose_client() -> None:
    """Close the running loop's async client now rather than at loop shutdown."""
    entry = _async.get(asyncio.get_running_loop())
    if entry is not None:
        await entry[1].aclose()  # its finally clause closes the client and forgets it


atexit.register(close_clients)
