"""Running the emulator as its own process: the CLI's serve loop and a launcher for tests.

The process stops by itself after ``idle_timeout`` seconds without requests, after
``max_seconds`` if given, when its parent process dies, and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from .controller import Emulator

READY_PREFIX = "gemma_magics emulator ready at "
_URL_RE = re.compile(r"(http://\S+)")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def serve(port: int = 8787, host: str = "127.0.0.1", *, idle_timeout: float = 600.0,
          max_seconds: float | None = None, verbose: bool = False, out: TextIO | None = None,
          **settings: Any) -> str:
    """Serve until a stop condition; print the ready line first. Returns why it stopped."""
    out = out or sys.stdout
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    started = time.monotonic()
    emu = Emulator(port, host, verbose=verbose, **settings).start()
    print(READY_PREFIX + emu.base_url, file=out, flush=True)
    reason = "signal"
    try:
        while not stop.wait(0.1):
            if idle_timeout and emu.state.idle_for() > idle_timeout:
                reason = f"idle for {idle_timeout:g} s"
                break
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                reason = f"ran {max_seconds:g} s"
                break
            if os.getppid() != parent:
                reason = "parent process exited"
                break
    finally:
        emu.stop()
    print(f"gemma_magics emulator stopped: {reason}", file=sys.stderr, flush=True)
    return reason


def start_emulator_process(port: int = 0, *, host: str = "127.0.0.1",
                           idle_timeout: float = 600.0, max_seconds: float | None = None,
                           text_source: str = "scripted", extra_args: list[str] | None = None,
                           timeout: float = 30.0,
                           stderr: Any = None) -> tuple[subprocess.Popen, str]:
    """Start ``python -m gemma_magics.emulator`` and wait for its ready line.

    Returns ``(process, base_url)``; with ``port=0`` the process picks a free port and the
    URL tells which. Stop it with ``process.terminate()``; it also exits on its own when idle
    or when this process dies.
    """
    cmd = [sys.executable, "-m", "gemma_magics.emulator", "--port", str(port), "--host", host,
           "--idle-timeout", str(idle_timeout), "--text-source", text_source]
    if max_seconds is not None:
        cmd += ["--max-seconds", str(max_seconds)]
    cmd += list(extra_args or [])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if match := _URL_RE.search(line):
                return proc, match.group(1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"emulator process did not report its URL (exit code {proc.returncode})")
