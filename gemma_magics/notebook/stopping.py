"""Stopping work that runs beside the kernel's shell: the panel's Run and Compare.

A widget's click handler runs on the kernel's shell, so a Run streamed inside it would keep
the kernel from reading the next click (Stop) until the answer ended, and ipykernel ignores
an interrupt (SIGINT) while no cell executes. So the panel streams in a worker thread
(:func:`start`), and its Stop button and a kernel interrupt both set a
:class:`threading.Event` that the worker checks at every event it receives.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

_lock = threading.Lock()
_watched: set[threading.Event] = set()
_previous: Any = signal.SIG_IGN  # what SIGINT did before: still done when nothing is watched


def _on_interrupt(signum: int, frame: Any) -> None:
    with _lock:
        events = list(_watched)
    if events:
        for event in events:
            event.set()
        return
    if _previous is signal.SIG_IGN or _previous is None:
        return
    if callable(_previous):
        _previous(signum, frame)
    else:
        raise KeyboardInterrupt


def _install() -> None:
    """Route SIGINT to :func:`_on_interrupt` (main thread only: Python's rule)."""
    global _previous
    if threading.current_thread() is not threading.main_thread():
        return
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is not None and hasattr(kernel, "saved_sigint_handler"):
        # Inside a shell message (a click, a cell) ipykernel has its own handler in force
        # and puts ``saved_sigint_handler`` back when the message is done (SIG_IGN: an
        # idle kernel ignores interrupts). Ours goes there, so the interrupt reaches the
        # run after the click handler has returned; cells still get KeyboardInterrupt.
        if kernel.saved_sigint_handler is not _on_interrupt:
            _previous = kernel.saved_sigint_handler
            kernel.saved_sigint_handler = _on_interrupt
    elif signal.getsignal(signal.SIGINT) is not _on_interrupt:
        _previous = signal.signal(signal.SIGINT, _on_interrupt)


def in_kernel() -> bool:
    """True when clicks arrive as kernel messages (the case that needs a worker thread)."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def start(work: Callable[[threading.Event], Any], stop: threading.Event,
          name: str) -> threading.Thread:
    """Run ``work(stop)`` in a daemon thread; a kernel interrupt sets ``stop`` meanwhile."""
    stop.clear()
    with _lock:
        _watched.add(stop)
    _install()

    def target() -> None:
        try:
            work(stop)
        finally:
            with _lock:
                _watched.discard(stop)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class Stoppable:
    """A call's events until ``stop`` is set: then the call is closed, which records its
    partial answer as ``interrupted``, and KeyboardInterrupt is raised as a Ctrl-C would."""

    def __init__(self, stream: Any, stop: threading.Event):
        self.stream = stream
        self.stop = stop

    @property
    def completion(self) -> Any:
        return self.stream.completion

    def __iter__(self) -> Iterator[Any]:
        events = iter(self.stream)
        for event in events:
            if self.stop.is_set():
                close = getattr(events, "close", None)
                if close is not None:
                    close()
                raise KeyboardInterrupt
            yield event
