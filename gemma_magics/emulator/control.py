"""``/_emulator/*`` endpoints, so another process can script a running emulator.

No authentication (the server binds loopback only). All bodies are JSON.

- ``GET /_emulator/health`` → ``{"ok": true}``
- ``POST /_emulator/faults`` with a fault spec, or ``{"fault": spec, "count": 1,
  "path_contains": null}``, or a list of either → ``{"queued": n}``
- ``GET /_emulator/faults`` → ``{"pending": [...]}``
- ``POST /_emulator/fault_rate`` with ``{"rate": 0.1, "seed": 1, "faults": [spec, ...]}``
  → ``{"ok": true}``
- ``POST /_emulator/config`` with any Settings fields (plus optional ``"fault_rate": {...}``)
  → the settings; ``GET /_emulator/config`` → the settings
- ``GET /_emulator/requests`` → ``{"requests": [recorded request, ...]}``
- ``POST /_emulator/reset`` → ``{"ok": true}``

A fault spec is a JSON object of :class:`~gemma_magics.emulator.faults.Fault` fields, or
``{"preset": name, ...overrides}``. Errors answer 400 ``{"emulator_error": "..."}``.
"""

from __future__ import annotations

import json
from typing import Any

from .faults import Fault
from .formats.common import dumps
from .server import Exchange
from .state import State


def _queue(state: State, item: Any) -> int:
    if isinstance(item, list):
        return sum(_queue(state, x) for x in item)
    if isinstance(item, dict) and "fault" in item:
        state.faults.inject(Fault.from_dict(item["fault"]), int(item.get("count", 1)),
                            item.get("path_contains"))
        return 1
    state.faults.inject(Fault.from_dict(item))
    return 1


def _fault_rate(state: State, spec: dict[str, Any]) -> None:
    faults = spec.get("faults")
    state.faults.set_rate(float(spec.get("rate", 0.0)), spec.get("seed"),
                          [Fault.from_dict(f) for f in faults] if faults else None)


def _dispatch(state: State, method: str, path: str, body: Any) -> tuple[int, Any]:
    name = path[len("/_emulator/"):].strip("/")
    if (method, name) == ("GET", "health"):
        return 200, {"ok": True}
    if (method, name) == ("POST", "faults"):
        return 200, {"queued": _queue(state, body)}
    if (method, name) == ("GET", "faults"):
        return 200, {"pending": state.faults.pending()}
    if (method, name) == ("POST", "fault_rate"):
        _fault_rate(state, body or {})
        return 200, {"ok": True}
    if name == "config" and method in ("GET", "POST"):
        if method == "POST":
            changes = dict(body or {})
            rate = changes.pop("fault_rate", None)
            state.configure(**changes)
            if rate is not None:
                _fault_rate(state, rate)
        return 200, state.settings.public()
    if (method, name) == ("GET", "requests"):
        return 200, {"requests": [r.to_dict() for r in state.log.snapshot()]}
    if (method, name) == ("POST", "reset"):
        state.reset()
        return 200, {"ok": True}
    return 404, {"emulator_error": f"no control endpoint {method} {path}"}


def handle(ex: Exchange, state: State) -> None:
    try:
        body = json.loads(ex.body) if ex.body else None
        status, answer = _dispatch(state, ex.method, ex.path, body)
    except (ValueError, TypeError) as exc:
        status, answer = 400, {"emulator_error": str(exc)}
    ex.send(status, dumps(answer), "application/json")
