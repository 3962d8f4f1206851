"""Fault specs (what the emulator should do wrong) and the plan that hands them out.

A :class:`Fault` describes one misbehaviour for one request. Fields combine: for example
``Fault(status=429, headers={"Retry-After": "2"})`` answers 429 with that header in the wire
format's own error body, ``Fault(cut_after=3)`` streams three frames then closes the socket.

Faults reach requests three ways, checked in this order:

1. a request header ``X-Emulator-Fault: <fault JSON>`` (that request only);
2. the queue filled by ``Emulator.inject(fault, count, path_contains)`` or
   ``POST /_emulator/faults`` (consumed in order by matching requests);
3. the seeded random plan set by ``Emulator.fault_rate(rate, seed, faults)``.

Presets name common faults: ``Fault.preset("cf_capacity")`` or ``{"preset": "cf_capacity"}``
in JSON; see :data:`PRESETS`.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

HANG_DEFAULT_S = 30.0
"""How long ``hang=True`` holds a request before closing the connection."""
HANG_MAX_S = 600.0
"""Upper bound for any hang, so a forgotten fault cannot pin a thread forever."""

_CLOUDFLARE_HTML_502 = (
    "<!DOCTYPE html>\n<html><head><title>api.cloudflare.com | 502: Bad gateway</title></head>"
    "<body><h1>Bad gateway</h1><p>Error code 502</p>"
    "<p>The web server reported a bad gateway error.</p></body></html>\n"
)

PRESETS: dict[str, dict[str, Any]] = {
    # Cloudflare envelope codes (other routes put `code` in their own error shape).
    "cf_capacity": {"status": 429, "code": 3040,
                    "message": "Capacity temporarily exceeded, please try again."},
    "cf_daily_limit": {"status": 429, "code": 3036,
                       "message": "You have used up your daily free allocation of 10,000 "
                                  "neurons, please upgrade to Cloudflare's Workers Paid plan "
                                  "if you would like to continue usage."},
    "cf_daily_limit_4006": {"status": 429, "code": 4006,
                            "message": "you have used up your daily free allocation of 10,000 "
                                       "neurons, please upgrade to Cloudflare's Workers Paid "
                                       "plan if you would like to continue usage."},
    "cf_bad_input": {"status": 400, "code": 5006, "message": "AiError: Bad input: Error: invalid"},
    "cf_no_such_model": {"status": 400, "code": 5007, "message": "No such model or task"},
    "cf_auth": {"status": 401, "code": 10000, "message": "Authentication error"},
    "cf_auth_403": {"status": 403, "code": 10000, "message": "Authentication error"},
    "cf_model_agreement": {"status": 403, "code": 5016,
                           "message": "Prior to using this model, you must submit the prompt "
                                      "'agree'."},
    "cf_timeout": {"status": 408, "code": 3007, "message": "AiError: Request timeout"},
    "cf_too_large": {"status": 413, "code": 3006, "message": "Request is too large"},
    "cf_internal": {"status": 500, "code": 3043, "message": "Internal server error"},
    "cf_success_false": {"success_false": True, "code": 3040,
                         "message": "Capacity temporarily exceeded, please try again."},
    # OpenAI-compatible services.
    "rate_limit": {"status": 429, "code": "rate_limit_exceeded",
                   "message": "Rate limit reached, please retry later.",
                   "headers": {"Retry-After": "1"}},
    "rate_limit_ms": {"status": 429, "code": "rate_limit_exceeded",
                      "message": "Rate limit reached, please retry later.",
                      "headers": {"retry-after-ms": "100", "Retry-After": "30"}},
    "openrouter_credits": {"status": 402,
                           "message": "Insufficient credits. Add more using "
                                      "https://openrouter.ai/settings/credits"},
    "google_quota": {"status": 429,
                     "message": "Resource has been exhausted (e.g. check quota)."},
    "google_system_role": {"status": 400,
                           "message": "Developer instruction is not enabled for "
                                      "models/gemma-3-12b-it"},
    "server_error": {"status": 500, "message": "Internal server error"},
    "overloaded": {"status": 503, "message": "Service temporarily overloaded",
                   "headers": {"Retry-After": "1"}},
    "html_502": {"status": 502, "body": _CLOUDFLARE_HTML_502,
                 "content_type": "text/html; charset=UTF-8"},
    # Transport-level faults.
    "drop": {"drop_connection": True},
    "hang": {"hang": HANG_DEFAULT_S},
    "cut": {"cut_after": 3},
    "malformed": {"malformed_after": 2},
    "error_frame": {"error_frame_after": 2},
    "empty": {"empty_body": True},
}


@dataclass
class Fault:
    """One misbehaviour applied to one request.

    Response faults (sent instead of a normal answer):
      status: HTTP status. With no ``body`` the route's own error body is built for it
        (Cloudflare envelope, or the OpenAI-compatible error style of that path); a status
        below 400 with nothing else changes nothing.
      body: raw ``str``/``bytes`` sent as is, or a ``dict``/``list`` JSON-encoded. Status
        defaults to 200 when only a body is given.
      code, message: go into the generated error body (Cloudflare ``errors[].code``, OpenAI
        ``error.code``); defaults depend on status.
      headers: extra response headers on whatever is sent (``Retry-After``, ``retry-after-ms``).
      content_type: overrides the Content-Type of whatever is sent (HTML page, wrong type).
      success_false: HTTP ``status`` (default 200) with a ``"success": false`` envelope.
      empty_body: HTTP ``status`` (default 200) with an empty body.

    Timing faults:
      delay_before_first_byte: seconds to wait before the status line (``None``: the
        emulator's configured latency).
      token_delay: seconds between stream frames (``None``: configured latency). On a
        non-streamed answer the whole ``token_delay * tokens`` is waited before sending.
      hang: seconds (``True`` = :data:`HANG_DEFAULT_S`, capped at :data:`HANG_MAX_S`) to hold
        the request without answering, then close the connection; for client read timeouts.

    Stream faults (N counts ``data:`` frames written, trailing frames included):
      cut_after: after N frames close the connection abruptly (no ``[DONE]``, no final
        chunk). On a non-streamed answer: headers and half the body, then close.
      malformed_after: after N frames send one non-JSON ``data:`` line, then carry on.
        On a non-streamed answer: a truncated JSON body (complete HTTP message).
      error_frame_after: after N frames send the route's mid-stream error frame and end the
        stream (no ``[DONE]``). Ignored on non-streamed answers.

    Connection faults:
      drop_connection: close the socket before any response byte.

    name: a label stored with the recorded request (presets set it).
    """

    status: int | None = None
    body: Any = None
    code: int | str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay_before_first_byte: float | None = None
    token_delay: float | None = None
    cut_after: int | None = None
    malformed_after: int | None = None
    error_frame_after: int | None = None
    success_false: bool = False
    empty_body: bool = False
    drop_connection: bool = False
    hang: float = 0.0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.hang is True:
            self.hang = HANG_DEFAULT_S
        self.hang = min(float(self.hang or 0.0), HANG_MAX_S)
        self.headers = {str(k): str(v) for k, v in (self.headers or {}).items()}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Fault:
        """A named fault from :data:`PRESETS`, with fields overridden by keyword."""
        if name not in PRESETS:
            raise ValueError(f"unknown fault preset {name!r}; known: {', '.join(PRESETS)}")
        spec = {**PRESETS[name], "name": name, **overrides}
        spec["headers"] = {**PRESETS[name].get("headers", {}), **overrides.get("headers", {})}
        return cls(**spec)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Fault:
        """Build from JSON: Fault fields, plus ``preset`` and ``body_base64``."""
        if not isinstance(spec, dict):
            raise ValueError("a fault spec must be a JSON object")
        spec = dict(spec)
        if "body_base64" in spec:
            spec["body"] = base64.b64decode(spec.pop("body_base64"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(spec) - known - {"preset"}
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        preset = spec.pop("preset", None)
        if preset:
            return cls.preset(preset, **spec)
        return cls(**spec)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``POST /_emulator/faults`` or ``X-Emulator-Fault``)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        default = Fault()
        out = {k: v for k, v in out.items() if v != getattr(default, k)}
        if isinstance(self.body, bytes):
            out.pop("body")
            out["body_base64"] = base64.b64encode(self.body).decode()
        return out

    @property
    def label(self) -> str:
        """Short description used in request records."""
        if self.name:
            return self.name
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "body")


def as_fault(spec: Fault | dict | str) -> Fault:
    """Accept a Fault, a JSON-style dict, or a preset name."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, str):
        return Fault.preset(spec)
    return Fault.from_dict(spec)


def retry_after_date(seconds: float) -> str:
    """An HTTP-date ``seconds`` from now, for a ``Retry-After`` header."""
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


DEFAULT_RANDOM_FAULTS: tuple[dict[str, Any], ...] = (
    {"status": 429, "headers": {"Retry-After": "0"}, "name": "random_429"},
    {"status": 500, "name": "random_500"},
    {"status": 503, "name": "random_503"},
    {"cut_after": 2, "name": "random_cut"},
    {"drop_connection": True, "name": "random_drop"},
)


class FaultPlan:
    """Thread-safe source of faults: a consumable queue plus an optional seeded random rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[dict[str, Any]] = []
        self._rate = 0.0
        self._rng = random.Random(0)
        self._random_faults: list[Fault] = []

    def inject(self, fault: Fault | dict | str, count: int = 1,
               path_contains: str | None = None) -> None:
        """Queue ``fault`` for the next ``count`` requests whose path contains
        ``path_contains`` (any path if None). ``count <= 0`` means every matching request
        until reset."""
        entry = {"fault": as_fault(fault), "remaining": count, "path_contains": path_contains}
        with self._lock:
            self._queue.append(entry)

    def set_rate(self, rate: float, seed: int | None = None,
                 faults: list[Fault | dict | str] | None = None) -> None:
        """On each request, with probability ``rate``, apply one of ``faults`` chosen by a
        ``random.Random(seed)`` (default faults: :data:`DEFAULT_RANDOM_FAULTS`)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = [as_fault(f) for f in (faults if faults else DEFAULT_RANDOM_FAULTS)]
        with self._lock:
            self._rate = rate
            self._rng = random.Random(seed)
            self._random_faults = chosen

    def next_for(self, path: str) -> Fault | None:
        """The fault for a request on ``path``, consuming one queued use."""
        with self._lock:
            for entry in self._queue:
                wanted = entry["path_contains"]
                if wanted is not None and wanted not in path:
                    continue
                if entry["remaining"] > 0:
                    entry["remaining"] -= 1
                    if entry["remaining"] == 0:
                        self._queue.remove(entry)
                return entry["fault"]
            if self._random_faults and self._rng.random() < self._rate:
                return self._rng.choice(self._random_faults)
        return None

    def pending(self) -> list[dict[str, Any]]:
        """Queued faults, for ``GET /_emulator/faults``."""
        with self._lock:
            return [{"fault": e["fault"].to_dict(), "remaining": e["remaining"],
                     "path_contains": e["path_contains"]} for e in self._queue]

    def clear(self) -> None:
        """Drop queued faults and the random rate."""
        with self._lock:
            self._queue.clear()
            self._rate = 0.0
            self._random_faults = []
