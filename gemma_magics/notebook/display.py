"""Streaming an answer into a notebook cell (or a terminal) without flooding the front end.

In a Jupyter kernel one display handle is updated as text arrives, at most
:data:`MAX_UPDATES_PER_S` times a second whatever the token rate, and always once more at
the end so the final text is complete. A thinking model's reasoning streams into its own
collapsed "thinking" section above the answer, under the same budget (the two together
stay within the rate). Elsewhere (terminal IPython, scripts) text is
printed as it arrives.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ..completion import empty_after_thinking
from ..events import Done, Notice, ReasoningDelta, Retrying, TextDelta, ToolCall
from ..frontend import in_notebook
from ..palette import ERROR, MUTED, WARN
from ..safe_text import (
    clean,
    code_markdown,
    line_html,
    markdown_source,
    text_bundle,
    thinking_bundle,
)
from .footer import footer_text

MAX_UPDATES_PER_S = 20
#: ``literal`` (the default): the answer as written, escaped, line breaks kept, no math.
FORMATS = ("literal", "markdown", "text", "code", "json")
DEFAULT_FORMAT = "literal"


def bundle(text: str, fmt: str = DEFAULT_FORMAT) -> dict[str, Any]:
    """The MIME bundle for answer ``text`` in format ``fmt``; every format follows the rule
    of :mod:`gemma_magics.safe_text` (no markup of the answer runs, no math typesetting)."""
    if fmt == "literal":
        return text_bundle(text)
    shown = clean(text)
    if fmt == "markdown":
        return {"text/markdown": markdown_source(shown), "text/plain": shown}
    if fmt == "code":
        return {"text/markdown": code_markdown(shown), "text/plain": shown}
    if fmt == "json":
        try:
            value = json.loads(shown)
        except ValueError:
            return {"text/plain": shown}
        return {"application/json": value, "text/plain": json.dumps(value, indent=2)}
    return {"text/plain": shown}


def _line(text: str, color: str) -> dict[str, str]:
    return {"text/html": line_html(text, color), "text/plain": text}


class NotebookRenderer:
    """One display handle per answer, updated at most ``max_rate`` times a second."""

    def __init__(self, fmt: str = DEFAULT_FORMAT, max_rate: float = MAX_UPDATES_PER_S):
        from IPython.display import display

        self._display = display
        self.fmt = fmt
        self.min_interval = 1.0 / max_rate
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.handle = None
        self.thinking_handle = None
        self._thoughts_dirty = False
        self.status_handle = None
        self._status_shown = False
        self._stale = False  # the answer's handle still shows a cleared status line
        self.updates = 0
        self._last = 0.0
        self._dirty = False

    def _show(self, data: dict[str, Any]) -> None:
        if self.handle is None:
            self.handle = self._display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)
        self.updates += 1
        self._last = time.perf_counter()
        self._dirty = False
        self._stale = False

    def _status(self, data: dict[str, Any] | None) -> None:
        """A transient line (loading, retrying) until text arrives; None clears it."""
        self._status_shown = data is not None
        if data is None and self.handle is None:  # the answer takes the line's place:
            self.handle, self.status_handle = self.status_handle, None  # no empty output
            self._stale = True
            return
        data = data or {"text/plain": ""}
        if self.status_handle is None:
            self.status_handle = self._display(data, raw=True, display_id=True)
        else:
            self.status_handle.update(data, raw=True)

    def start(self) -> None:
        """Nothing yet: notices come first, so they sit above the answer."""

    def text(self, delta: str) -> None:
        if self._status_shown:
            self._status(None)
        self.parts.append(delta)
        self._dirty = True
        if time.perf_counter() - self._last >= self.min_interval:
            self._show(bundle("".join(self.parts), "text" if self.fmt == "json" else self.fmt))

    def reasoning(self, delta: str) -> None:
        if self._status_shown:
            self._status(None)
        self.thoughts.append(delta)
        self._thoughts_dirty = True
        if time.perf_counter() - self._last >= self.min_interval:
            self._show_thinking()

    def _show_thinking(self) -> None:
        data = thinking_bundle("".join(self.thoughts))
        if self.thinking_handle is None:
            self.thinking_handle = self._display(data, raw=True, display_id=True)
        else:
            self.thinking_handle.update(data, raw=True)
        self.updates += 1
        self._last = time.perf_counter()
        self._thoughts_dirty = False

    def notice(self, message: str, level: str = "info", *, transient: bool = False) -> None:
        data = _line(message, WARN if level == "warning" else MUTED)
        if transient:
            self._status(data)
        else:
            self._display(data, raw=True)

    def finish(self, record: Any, error: Exception | None) -> None:
        if self._status_shown:
            self._status(None)
        if self._thoughts_dirty:
            self._show_thinking()
        lines = [_line(str(error), ERROR)] if error is not None else []
        lines.append(_line(footer_text(record), MUTED))
        text = "".join(self.parts)
        empty = empty_after_thinking(record) if error is None and not text else None
        if empty:  # say why there is no answer, not an empty success
            lines.insert(0, _line(empty, WARN))
        if text or (self.handle is not None and not self._stale and not empty):
            self._show(bundle(text, self.fmt))
        elif self.handle is not None:  # no answer: the status line's place takes the next line
            self.handle.update(lines.pop(0), raw=True)
        for line in lines:
            self._display(line, raw=True)


class PrintRenderer:
    """Prints text as it arrives (terminal IPython, plain Python)."""

    def __init__(self, fmt: str = DEFAULT_FORMAT, stream=None):
        self.fmt = fmt
        self.out = stream or sys.stdout
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.updates = 0

    def start(self) -> None:
        pass

    def reasoning(self, delta: str) -> None:
        if not self.thoughts:
            self.out.write("[thinking] ")
        self.thoughts.append(delta)
        self.out.write(clean(delta))
        self.out.flush()
        self.updates += 1

    def text(self, delta: str) -> None:
        if self.thoughts and not self.parts:
            self.out.write("\n[answer] ")
        self.parts.append(delta)
        self.out.write(clean(delta))
        self.out.flush()
        self.updates += 1

    def notice(self, message: str, level: str = "info", *, transient: bool = False) -> None:
        print(f"[{message}]", file=self.out, flush=True)

    def finish(self, record: Any, error: Exception | None) -> None:
        if (self.parts or self.thoughts) and not "".join(self.parts or self.thoughts).endswith("\n"):
            self.out.write("\n")
        empty = empty_after_thinking(record) if error is None else None
        if empty:
            print(empty, file=self.out)
        if error is not None:
            print(f"Error: {error}", file=self.out)
        print(f"-- {footer_text(record)}", file=self.out, flush=True)


class OutputRenderer:
    """Streams an answer into an ``ipywidgets.Output`` by replacing its outputs, at most
    20 times a second, and once more at the end."""

    def __init__(self, output: Any):
        self.output = output
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.notes: list[dict[str, Any]] = []
        self.status: dict[str, Any] | None = None  # "loading model…": gone once text arrives
        from .grid_surfaces import Budget  # it imports this module

        self.budget = Budget()
        self.updates = 0
        output.outputs = ()

    def text(self, delta: str) -> None:
        self.parts.append(delta)
        self.status = None
        if self.budget.take():
            self._show()

    def reasoning(self, delta: str) -> None:
        self.thoughts.append(delta)
        self.status = None
        if self.budget.take():
            self._show()

    def start(self) -> None:
        """Nothing to show until a notice or text arrives."""

    def notice(self, message: str, level: str = "info", *, transient: bool = False,
               error: bool = False) -> None:
        color = ERROR if error else WARN
        line = {"output_type": "display_data", "metadata": {}, "data": {
            "text/html": line_html(message, color), "text/plain": message}}
        if transient:
            self.status = line
        else:
            self.notes.append(line)
        self._show()

    def finish(self, record: Any = None, error: Exception | None = None) -> None:
        """Final render; the footer goes to the panel's stats line, not here."""
        self.status = None
        empty = empty_after_thinking(record) if record is not None and error is None else None
        if error is not None:
            self.notice(str(error), error=True)
        elif empty:
            self.notice(empty)
        else:
            self._show()

    def _show(self) -> None:
        answer = {"output_type": "display_data", "metadata": {},
                  "data": bundle("".join(self.parts))}  # the literal rule
        status = (self.status,) if self.status else ()
        thinking = ({"output_type": "display_data", "metadata": {},
                     "data": thinking_bundle("".join(self.thoughts))},) if self.thoughts else ()
        self.output.outputs = (*self.notes, *status, *thinking, answer)
        self.updates += 1


