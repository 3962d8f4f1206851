"""The ``%%gemma_compare`` cell magic: a thin parser in front of :func:`gemma_magics.compare`."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..catalog.models import INTEGER_PARAMS, RANGED_PARAMS
from ..errors import ConfigError, Interrupted, ValidationError
from ..params import think_value
from .interpolate import interpolate
from .magic_line import escaped, parse_line, plain_help


def parse_values(flag: str, text: str, integer: bool) -> list[int | float]:
    """``"0.2,0.9"`` → ``[0.2, 0.9]``; a bad item is a one-line UsageError."""
    values: list[int | float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(int(item) if integer else float(item))
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise UsageError(f"--{flag}: {item!r} is not {kind} (give values like 1,2)") \
                from None
    if not values:
        raise UsageError(f"--{flag} needs at least one value")
    return values


@magics_class
class CompareMagics(Magics):
    """``%%gemma_compare``: one prompt across providers × models × settings, side by side."""

    @plain_help
    @magic_arguments()
    @argument("-p", "--providers", help="comma-separated providers (default: the session's)")
    @argument("-m", "--models", help="comma-separated model ids; PROVIDER=ID pins one to a "
              "provider")
    @argument("--max-tokens", help="most tokens to generate; a list is a grid axis")
    @argument("--temperature", help="e.g. 0.2,0.9: one variant per value")
    @argument("--top-p", help="nucleus sampling mass (list: grid axis)")
    @argument("--top-k", help="sample from the k most likely tokens (list: grid axis)")
    @argument("--seed", help="random seed (list: grid axis)")
    @argument("--repetition-penalty", help="(list: grid axis)")
    @argument("--frequency-penalty", help="(list: grid axis)")
    @argument("--presence-penalty", help="(list: grid axis)")
    @argument("--think", help="thinking models: on, off, or on,off (a grid axis)")
    @argument("--stop", action="append", type=escaped,
              help="stop sequence (repeatable; applies to all; \\n is a newline)")
    @argument("--system", help="system prompt for every run")
    @argument("--repeat", type=int, default=1, metavar="N", help="runs per combination")
    @argument("--concurrency", type=int, default=8, metavar="N", help="runs in flight at once")
    @argument("--prompts", metavar="NAME", help="a list or pandas Series of prompts in the "
              "notebook namespace, sent instead of the cell")
    @argument("--check", action="append", metavar="CHECK", help="score each answer, e.g. "
              "'icontains:{expected}', 'max-chars:200', 'not-icontains:sorry' (repeatable)")
    @argument("--expected", metavar="NAME", help="a list or Series of reference answers "
              "(one per prompt) in the notebook namespace, for {expected} and the judge")
    @argument("--judge", metavar="RUBRIC", help="a model grades each answer by RUBRIC "
              "(after the checks, on the runs they passed)")
    @argument("--judge-provider", metavar="P", help="who grades (default: the session's)")
    @argument("--judge-model", metavar="M", help="the judge's model")
    @argument("--pairwise", action="store_true", help="judge each answer against the "
              "baseline variant's (the first) answer to the same prompt")
    @argument("-o", "--output", metavar="NAME", help="store the result DataFrame in NAME")
    @argument("--resume", action="store_true", help="skip runs already finished in the log")
    @argument("--no-interpolate", action="store_true", help="send {name} literally")
    @argument("--quiet", action="store_true", help="no live grid or tables, just run")
    @argument("--compact", action="store_const", const="compact", dest="layout",
              default="auto", help="small grid cells (status and seconds, the answer on "
              "hover); the default above 24 runs")
    @argument("--layout", choices=("auto", "full", "compact", "summary"), dest="layout",
              default="auto", help="the live grid: full cards, compact cells or a per-variant summary "
              "(default auto: by the number of runs)")
    @argument("--dry-run", action="store_true", help="send nothing: show the runs, tokens, "
              "cost and time it would take, and the runs that cannot fit")
    @argument("--budget", type=float, metavar="USD", help="stop sending runs before the "
              "spend could pass USD; the runs left are recorded as skipped")
    @argument("--budget-unknown", choices=("refuse", "allow"), default="refuse",
              help="with --budget, hosts without a price: refuse to start (default) or allow")
    @cell_magic
    def gemma_compare(self, line: str, cell: str):
        """Run the cell's prompt across providers, models and settings at once, streaming
        every answer live side by side::

            %%gemma_compare -p local,cloudflare,aimlapi --temperature 0.2,0.9 --seed 1,2 --repeat 2 -o cmp
            Write a haiku about gradient descent.

        Any setting flag given a comma-separated list becomes a grid axis: every combination
        runs, ``--repeat`` times each. ``-m`` varies the model within a provider
        (``-m cloudflare=@cf/google/gemma-4-26b-a4b-it,cloudflare=@cf/google/gemma-2b-it-lora``).
        The live grid has a row per variant and a column per run (prompt × repeat); above
        24 runs its cells are compact (``--compact`` forces that, ``--layout full`` cards),
        above 500 it summarises each variant with the slowest and failing runs.
        When all runs end, the answers appear side by side with a summary per variant
        (median and spread of TTFT, latency, tokens/s, tokens, cost) and a chart. ``-o NAME``
        keeps the DataFrame (one row per run, the columns of ``gemma_magics.history()``).
        Scoring: ``--check`` (repeatable) scores each answer as it finishes, ✓/✗ in its
        cell; ``--expected NAME`` gives the reference answers; ``--judge RUBRIC`` (with
        ``--judge-provider``/``--judge-model``, ``--pairwise``) has a model grade them; the
        summary then adds each variant's pass rate with its 95 % interval and the
        difference from the first variant with its p-value::

            %%gemma_compare -p local,cloudflare --prompts qs --expected answers --check "icontains:{expected}"

        (IPython fills ``{name}`` in a magic's line from the notebook's variables: if the
        notebook has a variable called ``expected``, write ``{{expected}}``.)
        ``{name}`` in the cell is replaced by that variable's value. ``--dry-run`` sends
        nothing and shows per provider × model the runs, prompt tokens (exact), expected
        completion tokens, cost low / expected / high and time, and the runs refused for
        not fitting the context window. ``--budget 0.50`` sends no run while spent + the
        worst case of the runs in flight would pass $0.50; the rest are recorded as
        skipped (``--resume --budget ...`` runs them later). Python:
        ``gemma_magics.compare()``.
        """
        __tracebackhide__ = True
        from .live_compare import compare

        args = parse_line(self.gemma_compare, line, "%%gemma_compare")
        prompts = self._prompts(args, cell)
        settings: dict[str, Any] = {}
        for name in RANGED_PARAMS:
            raw = getattr(args, name)
            if raw is None:
                continue
            values = parse_values(name.replace("_", "-"), raw, name in INTEGER_PARAMS)
            settings[name] = values if len(values) > 1 else values[0]
        if args.stop:
            settings["stop"] = list(args.stop)
        if args.system is not None:
            settings["system"] = args.system
        if args.think is not None:
            try:
                switches = [think_value(v) for v in args.think.split(",")]
            except ValidationError as exc:
                raise UsageError(str(exc)) from None
            settings["think"] = switches if len(switches) > 1 else switches[0]
        for flag in ("repeat", "concurrency"):
            if getattr(args, flag) < 1:
                raise UsageError(f"--{flag} must be at least 1")
        scoring = self._scoring(args)
        try:
            frame = compare(
                prompts, providers=args.providers, models=args.models,
                repeats=args.repeat, concurrency=args.concurrency, resume=args.resume,
                display=not args.quiet, dry_run=args.dry_run, budget=args.budget,
                budget_unknown=args.budget_unknown, layout=args.layout, **scoring, **settings,
            )
        except (ValidationError, ConfigError) as exc:
            raise UsageError(str(exc)) from None
        except Interrupted as stop:  # -o still gets the runs that finished or were stopped
            if args.output and stop.result is not None:
                self.shell.user_ns[args.output] = stop.result
            raise
        if args.output:
            self.shell.user_ns[args.output] = frame

    def _scoring(self, args: Any) -> dict[str, Any]:
        """``--check``/``--expected``/``--judge*`` as compare()'s keywords."""
        out: dict[str, Any] = {}
        if args.check:
            out["checks"] = list(args.check)
            out["functions"] = self.shell.user_ns
        if args.expected:
            if args.expected not in self.shell.user_ns:
                raise UsageError(f"--expected {args.expected}: no such variable in the notebook")
            out["expected"] = self.shell.user_ns[args.expected]
        if args.judge:
            out.update(judge=args.judge, judge_provider=args.judge_provider,
                       judge_model=args.judge_model, pairwise=args.pairwise)
        elif args.judge_provider or args.judge_model or args.pairwise:
            raise UsageError("--judge-provider, --judge-model and --pairwise need --judge RUBRIC")
        return out

    def _prompts(self, args: Any, cell: str) -> Any:
        if args.prompts:
            if args.prompts not in self.shell.user_ns:
                raise UsageError(f"--prompts {args.prompts}: no such variable in the notebook")
            if cell.strip():
                raise UsageError("give the prompt in the cell or with --prompts, not both")
            return self.shell.user_ns[args.prompts]
        try:
            prompt = cell if args.no_interpolate else interpolate(cell, self.shell.user_ns)
        except ValidationError as exc:  # a {name} whose str() raises: one line
            raise UsageError(str(exc)) from None
        prompt = prompt.strip("\n")
        if not prompt.strip():
            raise UsageError("the cell is empty: write the prompt below the %%gemma_compare line")
        return prompt
