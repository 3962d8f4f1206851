"""Scoring a comparison while it runs: each cell's checks as soon as it finishes, then the
judges (which need every answer, for pairwise), all stored in the log's scores table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..records.scores import Score, join, scores_of
from ..scoring.score import Scorer, summary_verdict
from .gridstate import OK, SKIPPED, GridState
from .plan import Run

if TYPE_CHECKING:
    import pandas as pd

    from ..session import Session


def expected_per_prompt(expected: Any, runs: list[Run]) -> list[Any] | None:
    """``compare(expected=...)`` → one reference answer per prompt index: a string (one
    prompt), a list or Series aligned with the prompts, or a mapping prompt → answer."""
    if expected is None:
        return None
    prompts: dict[int, str] = {}
    for run in runs:
        prompts.setdefault(run.prompt_index, run.prompt)
    ordered = [prompts[i] for i in sorted(prompts)]
    if isinstance(expected, str):
        values = [expected] * len(ordered) if len(ordered) == 1 else None
        if values is None:
            raise ValidationError(f"expected= is one answer for {len(ordered)} prompts",
                                  fix="give one reference answer per prompt (a list or column)")
        return values
    if isinstance(expected, Mapping):
        return [expected.get(p) for p in ordered]
    values = list(expected.values if hasattr(expected, "values") else expected)
    if len(values) != len(ordered):
        raise ValidationError(f"expected= has {len(values)} answers for {len(ordered)} prompts",
                              fix="give one reference answer per prompt, in the same order")
    return values


class LiveScoring:
    """The scorer of one comparison and the scores it has given so far."""

    def __init__(self, scorer: Scorer, runs: list[Run], expected: list[Any] | None,
                 session: Session, baseline: str | None = None):
        self.scorer, self.session, self.baseline = scorer, session, baseline
        self.expected = expected
        self.prompt_of = {run.index: run.prompt_index for run in runs}
        self.scores: dict[int, list[Score]] = {}
        if baseline is not None and baseline not in {r.variant for r in runs}:
            raise ValidationError(f"baseline={baseline!r} is not a variant of this comparison",
                                  fix="use one of " + ", ".join(sorted({r.variant for r in runs})))

    def reference(self, index: int) -> Any:
        return None if self.expected is None else self.expected[self.prompt_of[index]]

    def check_finished(self, state: GridState) -> None:
        """Checks on every cell that finished since the last call (cheap: main thread)."""
        if not self.scorer.checks and not self.scorer.judges:
            return
        for cell in state.cells:
            if cell.index in self.scores or not cell.done or cell.record is None:
                continue
            row = cell.record.as_row()
            checked = self.scorer.check(row, self.reference(cell.index))
            self.scores[cell.index] = checked
            if checked:
                cell.verdict = summary_verdict(checked)
                state.touch()

    def judge_all(self, state: GridState, refresh: Any) -> None:
        """The judges, cell by cell, once every run has finished; the view redrawn after
        each verdict."""
        if not self.scorer.judges:
            return
        baselines = self._baseline_answers(state)
        for cell in state.cells:
            checked = self.scores.get(cell.index)
            if checked is None or cell.record is None or cell.status not in (OK, SKIPPED):
                continue
            row = cell.record.as_row()
            if not self.scorer.wants_judge(row, checked):
                continue
            if self._pairwise and cell.variant == self._base_variant(state):
                continue
            cell.note = "judging…"
            state.touch()
            refresh()
            judged = self.scorer.judge(row, self.reference(cell.index),
                                       baselines.get(cell.index), self.session)
            self.scores[cell.index] = checked + judged
            cell.note = None
            cell.verdict = summary_verdict(self.scores[cell.index])
            state.touch()
            refresh()

    @property
    def _pairwise(self) -> bool:
        return any(j.pairwise for j in self.scorer.judges)

    def _base_variant(self, state: GridState) -> str:
        return self.baseline or state.variants[0]

    def _baseline_answers(self, state: GridState) -> dict[int, str]:
        if not self._pairwise:
            return {}
        base = self._base_variant(state)
        theirs = {(c.prompt_index, c.repeat): c.text for c in state.cells
                  if c.variant == base and c.status in (OK, SKIPPED)}
        return {c.index: theirs[(c.prompt_index, c.repeat)] for c in state.cells
                if c.variant != base and (c.prompt_index, c.repeat) in theirs}

    def store(self) -> None:
        scores = [s for group in self.scores.values() for s in group]
        scores_of(self.session.log).add(scores)

    def joined(self, frame: pd.DataFrame, state: GridState) -> pd.DataFrame:
        """The result frame with the scores beside it and the reference answers."""
        import pandas as pd

        out = join(frame, [s for group in self.scores.values() for s in group])
        if self.expected is not None:
            refs = {c.record.run_id: self.reference(c.index) for c in state.cells
                    if c.record is not None}
            out["expected"] = pd.Series([refs.get(r) for r in out["run_id"]],
                                        index=out.index, dtype=object)
        out.attrs["scoring"] = {"checks": [c.name for c in self.scorer.checks],
                                "judges": [repr(j) for j in self.scorer.judges],
                                "baseline": self.baseline, "notices": self.scorer.notices}
        return out
