"""``gemma_magics.rate(cmp)``: rate a comparison's answers by hand, in the notebook.

One prompt at a time, its answers side by side (shown as text, escaped), 👍/👎 or 1–5 under
each, with ◀ ▶ to move and a progress line. Each click is stored at once as a score of kind
``human`` (rater: your name) in the log, beside the checks' and judges' verdicts, so
``gm.history()``, ``gm.score()`` and the agreement between humans and judges see it.

>>> r = gm.rate(cmp, scale="1-5", blind=True, rater="ana")   # shows the widget
>>> r.rate(0, "B", 4)            # or programmatically: page 0, the answer shown as B
>>> r.ratings()                  # a DataFrame of what was given
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..records.scores import HUMAN, Score, scores_of
from ..safe_text import NO_MATH, escape, model_text_html
from ..session import Session, get_session
from ..version import __version__

if TYPE_CHECKING:
    import pandas as pd

SCALES = {"thumbs": ("👍", "👎"), "1-5": ("1", "2", "3", "4", "5")}
SCORER = "human"


def rate(cmp: pd.DataFrame, *, scale: str = "thumbs", blind: bool = False,
         rater: str = "me", seed: int = 0, display: bool = True,
         session: Session | None = None) -> Rater:
    """Rate the answers of ``cmp`` (the frame of :func:`~gemma_magics.compare`) by hand.

    scale: "thumbs" (👍 = pass, 👎 = fail) or "1-5" (value (n-1)/4; 4 and 5 pass).
    blind: hide the variant names and shuffle the answers on each page (the order is
        drawn from ``seed`` and recorded with each rating).
    rater: your name, kept with each rating (several people can rate the same runs).
    display: show the widget here (ipywidgets, loaded now); False: only the object.
    Returns the :class:`Rater`; its :meth:`Rater.rate` rates without clicking.
    """
    return Rater(cmp, scale=scale, blind=blind, rater=rater, seed=seed,
                 session=session).show(display)


class Rater:
    """Pages of one prompt (and repeat) each; the answers of every variant on a page."""

    def __init__(self, cmp: Any, *, scale: str, blind: bool, rater: str, seed: int,
                 session: Session | None):
        if not hasattr(cmp, "columns") or "run_id" not in cmp.columns:
            raise TypeError("expected the DataFrame from compare() or history()")
        if scale not in SCALES:
            raise ValidationError(f"scale={scale!r}", fix='use "thumbs" or "1-5"')
        if not rater or not isinstance(rater, str):
            raise ValidationError("rater= needs your name", fix='e.g. rater="ana"')
        self.scale, self.blind, self.rater = scale, blind, rater
        self.session = session or get_session()
        self.pages = _pages(cmp)
        if not self.pages:
            raise ValidationError("nothing to rate: the frame has no answers",
                                  fix="run a comparison first")
        rng = random.Random(seed)
        self.order: list[list[int]] = []  # per page: row positions in the order shown
        for rows in self.pages:
            positions = list(range(len(rows)))
            if blind:
                rng.shuffle(positions)
            self.order.append(positions)
        self.given: dict[str, Score] = {}
        self.page = 0
        self.widget: Any = None

    # -- rating ---------------------------------------------------------------------------
    def label(self, page: int, position: int) -> str:
        """What the answer at ``position`` on ``page`` is called on screen."""
        row = self.pages[page][self.order[page][position]]
        return chr(ord("A") + position) if self.blind else str(row["variant"])

    def rate(self, page: int, answer: str | int, value: Any) -> Score:
        """Rate one answer: ``answer`` is its label on that page (``"A"`` when blind, else
        the variant) or its position; ``value`` 👍/👎/True/False or 1–5. Stored at once."""
        positions = range(len(self.pages[page]))
        if isinstance(answer, int):
            position = answer
        else:
            found = [p for p in positions if self.label(page, p) == answer]
            if not found:
                raise ValidationError(f"page {page} has no answer {answer!r}",
                                      fix="use one of " + ", ".join(
                                          self.label(page, p) for p in positions))
            position = found[0]
        row = self.pages[page][self.order[page][position]]
        rating, normal, passed = self._value(value)
        detail = {"rating": rating, "scale": self.scale, "blind": self.blind,
                  "shown_as": self.label(page, position), "position": position}
        score = Score(run_id=row["run_id"], scorer=SCORER, kind=HUMAN, value=normal,
                      passed=passed, reason=f"{self.rater} rated it {rating}",
                      version=__version__, rater=self.rater, detail=json.dumps(detail))
        scores_of(self.session.log).add([score])
        self.given[row["run_id"]] = score
        self._draw()
        return score

    def _value(self, value: Any) -> tuple[Any, float, bool]:
        if self.scale == "thumbs":
            if value in ("👍", True, 1, "up", "+"):
                return "👍", 1.0, True
            if value in ("👎", False, 0, "down", "-"):
                return "👎", 0.0, False
            raise ValidationError(f"{value!r} is not a thumbs rating", fix="use 👍 or 👎")
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = 0
        if not 1 <= n <= 5 or isinstance(value, bool):
            raise ValidationError(f"{value!r} is not a rating from 1 to 5", fix="use 1–5")
        return n, (n - 1) / 4, n >= 4

    @property
    def progress(self) -> tuple[int, int]:
        """(answers rated, answers to rate)."""
        total = sum(len(rows) for rows in self.pages)
        return len(self.given), total

    def ratings(self) -> pd.DataFrame:
        """The ratings given here: run, variant, prompt, rating, value, passed."""
        import pandas as pd

        by_run = {row["run_id"]: row for rows in self.pages for row in rows}
        return pd.DataFrame([
            {"run_id": s.run_id, "variant": by_run[s.run_id]["variant"],
             "prompt": by_run[s.run_id]["prompt"], "rating": s.details()["rating"],
             "value": s.value, "passed": s.passed, "rater": s.rater}
            for s in self.given.values()],
            columns=["run_id", "variant", "prompt", "rating", "value", "passed", "rater"])

    # -- the widget -----------------------------------------------------------------------
    def show(self, display: bool = True) -> Rater:
        if not display:
            return self
        import ipywidgets as w
        from IPython.display import display as show

        self._w = w
        self.head = w.HTML()
        self.body = w.HBox(layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.status = w.HTML()
        back, forward = w.Button(description="◀ previous"), w.Button(description="next ▶")
        back.on_click(lambda _: self.go(self.page - 1))
        forward.on_click(lambda _: self.go(self.page + 1))
        self.widget = w.VBox([self.head, self.body, w.HBox([back, forward, self.status])])
        self._draw()
        show(self.widget)
        return self

    def go(self, page: int) -> None:
        self.page = max(0, min(len(self.pages) - 1, page))
        self._draw()

    def _draw(self) -> None:
        if self.widget is None:
            return
        w = self._w
        rows = self.pages[self.page]
        prompt = rows[0]["prompt"]
        self.head.value = (f'<div class="{NO_MATH}"><b>Prompt {self.page + 1} of '
                           f'{len(self.pages)}</b><div style="white-space:pre-wrap">'
                           f"{escape(prompt)}</div></div>")
        boxes = []
        for position in range(len(rows)):
            row = rows[self.order[self.page][position]]
            given = self.given.get(row["run_id"])
            buttons = []
            for choice in SCALES[self.scale]:
                chosen = given is not None and str(given.details()["rating"]) == choice
                b = w.Button(description=choice, button_style="info" if chosen else "",
                             layout=w.Layout(width="3.2em"))
                b.on_click(lambda _, p=position, c=choice: self.rate(self.page, p, c))
                buttons.append(b)
            text = model_text_html(row["response"] or "", style="white-space:pre-wrap")
            boxes.append(w.VBox([
                w.HTML(f'<div class="{NO_MATH}"><b>{escape(self.label(self.page, position))}'
                       f'</b><div style="max-height:18em;overflow:auto">{text}</div></div>'),
                w.HBox(buttons)], layout=w.Layout(width="22em", margin="0 8px 8px 0",
                                                  border="1px solid #ddd", padding="4px")))
        self.body.children = boxes
        done, total = self.progress
        self.status.value = f"&nbsp;{done} of {total} answers rated"


def _pages(cmp: Any) -> list[list[dict[str, Any]]]:
    """The finished runs grouped by prompt and repeat number, variants in order."""
    frame = cmp[cmp["status"] == "ok"] if "status" in cmp.columns else cmp
    if "extra" in frame.columns:  # not a judge's own calls
        frame = frame[~frame["extra"].fillna("").astype(str).str.contains('"judged_run"')]
    rows = frame.to_dict("records")
    for row in rows:
        if row.get("variant") is None or row.get("variant") != row.get("variant"):
            row["variant"] = f"{row.get('provider')} · {row.get('model')}"
    counters: dict[tuple[str, str], int] = {}
    pages: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["prompt"], row["variant"])
        repeat = counters.get(key, 0)
        counters[key] = repeat + 1
        pages.setdefault((row["prompt"], repeat), []).append(row)
    return list(pages.values())
