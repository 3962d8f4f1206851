"""The response cache: ``%%gemma --cache``, ``%config GemmaMagics.cache = True``,
``generate(cache=True)``, ``%gemma cache clear``.

The cache is the SQLite log itself: a request identical to one already answered (same
provider and endpoint, model, every setting, prompt, seed, features: the record's
``request_key``) is answered from that record instead of the backend. The new record is
marked ``cached`` (cost 0, no speed figures). A request without a seed at a temperature
above 0 is sampled afresh each time, so it is not served from the cache unless forced
(``--cache force``). ``%gemma cache clear`` stops earlier answers from being served; the
history keeps them.
"""

from __future__ import annotations

import json
import sqlite3
import weakref
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..events import Event, Finish, Notice, ReasoningDelta, Sent, TextDelta, ToolCall, Usage
from ..params import reproducible_seed
from ..providers.base import Provider, Request
from .log import Record, RecordLog

if TYPE_CHECKING:
    from ..api import PreparedCall
    from ..session import Session

ON, FORCE, OFF = "on", "force", "off"
_defaults: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Session -> mode
_cleared_in_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # RecordLog -> ts


def mode_of(value: bool | str | None) -> str | None:
    """``True``/"on", "force", ``False``/"off" (None: not given); refuses anything else."""
    if value is None:
        return None
    if value is True or str(value).lower() in ("on", "true", "1", "yes"):
        return ON
    if value is False or str(value).lower() in ("off", "false", "0", "no", ""):
        return OFF
    if str(value).lower() == FORCE:
        return FORCE
    raise ValidationError(f"cache={value!r} is not a cache mode", fix="use on, off or force")


def set_default(session: Session, value: bool | str | None) -> None:
    """The cache mode of later calls in this session (``%config GemmaMagics.cache``)."""
    _defaults[session] = mode_of(value)


def default_mode(session: Session) -> str:
    """The session's mode, else the ``cache`` setting (``GEMMA_MAGICS_CACHE``, config file)."""
    mode = _defaults.get(session)
    return mode or mode_of(session.config.setting("cache")) or OFF


def cacheable(request: Request, kind: str | None = None) -> bool:
    """Deterministic requests only: a reproducible seed (not llama.cpp's "random" value on
    the local model), or temperature 0."""
    p = request.params
    return reproducible_seed(p.seed, kind or "") or p.temperature == 0


def apply(call: PreparedCall, value: bool | str | None) -> None:
    """Serve ``call`` from the log when the mode and an earlier answer allow it."""
    mode = mode_of(value) or default_mode(call.session)
    if mode == OFF:
        return
    if mode == ON and not cacheable(call.request, call.provider.info.kind):
        call.notices.append(Notice(
            f"not cached: no seed at temperature {call.request.params.temperature:g} "
            "(set --seed, or use --cache force)", "info"))
        return
    hit = lookup(call.session.log, call.record.request_key)
    if hit is not None:
        call.cached_from = hit
        call.provider = CachedProvider(call.provider.endpoint, hit)


def lookup(log: RecordLog, key: str | None) -> Record | None:
    """The latest good answer for ``key`` logged since the cache was last cleared."""
    if not key:
        return None
    hit = log.find(key)
    cleared = cleared_at(log)
    if hit is None or (cleared is not None and hit.timestamp <= cleared):
        return None
    return hit


def mark_cached(record: Record, source: Record) -> None:
    """A record served from ``source``: flagged, free, without speed figures."""
    record.cached = True
    record.cost_usd = 0.0
    record.ttft_s = record.tokens_per_s = record.e2e_tokens_per_s = None
    extra = json.loads(record.extra) if record.extra else {}
    extra["cached_from"] = source.run_id
    record.extra = json.dumps(extra, default=str)


class CachedProvider(Provider):
    """Replays a logged answer as the events a backend would have sent."""

    def __init__(self, endpoint: Any, record: Record):
        super().__init__(endpoint)
        self.record = record

    def stream(self, request: Request) -> Iterator[Event]:
        rec = self.record
        yield Notice(f"served from the cache: answer logged {rec.timestamp[:19]}Z "
                     f"(run {rec.run_id[:8]})")
        yield Sent()
        if rec.reasoning:
            yield ReasoningDelta(rec.reasoning)
        if rec.response:
            yield TextDelta(rec.response)
        for call in json.loads(rec.tool_calls or "[]"):
            yield ToolCall(call.get("name", ""), call.get("arguments") or {})
        if rec.completion_tokens:
            yield Usage(rec.prompt_tokens, rec.completion_tokens, rec.total_tokens,
                        source=rec.usage_source or "provider",
                        reasoning_tokens=rec.reasoning_tokens)
        yield Finish(rec.finish_reason)


# -- clearing ------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _meta(log: RecordLog) -> sqlite3.Connection | None:
    """A connection to the log's file holding the ``cache_meta`` table (None for memory)."""
    if log.path == ":memory:":
        return None
    conn = sqlite3.connect(log.path, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS cache_meta (key TEXT PRIMARY KEY, value TEXT)")
    return conn


def cleared_at(log: RecordLog) -> str | None:
    """When the cache was last cleared (ISO UTC), None if never."""
    conn = _meta(log)
    if conn is None:
        return _cleared_in_memory.get(log)
    try:
        row = conn.execute("SELECT value FROM cache_meta WHERE key = 'cleared_at'").fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def clear(log: RecordLog) -> str:
    """From now on, earlier answers are not served from the cache; returns the time."""
    stamp = _now()
    conn = _meta(log)
    if conn is None:
        _cleared_in_memory[log] = stamp
        return stamp
    try:
        conn.execute("INSERT OR REPLACE INTO cache_meta VALUES ('cleared_at', ?)", (stamp,))
    finally:
        conn.close()
    return stamp
