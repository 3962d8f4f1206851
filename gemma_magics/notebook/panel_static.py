"""The panel's results kept as ordinary output of its cell, so they survive a reload.

The panel's controls and its Run and Compare boxes are widgets: a saved notebook reopened
without the kernel that drew them shows JupyterLab's "Error displaying widget: model not
found" instead. So when the panel is shown, one plain HTML display is put under it, and
each finished Run or Compare is copied there with its prompt and stats line. Its CSS
(JupyterLab's and Notebook 7's class names) decides which of the two shows:

* while the panel's widget is drawn, the copy is hidden (the widget shows the same);
* once the widget cannot be drawn, the widget's "model not found" line is hidden and the
  copy shows, under a note saying what the panel was.

A front end without those class names (or a browser without CSS ``:has()``) shows both.
The copies are updated from the panel's worker thread; the update carries the parent
header of the cell that showed the panel, so it goes to that cell whatever runs now.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Callable
from typing import Any

from ..palette import MUTED
from ..safe_text import NO_MATH, line_html

#: How JupyterLab (and Notebook 7, built on it) draw a widget's output: a Lumino panel,
#: which itself carries ``jupyter-widgets`` only when it holds the error text instead of
#: the widget (the widget's own element is its child then; JupyterLab sets no
#: ``data-mime-type`` on it).
WIDGET = ".jp-OutputArea-output.lm-Panel"
CSS = f"""<style>
.jp-OutputArea-child:has(> {WIDGET}:not(.jupyter-widgets))
  + .jp-OutputArea-child .gm-panel-offline {{display: none}}
.jp-OutputArea-child:has(> {WIDGET}.jupyter-widgets):has(
  + .jp-OutputArea-child .gm-panel-static) {{display: none}}
</style>"""
BOX = ("border:1px solid var(--jp-border-color2, #ddd);max-height:24em;overflow:auto;"
       "padding:4px;margin-top:2px")


def outputs_html(outputs: Any) -> tuple[str, str]:
    """An ``ipywidgets.Output``'s outputs as one HTML block and its plain text. The HTML
    parts are the panel's own renderings (answers, grid and tables already went through
    :mod:`gemma_magics.safe_text`); an image becomes an ``<img>``; anything else is shown
    as escaped text."""
    parts, texts = [], []
    for output in outputs:
        data = output.get("data", {}) if output.get("output_type") != "stream" else {
            "text/plain": output.get("text", "")}
        plain = str(data.get("text/plain", ""))
        if "text/html" in data:
            parts.append(str(data["text/html"]))
        elif "image/png" in data:
            png = data["image/png"]
            png = base64.b64encode(png).decode() if isinstance(png, bytes) else png
            parts.append(f'<img src="data:image/png;base64,{png}" alt="chart">')
            plain = plain or "[chart]"
        else:
            parts.append(f'<pre class="{NO_MATH}">{html.escape(plain)}</pre>')
        if plain:
            texts.append(plain)
    return "".join(parts), "\n".join(texts)


def result_part(title: str, outputs: Any, footer: str) -> dict[str, str]:
    """One finished Run or Compare: ``title`` (what ran, the prompt), its outputs in a
    box as bounded as the panel's, and ``footer`` (the stats line)."""
    body, text = outputs_html(outputs)
    return {
        "html": (f'{line_html(title, MUTED)}<div class="{NO_MATH}" style="{BOX}">{body}</div>'
                 f'{line_html(footer, MUTED)}'),
        "text": "\n".join(x for x in (title, text, footer) if x),
    }


def _thread_parent(pub: Any, parent: dict[str, Any] | None):
    """Set ``parent`` as the parent header of displays made by this thread (ipykernel's
    own per-thread parent); returns the undo, or None where that is not available."""
    setter = getattr(pub, "set_thread_parent", None)
    if parent is None or setter is None:
        return None
    token = setter(parent)
    return lambda: pub.reset_thread_parent(token)


class StaticCopy:
    """The display under a shown panel holding its last Run and last Compare."""

    def __init__(self, note: Callable[[], str]):
        self.note = note  # what the panel was, for a reader without its widgets
        self.parts: dict[str, dict[str, str] | None] = {"run": None, "compare": None}
        self.targets: list[tuple[str, dict[str, Any] | None]] = []  # display id, parent

    @property
    def shown(self) -> bool:
        return bool(self.targets)

    def bundle(self) -> dict[str, str]:
        done = [p for p in self.parts.values() if p]
        note = self.note()
        return {
            "text/html": (f'<div class="gm-panel-static {NO_MATH}">{CSS}'
                          f'<div class="gm-panel-offline">{line_html(note, MUTED)}'
                          + "".join(p["html"] for p in done) + "</div></div>"),
            "text/plain": "\n\n".join([note, *(p["text"] for p in done)]),
        }

    def show(self) -> None:
        """Put the display under the panel (call right after the panel's own display)."""
        from IPython import get_ipython
        from IPython.display import display

        pub = getattr(get_ipython(), "display_pub", None)
        parent = getattr(pub, "parent_header", None)
        display_id = f"gemma-panel-{uuid.uuid4().hex}"
        display(self.bundle(), raw=True, display_id=display_id)
        self.targets.append((display_id, dict(parent) if parent else None))

    def set(self, which: str, part: dict[str, str] | None) -> None:
        """``which`` ("run" or "compare") now shows ``part`` (None: nothing); every display
        of this panel is updated, in the cell that showed it."""
        self.parts[which] = part
        from IPython import get_ipython
        from IPython.display import update_display

        pub = getattr(get_ipython(), "display_pub", None)
        data = self.bundle()
        for display_id, parent in self.targets:
            undo = _thread_parent(pub, parent)
            try:
                update_display(data, raw=True, display_id=display_id)
            finally:
                if undo is not None:
                    undo()
