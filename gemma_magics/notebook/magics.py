"""The IPython magics: thin wrappers that parse a line, call :mod:`gemma_magics.api` and
hand the events to :mod:`gemma_magics.notebook.display`."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from ..errors import ConfigError, GemmaError, Interrupted, ValidationError
from ..session import get_session
from .interpolate import interpolate
from .magic_line import escaped, parse_line, plain_help

SUBCOMMANDS = ("providers", "models", "history", "reset", "config", "panel", "chat", "cache",
               "verify")
_PARAM_FLAGS = (
    "max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty",
    "frequency_penalty", "presence_penalty",
)


def _usage(exc: GemmaError) -> UsageError:
    return UsageError(str(exc))


def stopped(completion: Any) -> Interrupted:
    """The stop button's one quiet line (in place of a traceback through llama.cpp or
    httpx); the cell still ends in error, so Run All stops there."""
    if completion is None:
        return Interrupted("stopped before the call started; nothing recorded")
    record = completion.record
    tokens = record.completion_tokens
    amount = f"{tokens} token{'' if tokens == 1 else 's'}" if tokens is not None else (
        f"{len(completion.text)} characters")
    return Interrupted(f"stopped after {amount}; recorded as interrupted", result=completion)


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
    think = Unicode(None, allow_none=True,
                    help="Default thinking switch of thinking models: on | off").tag(config=True)
    format = Unicode("literal", help="literal | markdown | text | code | json").tag(config=True)
    stream = Bool(True, help="Stream answers as they arrive").tag(config=True)
    raise_errors = Bool(False, help="Raise failed calls as exceptions").tag(config=True)
    db_path = Unicode(None, allow_none=True, help="SQLite log path (':memory:' allowed)").tag(
        config=True
    )
    cache = Bool(False, help="Serve identical seeded requests from the log").tag(config=True)

    @observe("default_provider", "default_model", *_PARAM_FLAGS, "system", "think")
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

    @observe("cache")
    def _cache_changed(self, change: dict[str, Any]) -> None:
        from ..records import cache

        cache.set_default(get_session(), change["new"])

    # ------------------------------------------------------------------------------------
    @plain_help
    @magic_arguments()
    @argument("command", nargs="*", help="line mode: providers | models [PROVIDER] | history [N]"
              " | reset | config | panel")
    @argument("--live", action="store_true",
              help="with models PROVIDER: ask the provider what it serves and compare")
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
    @argument("--stop", action="append", type=escaped, help="stop sequence (repeatable; \\n: newline)")
    @argument("--system", help="system prompt (folded into the first turn for Gemma)")
    @argument("--think", choices=("on", "off"),
              help="thinking models (Gemma 4): reason before answering, or not (default off)")
    @argument("--no-stream", action="store_true", help="wait for the whole answer")
    @argument("-o", "--output", metavar="NAME", help="store the Completion in this variable")
    @argument("-f", "--format", choices=("literal", "markdown", "text", "code", "json"),
              help="how to show the answer: literal (default: exactly as written, line "
                   "breaks kept, no HTML or math rendered), markdown (formatted; raw HTML "
                   "and $ shown as text), text (plain), code (a code block), json")
    @argument("--no-interpolate", action="store_true", help="send {name} literally")
    @argument("--json", action="store_true",
              help="answer in JSON: parsed and validated, -o stores the parsed object")
    @argument("--schema", metavar="NAME",
              help="answer in JSON matching NAME, a JSON Schema dict or pydantic class")
    @argument("--tools", metavar="NAME",
              help="offer tools: NAME holds Python functions and/or JSON tool specs")
    @argument("--run-tools", action="store_true",
              help="run the Python tools the model calls, send results back for the answer")
    @argument("--max-rounds", type=int, default=4,
              help="most model calls with --run-tools (default 4)")
    @argument("--image", action="append", metavar="PATH_OR_NAME",
              help="attach an image: a file path or a variable (bytes, PIL image, data URL);"
                   " repeatable")
    @argument("--chat", nargs="?", const="default", metavar="NAME",
              help="continue the chat NAME (default 'default') with this cell as next turn")
    @argument("--template", action="store_true",
              help="show the exact Gemma-format prompt this cell would send; send nothing")
    @argument("--raw", action="store_true",
              help="send the cell exactly as the model's prompt, no chat template")
    @argument("--lora", metavar="NAME",
              help="Workers AI LoRA adapter (-p cloudflare -m @cf/google/gemma-2b-it-lora)")
    @argument("--cache", nargs="?", const="on", metavar="on|off|force",
              help="serve an identical seeded request from the log; force: even unseeded")
    @line_cell_magic
    def gemma(self, line: str, cell: str | None = None):
        """Send the cell to a Gemma model and stream the answer here.

        Cell mode::

            %%gemma --max-tokens 64 --temperature 0.7 --seed 42
            The three most useful pandas functions are

        ``{name}`` in the cell is replaced by that variable's value (``{{`` for a literal
        brace). Every call is recorded: ``gemma_magics.history()``. The answer is shown
        as the model wrote it: HTML escaped, line breaks kept, ``$`` never typeset
        (``-f markdown`` formats it as Markdown, still with raw HTML shown as text).

        Features (NAME is a notebook variable)::

            %%gemma --json -o data               JSON answer, parsed into `data`
            %%gemma --schema Person -o p         validated against a JSON Schema dict or a
                                                 pydantic class (`p` is then an instance)
            %%gemma --tools my_tools --run-tools offer functions; run the ones called and
                                                 send the results back (--max-rounds 4)
            %%gemma --image photo.png --image img   images (file, bytes, PIL, data URL)
            %%gemma --chat trip                  a conversation kept across cells
            %%gemma --chat trip --template       the exact Gemma prompt, nothing sent
            %%gemma --raw                        the cell is the model's exact input
            %%gemma -p cloudflare -m @cf/google/gemma-2b-it-lora --lora NAME
            %%gemma --seed 1 --cache             answered from the log when seen before
                                                 (--cache force: even without a seed)

        With ``--json``/``--schema``, ``-o`` stores the parsed object (the ``Completion``
        when the answer did not parse). ``%config GemmaMagics.cache = True`` caches by
        default (``--cache off`` for one cell).

        Line mode: ``%gemma providers`` (credentials found?), ``%gemma models [PROVIDER]``,
        ``%gemma history [N]``, ``%gemma reset`` (session defaults back to the models'
        defaults), ``%gemma config`` (what the next cell sends, and from where), ``%gemma panel`` (sliders),
        ``%gemma chat list|show [NAME]|reset [NAME]|save NAME [FILE]|load NAME [FILE]``,
        ``%gemma chat replay NAME -p PROVIDER [-m MODEL]`` (the chat's user turns sent to
        another provider, kept as NAME@PROVIDER), ``%gemma cache`` (status),
        ``%gemma cache clear`` (earlier answers no longer served; history keeps them).
        """
        __tracebackhide__ = True
        args = parse_line(self.gemma, line, "%%gemma")
        if cell is None:
            return self._line_command(args)
        if args.command:
            raise UsageError(
                f"unexpected words on the %%gemma line: {' '.join(args.command)!r} "
                "(put the prompt in the cell body, and quote flag values with spaces)"
            )
        try:
            return self._run_cell(args, cell)
        except KeyboardInterrupt as exc:  # e.g. in a --run-tools tool: one line here too
            if isinstance(exc, Interrupted):
                raise
            raise Interrupted("stopped; every call made so far is recorded (one cut short "
                              "as interrupted)") from None

    def _run_cell(self, args: Any, cell: str):
        __tracebackhide__ = True
        from .. import api
        from ..workflows.chat import get_chat

        try:
            prompt = cell if args.no_interpolate else interpolate(cell, self.shell.user_ns)
        except GemmaError as exc:  # a {name} whose str() raises: one line, no traceback
            raise _usage(exc) from None
        prompt = prompt.strip("\n")
        if not prompt.strip():
            raise UsageError("the cell is empty: write the prompt below the %%gemma line")
        try:
            kwargs = self._call_kwargs(args)
        except GemmaError as exc:
            raise _usage(exc) from None
        chat = get_chat(args.chat) if args.chat else None
        if args.template:
            return self._template(prompt, args, chat)
        fmt = args.format or ("json" if args.json or args.schema else self.format)
        if args.run_tools:
            return self._run_tools(prompt, args, chat, fmt, kwargs)
        try:
            if chat is not None:
                call = chat.stream(prompt, args.provider, args.model, **kwargs)
            else:
                call = api.stream(prompt, args.provider, args.model, **kwargs)
        except (ValidationError, ConfigError) as exc:
            raise _usage(exc) from None
        completion = None
        try:
            completion = self._render(call, fmt)
        except KeyboardInterrupt:
            raise stopped(call.completion) from None
        finally:
            if chat is not None:
                chat.commit(prompt, call.completion)
            self._store(args, call.completion)
        if completion is not None and completion.error is not None and self.raise_errors:
            raise completion.error

    def _call_kwargs(self, args: Any) -> dict[str, Any]:
        """The api.stream() keyword arguments for the cell's flags, names looked up."""
        from ..features.images import resolve_names, to_data_urls

        if args.tools is None and args.run_tools:
            raise ValidationError("--run-tools needs --tools NAME",
                                  fix="name a variable holding the tool functions")
        kwargs: dict[str, Any] = {name: getattr(args, name) for name in _PARAM_FLAGS}
        kwargs.update(
            stream=self.stream and not args.no_stream, stop=args.stop, system=args.system,
            think=args.think,
            json=args.json, schema=self._variable(args.schema, "--schema"),
            tools=self._variable(args.tools, "--tools"), raw=args.raw, lora=args.lora,
            cache=args.cache,
            images=to_data_urls(resolve_names(args.image or [], self.shell.user_ns)) or None,
        )
        return kwargs

    def _variable(self, name: str | None, flag: str) -> Any:
        if name is None:
            return None
        if name not in self.shell.user_ns:
            raise ValidationError(f"{flag} {name}: no variable named {name!r} in the notebook",
                                  fix=f"define {name} in a cell first")
        return self.shell.user_ns[name]

    def _render(self, call: Any, fmt: str):
        """Show thumbnails, then stream the call into the cell; returns the Completion."""
        from ..features.images import show_thumbnails
        from ..features.structured import ValueRenderer
        from .display import make_renderer, render_stream

        show_thumbnails(call.call.request.images)
        renderer = make_renderer(fmt)
        if not call.call.request.stream:
            renderer.min_interval = float("inf")
        if call.call.output is not None:
            renderer = ValueRenderer(renderer, call.call.output)
        return render_stream(call, renderer)

    def _store(self, args: Any, completion: Any) -> None:
        """``-o NAME``: the Completion, or in JSON mode the parsed object when it parsed."""
        if not args.output or completion is None:
            return
        structured = (args.json or args.schema) and completion.error is None
        self.shell.user_ns[args.output] = completion.value if structured else completion

    def _run_tools(self, prompt: str, args: Any, chat: Any, fmt: str, kwargs: dict[str, Any]):
        __tracebackhide__ = True
        from ..workflows.tool_loop import ToolLoopError, run_tools, show_steps

        system = kwargs.pop("system")
        extra = {"messages": chat.messages_with(prompt), "chat": True} if chat else {}
        if chat is not None:
            chat.system = system if system is not None else chat.system
            system = chat.system
        try:
            completion = run_tools(
                prompt, args.provider, args.model, tools=kwargs.pop("tools"),
                max_rounds=args.max_rounds, consume=lambda c: self._render(c, fmt),
                on_steps=show_steps, system=system, **extra, **kwargs)
        except (ValidationError, ConfigError) as exc:
            raise _usage(exc) from None
        if chat is not None:
            chat.commit(prompt, completion)
        self._store(args, completion)
        if completion is not None and isinstance(completion.error, ToolLoopError):
            from .line_commands import error_line

            error_line(str(completion.error))
        if completion is not None and completion.error is not None and self.raise_errors:
            raise completion.error

    def _template(self, prompt: str, args: Any, chat: Any):
        """``--template``: the exact prompt, shown and (with -o) stored; nothing is sent."""
        from ..providers.base import chat_template
        from .template_format import is_gemma4_target

        if args.raw:
            text = prompt
        elif chat is not None:
            text = chat.template(prompt, args.system)
        else:
            text = chat_template([{"role": "user", "content": prompt}], args.system,
                                 gemma4=is_gemma4_target(args.provider, args.model),
                                 think=args.think == "on")
        if args.output:
            self.shell.user_ns[args.output] = text
        from .line_commands import show_text

        show_text(text)

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
                display(listing.models(rest[0] if rest else None, live=args.live,
                                       session=session))
            elif command == "config":
                display(listing.config_table(session, self))
            elif command == "reset":
                session.reset_defaults()
                print("session defaults reset: provider, model and settings are the models' own")
            elif command == "history":
                return self._history(rest)
            elif command == "panel":
                from .panel import panel

                return panel()
            elif command == "chat":
                from .line_commands import chat_command

                return chat_command(self, rest, args)
            elif command == "cache":
                from .line_commands import cache_command

                return cache_command(rest)
            elif command == "verify":
                from .line_commands import verify_command

                return verify_command(self, rest, args)
            else:
                raise UsageError(
                    f"unknown %gemma command {command!r}; choose one of: {', '.join(SUBCOMMANDS)}"
                )
        except GemmaError as exc:
            raise _usage(exc) from None

    def _history(self, rest: list[str]):
        from .. import api

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
