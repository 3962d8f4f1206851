"""The IPython magics: thin wrappers that parse a line, call :mod:`gemma_magics.api` and
hand the events to :mod:`gemma_magics.display`."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from .errors import ConfigError, GemmaError, ValidationError
from .interpolate import interpolate
from .session import get_session

SUBCOMMANDS = ("providers", "models", "history", "reset", "config", "panel")
_PARAM_FLAGS = (
    "max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty",
    "frequency_penalty", "presence_penalty",
)


def _usage(exc: GemmaError) -> UsageError:
    return UsageError(str(exc))


@magics_class
class GemmaMagics(Magics):
    """Magics for Gemma models. Defaults are traitlets: ``%config GemmaMagics.temperature = 0.2``."""

    default_provider = Unicode(None, allow_none=True, help="Provider of %%gemma cells").tag(config=True)
    default_model = Unicode(None, allow_none=True, help="Model of %%gemma cells").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p").tag(config=True)
    top_k = Int(None, allow_none=True, help="Default top_k").tag(config=True)
    seed = Int(None, allow_none=True, help="Default seed").tag(config=True)
    repetition_penalty = Float(None, allow_none=True).tag(config=True)
    frequency_penalty = Float(None, allow_none=True).tag(config=True)
    presence_penalty = Float(None, allow_none=True).tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt").tag(config=True)
    format = Unicode("markdown", help="markdown | text | code | json").tag(config=True)
    stream = Bool(True, help="Stream answers as they arrive").tag(config=True)
    raise_errors = Bool(False, help="Raise failed calls as exceptions").tag(config=True)
    db_path = Unicode(None, allow_none=True, help="SQLite log path (':memory:' allowed)").tag(
        config=True
    )

    @observe("default_provider", "default_model", *_PARAM_FLAGS, "system")
    def _defaults_changed(self, change: dict[str, Any]) -> None:
        name = {"default_provider": "provider", "default_model": "model"}.get(
            change["name"], change["name"]
        )
        get_session().set_defaults(**{name: change["new"]})

    @validate("default_provider")
    def _known_provider(self, proposal: dict[str, Any]) -> str | None:
        name = proposal["value"]
        if name is not None:
            try:
                get_session().config.catalog.provider(name)
            except ConfigError as exc:
                raise TraitError(str(exc)) from None
        return name

    @observe("db_path")
    def _db_changed(self, change: dict[str, Any]) -> None:
        get_session().db_path = change["new"]

    # ------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("command", nargs="*", help="line mode: providers | models [PROVIDER] | history [N]"
              " | reset | config | panel")
    @argument("-p", "--provider", help="backend (default: local; see %%gemma providers)")
    @argument("-m", "--model", help="model id at that provider (see %%gemma models)")
    @argument("--max-tokens", type=int, help="most tokens to generate (default 256)")
    @argument("--temperature", type=float, help="sampling temperature (default 0.6)")
    @argument("--top-p", type=float, help="nucleus sampling mass")
    @argument("--top-k", type=int, help="sample from the k most likely tokens")
    @argument("--seed", type=int, help="random seed: same seed + settings, same text")
    @argument("--repetition-penalty", type=float, help="penalise repeated tokens (1 = off)")
    @argument("--frequency-penalty", type=float, help="penalise frequent tokens")
    @argument("--presence-penalty", type=float, help="penalise tokens already present")
    @argument("--stop", action="append", help="stop sequence (repeatable)")
    @argument("--system", help="system prompt (folded into the first turn for Gemma)")
    @argument("--no-stream", action="store_true", help="wait for the whole answer")
    @argument("-o", "--output", metavar="NAME", help="store the Completion in this variable")
    @argument("-f", "--format", choices=("markdown", "text", "code", "json"),
              help="how to render the answer (default markdown)")
    @argument("--no-interpolate", action="store_true", help="send {name} literally")
    @line_cell_magic
    def gemma(self, line: str, cell: str | None = None):
        """Send the cell to a Gemma model and stream the answer here.

        Cell mode::

            %%gemma --max-tokens 64 --temperature 0.7 --seed 42
            The three most useful pandas functions are

        ``{name}`` in the cell is replaced by that variable's value (``{{`` for a literal
        brace). Every call is recorded: ``gemma_magics.history()``.

        Line mode: ``%gemma providers`` (credentials found?), ``%gemma models [PROVIDER]``,
        ``%gemma history [N]``, ``%gemma reset`` (session defaults back to the models'
        defaults), ``%gemma config`` (current defaults), ``%gemma panel`` (sliders).
        """
        __tracebackhide__ = True
        try:
            args = parse_argstring(self.gemma, line)
        except UsageError as exc:
            raise UsageError(f"{exc} (see %gemma? for the flags)") from None
        if cell is None:
            return self._line_command(args)
        if args.command:
            raise UsageError(
                f"unexpected words on the %%gemma line: {' '.join(args.command)!r} "
                "(put the prompt in the cell body, and quote flag values with spaces)"
            )
        return self._run_cell(args, cell)

    def _run_cell(self, args: Any, cell: str):
        __tracebackhide__ = True
        from . import api
        from .display import make_renderer, render_stream

        prompt = cell if args.no_interpolate else interpolate(cell, self.shell.user_ns)
        prompt = prompt.strip("\n")
        if not prompt.strip():
            raise UsageError("the cell is empty: write the prompt below the %%gemma line")
        params = {name: getattr(args, name) for name in _PARAM_FLAGS}
        try:
            call = api.stream(
                prompt,
                args.provider,
                args.model,
                stream=self.stream and not args.no_stream,
                stop=args.stop,
                system=args.system,
                **params,
            )
        except (ValidationError, ConfigError) as exc:
            raise _usage(exc) from None
        renderer = make_renderer(args.format or self.format)
        if not call.call.request.stream:
            renderer.min_interval = float("inf")
        try:
            completion = render_stream(call, renderer)
        finally:
            if args.output and call.completion is not None:
                self.shell.user_ns[args.output] = call.completion
        if completion is not None and completion.error is not None and self.raise_errors:
            raise completion.error

    # ------------------------------------------------------------------------------------
    def _line_command(self, args: Any):
        __tracebackhide__ = True
        from IPython.display import display

        from . import listing

        if not args.command:
            raise UsageError(
                "%gemma needs a command: " + ", ".join(SUBCOMMANDS)
                + " (or use %%gemma as a cell magic with the prompt in the cell)"
            )
        command, *rest = args.command
        session = get_session()
        try:
            if command == "providers":
                display(listing.providers_table(session))
            elif command == "models":
                display(listing.models_table(session, rest[0] if rest else None))
            elif command == "config":
                display(listing.config_table(session))
            elif command == "reset":
                session.reset_defaults()
                print("session defaults reset: provider, model and settings are the models' own")
            elif command == "history":
                return self._history(rest)
            elif command == "panel":
                from .widgets import panel

                return panel()
            else:
                raise UsageError(
                    f"unknown %gemma command {command!r}; choose one of: {', '.join(SUBCOMMANDS)}"
                )
        except GemmaError as exc:
            raise _usage(exc) from None

    def _history(self, rest: list[str]):
        from . import api

        if rest and rest[0] == "clear":
            removed = get_session().log.delete()
            print(f"deleted {removed} records from {get_session().db_path}")
            return None
        try:
            count = int(rest[0]) if rest else 10
        except ValueError:
            raise UsageError(f"%gemma history takes a number of rows, not {rest[0]!r}") from None
        frame = api.history()
        columns = ["timestamp", "provider", "model", "prompt", "response", "completion_tokens",
                   "ttft_s", "tokens_per_s", "cost_usd", "status"]
        return frame[columns].tail(count)
