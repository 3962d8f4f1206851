"""A real Jupyter kernel for tests: start it, run cells, collect what the front end gets."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import start_new_kernel


@dataclass
class CellRun:
    """Every iopub message one execute request produced, with arrival times."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    msg_id: str = ""
    #: Messages that arrived meanwhile for the earlier requests named in ``run(keep=...)``
    #: (e.g. a display updated from a thread, addressed to the cell that made it).
    kept: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["msg_type"] in types]

    def times(self, *types: str) -> list[float]:
        return [t for t, m in self.messages if m["msg_type"] in types]

    def text(self) -> str:
        """Everything shown, as text/plain, in order (streams and displays)."""
        parts = []
        for m in self.of_type("stream", "display_data", "update_display_data", "execute_result",
                              "error"):
            c = m["content"]
            if m["msg_type"] == "stream":
                parts.append(c["text"])
            elif m["msg_type"] == "error":
                parts.append(f"{c['ename']}: {c['evalue']}")
            else:
                parts.append(str(c["data"].get("text/plain", "")))
        return "\n".join(parts)


class Kernel:
    def __init__(self, env: dict[str, str] | None = None):
        full_env = {**os.environ, **(env or {})}
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=full_env)

    def run(self, code: str, timeout: float = 300, on_message=None,
            keep: tuple[str, ...] = ()) -> CellRun:
        run = CellRun()
        msg_id = self.kc.execute(code)
        run.msg_id = msg_id
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent in keep:
                run.kept.append(msg)
            if parent != msg_id:
                continue
            run.messages.append((time.monotonic(), msg))
            if on_message:
                on_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while True:  # skip replies to earlier requests (e.g. the start-up kernel_info)
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        run.reply = reply
        return run

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def emulated_env(tmp: Any, openai_base_url: str) -> dict[str, str]:
    """A kernel environment with its own log and config under ``tmp``, and the ``openai``
    provider pointed at an emulator."""
    return {"GEMMA_MAGICS_DB": str(tmp / "history.sqlite"),
            "GEMMA_MAGICS_CONFIG": str(tmp / "config.toml"),
            "GEMMA_MAGICS_OPENAI_BASE_URL": openai_base_url,
            "OPENAI_API_KEY": "test-key"}


def ok(run: CellRun) -> str:
    """The cell's text, after checking that it ran without error."""
    assert run.reply["content"]["status"] == "ok", run.text()
    return run.text()


def saved_outputs(messages: list[dict]) -> list[dict]:
    """The cell's outputs as the front end keeps (and saves) them: each update replaces
    the output of its display id."""
    outputs: list[dict] = []
    where: dict[str, int] = {}
    for msg in messages:
        kind, content = msg["msg_type"], msg["content"]
        display_id = content.get("transient", {}).get("display_id")
        if kind == "display_data":
            if display_id:
                where[display_id] = len(outputs)
            outputs.append(content["data"])
        elif kind == "update_display_data" and display_id in where:
            outputs[where[display_id]] = content["data"]
    return outputs


def click(kernel: Kernel, model_id: str) -> None:
    """A button click on a widget, as JupyterLab sends it."""
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": model_id, "data": {
        "method": "custom", "content": {"event": "click"}}})
    kernel.kc.shell_channel.send(msg)