def make_renderer(fmt: str = DEFAULT_FORMAT):
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return NotebookRenderer(fmt) if in_notebook() else PrintRenderer(fmt)


def render_stream(events, renderer) -> Any:
    """Feed a call's events to ``renderer``; returns the Completion from the Done event.

    On KeyboardInterrupt the partial text is rendered with an "interrupted" footer, then
    the interrupt propagates.
    """
    renderer.start()
    completion = None
    try:
        for event in events:
            kind = type(event)
            if kind is TextDelta:
                renderer.text(event.text)
            elif kind is ReasoningDelta:
                reasoning = getattr(renderer, "reasoning", None)
                if reasoning is not None:  # a renderer that shows no thinking skips it
                    reasoning(event.text)
            elif kind is Notice:
                renderer.notice(event.message, event.level, transient=event.message.endswith("…"))
            elif kind is Retrying:
                renderer.notice(
                    f"{event.error} — retrying in {event.wait_s:.1f} s (attempt {event.attempt + 1})",
                    "warning",
                    transient=True,
                )
            elif kind is ToolCall:
                args = json.dumps(event.arguments, ensure_ascii=False)
                renderer.notice(f"tool call: {event.name}({args})")
            elif kind is Done:
                completion = event.completion
    except KeyboardInterrupt:
        partial = getattr(events, "completion", None)
        if partial is not None:
            renderer.finish(partial.record, None)
        raise
    if completion is not None:
        renderer.finish(completion.record, completion.error)
    return completion

