"""What the panel's buttons do: Run streams one answer into the panel's output, Compare runs
the prompt on the ticked providers into its own output, and the status line says how it
went. The panel's layout and its controls' wiring are :mod:`gemma_magics.notebook.panel`."""

from __future__ import annotations

import html
import threading
from typing import Any

from ..errors import GemmaError
from ..palette import ERROR, MUTED
from ..safe_text import NO_MATH
from .display import OutputRenderer, render_stream
from .footer import footer_text
from .panel_static import result_part
from .stopping import Stoppable, in_kernel, start


class PanelActions:
    """Run, Compare, Stop and the status line, mixed into :class:`~.panel.Panel` (which
    builds the widgets these read: ``prompt``, ``provider``, ``model``, ``output``,
    ``compare_output``, ``compare_with``, ``checks``, ``budget``, ``stats``...).

    Clicked in a notebook, Run and Compare work in a thread beside the kernel so that Stop
    (or the kernel's interrupt) can end them; called as methods they run here and return."""

    worker: threading.Thread | None = None

    def run(self, button: Any = None) -> Any:
        """Send the prompt with the panel's settings, streaming the answer into the output;
        returns the Completion (also in :attr:`last`), None when clicked in a notebook (it
        streams on; :meth:`wait` for it)."""
        from .. import api

        prompt = self.prompt.value.strip("\n")
        if not prompt.strip():
            self._say("write a prompt first", error=True)
            return None
        if self._busy():
            return None
        try:
            call = api.stream(prompt, self.provider.value, self.model.value,
                              session=self.session)
        except GemmaError as exc:
            self._say(str(exc), error=True)
            return None
        sink = OutputRenderer(self.output)
        self.output.layout.display = None
        self.run_button.disabled = True
        self._say("running…")
        title = f"Run · {self.provider.value} · {self.model.value} · prompt: {prompt}"
        self._streaming("run")
        return self._begin(button, lambda stop: self._kept(
            "run", title, self.output, lambda: self._stream(call, sink, stop)))

    def _stream(self, call: Any, sink: Any, stop: threading.Event | None) -> Any:
        try:
            completion = render_stream(call if stop is None else Stoppable(call, stop), sink)
        except KeyboardInterrupt:
            from .magics import stopped

            self.last = call.completion
            footer = "" if self.last is None else "\n" + footer_text(self.last.record)
            self._say(str(stopped(self.last)) + footer, error=True)
            if stop is None:
                raise
            return self.last
        finally:
            self.run_button.disabled = False
        self.last = completion
        if completion is not None:
            error = f" — {completion.error}" if completion.error else ""
            self._say(footer_text(completion.record) + error, error=bool(error))
        return completion

    def compare(self, button: Any = None) -> Any:
        """Run the prompt on every ticked provider at once, live, into :attr:`compare_output`;
        returns the DataFrame (also in :attr:`last`), None when clicked in a notebook."""
        prompt = self.prompt.value.strip("\n")
        if not prompt.strip():
            self._say("write a prompt first", error=True)
            return None
        if self._busy():
            return None
        providers = list(self.compare_with.value) or [self.provider.value]
        budget = self._budget()
        if budget is False:
            return None
        self.compare_output.outputs = ()
        self.compare_output.layout.display = None
        self.compare_button.disabled = True
        self._say(f"comparing {', '.join(providers)}…")
        title = f"Compare · {', '.join(providers)} · prompt: {prompt}"
        self._streaming("compare")
        return self._begin(button, lambda stop: self._kept(
            "compare", title, self.compare_output,
            lambda: self._compare(prompt, providers, budget, stop)))

    def _compare(self, prompt: str, providers: list[str], budget: float | None,
                 stop: threading.Event | None) -> Any:
        from ..errors import Interrupted
        from .live_compare import compare

        try:
            checks = [c.strip() for c in self.checks.value.split(",") if c.strip()] or None
            frame = compare(prompt, providers=providers, session=self.session,
                            display=self.compare_output, checks=checks, budget=budget,
                            budget_unknown="allow" if self.budget_allow_unknown.value
                            else "refuse", cancel=stop)
        except Interrupted as exc:
            self.last = exc.result
            self._say(str(exc), error=True)
            if stop is None:
                raise
            return self.last
        except GemmaError as exc:
            self._say(str(exc), error=True)
            return None
        finally:
            self.compare_button.disabled = False
        self.last = frame
        ok = int((frame["status"] == "ok").sum())
        skipped = int((frame["status"] == "skipped").sum())
        line = (f"{len(frame)} runs · {ok} ok" + (f" · {skipped} not sent" if skipped else "")
                + f" · {frame.attrs['compare']['wall_s']:.1f} s")
        if "passed" in frame.columns:
            from ..comparisons.views import quality_line

            line += "\n" + quality_line(frame)
        self._say(line)
        return frame

    def _streaming(self, which: str) -> None:
        """A Run or Compare starts: the static copy of the previous one goes."""
        if self.static.shown:
            self.static.set(which, None)

    def _kept(self, which: str, title: str, output: Any, work: Any) -> Any:
        """``work()``, then its result copied as static output of the panel's cell, which
        a saved notebook shows without the kernel (see :mod:`.panel_static`)."""
        try:
            return work()
        finally:
            if self.static.shown:
                self.static.set(which, result_part(title, output.outputs, self._said))

    def stop(self, _button: Any = None) -> None:
        """End the Run or Compare in flight: the partial answers are recorded as interrupted."""
        self._stop_event.set()

    def wait(self, timeout: float | None = None) -> Any:
        """Until the Run or Compare in flight has ended; returns :attr:`last`."""
        if self.worker is not None:
            self.worker.join(timeout)
        return self.last

    def _busy(self) -> bool:
        if self.worker is not None and self.worker.is_alive():
            self._say("a Run or Compare is still going: Stop it first", error=True)
            return True
        return False

    def _begin(self, button: Any, work: Any) -> Any:
        if button is None or not in_kernel():
            return work(None)
        self.stop_button.disabled = False

        def then_stop_off(stop: threading.Event) -> None:
            try:
                work(stop)
            except Exception as exc:  # a thread has nobody to raise to: say it
                self._say(f"{type(exc).__name__}: {exc}", error=True)
            finally:
                self.stop_button.disabled = True

        self.worker = start(then_stop_off, self._stop_event, name="gemma-panel")
        return None

    def _budget(self) -> float | None | bool:
        """The budget box as USD (None when empty); False after saying what is wrong."""
        text = self.budget.value.strip().lstrip("$")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value >= 0:
            self._say(f"budget {self.budget.value!r} is not an amount in USD (e.g. 0.50)",
                      error=True)
            return False
        return value

    _said = ""  # the status line's text

    def _say(self, text: str, error: bool = False) -> None:
        self._said = text
        color = ERROR if error else MUTED
        self.stats.value = (f'<span class="{NO_MATH}" style="color:{color}; '
                            f'white-space:pre-line">{html.escape(text)}</span>')
