"""Scripting an emulator that runs in another process, over its ``/_emulator/*`` endpoints.

Standard library only, so a Jupyter kernel under test can use it without extra packages.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from .faults import Fault
from .settings import latency_changes

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RemoteEmulator:
    """Same scripting methods as :class:`Emulator`, for an emulator at ``base_url``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, name: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}/_emulator/{name}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        with _opener.open(req, timeout=self.timeout) as resp:
            return json.loads(resp.read())

    def health(self) -> bool:
        return bool(self._call("GET", "health").get("ok"))

    def inject(self, fault: Fault | dict | str, count: int = 1,
               path_contains: str | None = None) -> None:
        spec = fault.to_dict() if isinstance(fault, Fault) else (
            {"preset": fault} if isinstance(fault, str) else fault)
        self._call("POST", "faults", {"fault": spec, "count": count,
                                      "path_contains": path_contains})

    def fault_rate(self, rate: float, seed: int | None = None,
                   faults: list[Fault | dict] | None = None) -> None:
        specs = [f.to_dict() if isinstance(f, Fault) else f for f in faults or []]
        self._call("POST", "fault_rate", {"rate": rate, "seed": seed, "faults": specs})

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self._call("POST", "config", changes)

    def set_latency(self, first_byte: float | None = None,
                    per_token: float | None = None) -> None:
        self.configure(**latency_changes(first_byte, per_token))

    def set_text(self, text: str | None = None, **changes: Any) -> None:
        self.configure(text=text, **changes)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Recorded requests as dicts (see RecordedRequest)."""
        return self._call("GET", "requests")["requests"]

    def reset(self) -> None:
        self._call("POST", "reset", {})
