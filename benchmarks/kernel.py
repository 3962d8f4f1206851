"""A real Jupyter kernel driven like a front end: run cells, collect iopub messages with their
arrival times (the approach of ``tests/kernel_client.py``, kept separate so benchmarks do not
depend on the test suite)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CellRun:
    """Every iopub message one execute request produced, with arrival times."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    started: float = 0.0

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["msg_type"] in types]

    def timed(self, *types: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if m["msg_type"] in types]

    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream")
                       if m["content"]["name"] == "stdout")

    def json_line(self, marker: str) -> Any:
        """The JSON printed after ``marker`` on a stdout line."""
        for line in self.stdout().splitlines():
            if line.startswith(marker):
                return json.loads(line[len(marker):])
        raise RuntimeError(f"no {marker} line in the cell output: {self.stdout()[-2000:]!r}")

    @property
    def ok(self) -> bool:
        return bool(self.reply) and self.reply["content"]["status"] == "ok"


class Kernel:
    def __init__(self, env: dict[str, str]):
        import subprocess

        from jupyter_client.manager import start_new_kernel

        # the kernel's own stderr chatter (TCP warning) stays out of the report; cell errors
        # still arrive on iopub
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)

    def run(self, code: str, timeout: float = 300) -> CellRun:
        run = CellRun(started=time.monotonic())
        msg_id = self.kc.execute(code)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            run.messages.append((time.monotonic(), msg))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        run.reply = self.kc.get_shell_msg(timeout=timeout)
        if not run.ok:
            content = run.reply["content"] if run.reply else {}
            raise RuntimeError(f"cell failed: {content.get('ename')}: {content.get('evalue')}\n"
                               f"{code[:300]}")
        return run

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
