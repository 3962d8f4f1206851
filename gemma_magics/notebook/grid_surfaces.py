"""Where the live comparison grid draws: a display handle in the cell (with a progress bar
for big grids, made static when it ends) or an ``ipywidgets.Output`` (the panel's), and the
rate limit that keeps a grid from flooding the front end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .display import MAX_UPDATES_PER_S


class Budget:
    """Allows at most ``rate`` front-end messages a second, shared by everything drawn."""

    def __init__(self, rate: float = MAX_UPDATES_PER_S,
                 clock: Callable[[], float] = time.perf_counter):
        self.interval = 1.0 / rate
        self.clock = clock
        self.last = -float("inf")
        self.sent = 0

    def take(self, force: bool = False) -> bool:
        now = self.clock()
        if not force and now - self.last < self.interval:
            return False
        self.last = now
        self.sent += 1
        return True


class HandleSurface:
    """An IPython display handle (a notebook cell's output), plus a progress bar."""

    def __init__(self, progress_max: int | None = None):
        from IPython.display import display

        self._display = display
        self.handle = None
        self.bar = None
        self.bar_handle = None
        if progress_max is not None:
            try:
                import ipywidgets
            except ImportError:  # the HTML grid still shows the count
                pass
            else:
                self.bar = ipywidgets.IntProgress(
                    value=0, min=0, max=progress_max, description="runs",
                    bar_style="info", layout=ipywidgets.Layout(width="60%"),
                )
                self.bar_handle = display(self.bar, display_id=True)

    def show(self, bundle: dict[str, Any]) -> None:
        if self.handle is None:
            self.handle = self._display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def progress(self, value: int, failed: bool = False) -> bool:
        """Move the bar; False when there is no bar or nothing changed."""
        if self.bar is None or (self.bar.value == value and not failed):
            return False
        self.bar.value = value
        if failed:
            self.bar.bar_style = "danger"
        elif value >= self.bar.max:
            self.bar.bar_style = "success"
        return True

    def append(self, obj: Any) -> None:
        self._display(obj)

    def settle(self) -> None:
        """The comparison ended: the bar's output becomes static (a saved notebook reopened
        without its kernel would show "model not found" for a widget), the widget closes."""
        if self.bar is not None:
            self.bar_handle.update({"text/plain": ""}, raw=True)
            self.bar.close()
            self.bar = None


class OutputSurface:
    """An ``ipywidgets.Output`` (the panel): the grid is its first output, views follow."""

    def __init__(self, output: Any):
        self.output = output
        self.head: dict[str, Any] | None = None
        self.tail: list[dict[str, Any]] = []

    def show(self, bundle: dict[str, Any]) -> None:
        self.head = {"output_type": "display_data", "data": bundle, "metadata": {}}
        self.output.outputs = (self.head, *self.tail)

    def progress(self, value: int, failed: bool = False) -> bool:
        return False

    def append(self, obj: Any) -> None:
        from IPython.core.formatters import DisplayFormatter

        # every MIME type, whatever the current shell shows: the widget renders in a browser
        data, metadata = DisplayFormatter().format(obj)
        self.tail.append({"output_type": "display_data", "data": data, "metadata": metadata})
        self.output.outputs = (*([self.head] if self.head else []), *self.tail)
