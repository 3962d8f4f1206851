"""The tool loop: ``%%gemma --tools NAME --run-tools`` and :func:`run_tools`.

Without ``--run-tools`` the calls the model asks for are shown and recorded; with it, the
named Python functions run and their results go back to the model until it answers in
text, for at most ``max_rounds``. This is orchestration above :mod:`gemma_magics.api` (each
round is one :func:`~gemma_magics.api.stream` call); the specs and the running of one call
are :mod:`gemma_magics.features.tools`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import api
from ..errors import GemmaError, ValidationError
from ..events import ToolCall
from ..features.tools import ToolStep, as_tools, execute, tool_turns
from ..frontend import show
from ..palette import ERROR

DEFAULT_MAX_ROUNDS = 4


class ToolLoopError(GemmaError):
    """The model kept asking for tools past the round limit."""


def run_tools(prompt: str, provider: str | None = None, model: str | None = None, *,
              tools: Any, max_rounds: int = DEFAULT_MAX_ROUNDS,
              consume: Callable[[Any], Any] | None = None,
              on_steps: Callable[[list[ToolStep]], None] | None = None,
              messages: list[dict[str, Any]] | None = None, raise_errors: bool = True,
              **kwargs: Any):
    """Ask, run the Python tools the model calls, send the results back, repeat until the
    model answers in text (at most ``max_rounds`` calls). Returns the last
    :class:`~gemma_magics.completion.Completion`, its ``steps`` listing every tool run.

    ``consume(call_stream)`` receives each round's :class:`~gemma_magics.api.CallStream`
    (the magic renders it; the default drains it); ``on_steps`` each round's steps.
    """
    if max_rounds < 1:
        raise ValidationError(f"max_rounds={max_rounds} must be at least 1",
                              fix="give --max-rounds 1 or more")
    toolset = as_tools(tools)
    by_name = {t.name: t for t in toolset}
    spec_only = [t.name for t in toolset if t.func is None]
    if spec_only:
        raise ValidationError(f"--run-tools needs Python functions; {', '.join(spec_only)} "
                              "only has a JSON spec", fix="pass the functions, or drop --run-tools")
    conversation = list(messages or [{"role": "user", "content": prompt}])
    steps: list[ToolStep] = []
    loop_id = f"tools-{time.time_ns():x}"
    completion = None
    for round_no in range(1, max_rounds + 1):
        call = api.stream(prompt, provider, model, messages=conversation, tools=toolset,
                          extra={"tool_loop": loop_id, "tool_round": round_no}, **kwargs)
        completion = consume(call) if consume else _drain(call)
        if completion is None or completion.error is not None or not completion.tool_calls:
            break
        ran = [execute(by_name.get(c.name), c if c.id else ToolCall(
            c.name, c.arguments, f"call_{round_no}_{i}"), round_no)
            for i, c in enumerate(completion.tool_calls)]
        steps += ran
        if on_steps:
            on_steps(ran)
        conversation += tool_turns(completion.text, completion.tool_calls, ran)
    else:
        if completion is not None and completion.tool_calls:
            completion.error = ToolLoopError(
                f"the model still asked for tools after {max_rounds} rounds",
                fix="raise --max-rounds, or check what the tools return")
    if completion is not None:
        completion.steps = steps
        if raise_errors and completion.error is not None and consume is None:
            raise completion.error
    return completion


def _drain(call: Any) -> Any:
    for _ in call:
        pass
    return call.completion


def steps_bundle(steps: list[ToolStep]) -> dict[str, str]:
    """A numbered list of tool runs (HTML for notebooks, text for terminals)."""
    import html

    items = "".join(
        f'<li style="color:{ERROR if s.error else "inherit"}"><code>'
        f"{html.escape(s.line())}</code></li>" for s in steps)
    start = steps[0].round if steps else 1
    text = "\n".join(f"  {i}. {s.line()}" for i, s in enumerate(steps, 1))
    return {"text/html": f'<div style="font-size:0.85em">round {start} tools:<ol>{items}</ol></div>',
            "text/plain": f"round {start} tools:\n{text}"}


def show_steps(steps: list[ToolStep]) -> None:
    """The numbered list of a round's tool runs, in a notebook or a terminal."""
    show(steps_bundle(steps))
