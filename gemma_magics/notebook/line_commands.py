"""The ``%gemma chat ...`` and ``%gemma cache ...`` line commands, and the small displays
they and the ``%%gemma`` feature flags use (kept out of ``magics.py`` to keep it thin)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..frontend import show
from ..palette import ERROR
from ..safe_text import code_markdown, line_html, model_text_html
from ..session import get_session

CHAT_COMMANDS = ("list", "show", "reset", "save", "load", "replay")
_SAMPLING = ("max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty",
             "frequency_penalty", "presence_penalty")


def chat_command(magics: Any, rest: list[str], args: Any) -> None:
    """``%gemma chat list|show [NAME]|reset [NAME]|save NAME [FILE]|load NAME [FILE]|replay``."""
    from ..workflows import chat as chats

    action, *names = rest or ["list"]
    if action not in CHAT_COMMANDS:
        raise UsageError(f"unknown %gemma chat command {action!r}; choose one of: "
                         + ", ".join(CHAT_COMMANDS))
    name = names[0] if names else chats.DEFAULT_NAME
    path = names[1] if len(names) > 1 else None
    table = chats.chats()
    if action == "list":
        if not table:
            print("no chats yet: start one with %%gemma --chat NAME")
        for chat in table.values():
            print(f"{chat.name}: {chat.user_turns} turns"
                  + (f", system {chat.system!r}" if chat.system else ""))
    elif action in ("show", "reset", "replay", "save") and name not in table:
        raise UsageError(f"no chat named {name!r} (see %gemma chat list)")
    elif action == "show":
        show_html(table[name].to_html(), table[name].to_text())
    elif action == "reset":
        table[name].reset()
        print(f"chat {name!r} reset: the next --chat {name} cell starts afresh")
    elif action == "save":
        saved = table[name].save(chats.file_for(name, path)[1])
        print(f"chat {name!r} saved to {saved}")
    elif action == "load":
        name, source = chats.file_for(name, path)
        table[name] = chats.Chat.load(source, name)
        print(f"chat {name!r} loaded from {source}: {table[name].user_turns} turns")
    else:
        replay_command(magics, table[name], args)


def replay_command(magics: Any, chat: Any, args: Any) -> None:
    """``%gemma chat replay NAME -p PROVIDER [-m MODEL] [settings]``: each user turn shown,
    each new answer streamed, the new chat kept as ``NAME@PROVIDER``."""
    from ..workflows import chat as chats

    if not args.provider:
        raise UsageError("%gemma chat replay NAME needs -p PROVIDER (and maybe -m MODEL)")
    fmt = args.format or magics.format

    def consume(call: Any) -> Any:
        prompt = call.call.request.prompt
        show_html(f"<b>user:</b>{model_text_html(prompt)}", f"user: {prompt}")
        return magics._render(call, fmt)

    new = chats.replay(chat, args.provider, args.model, consume=consume,
                       stream=magics.stream and not args.no_stream, stop=args.stop,
                       **{n: getattr(args, n) for n in _SAMPLING})
    print(f"replayed {new.user_turns} turns into chat {new.name!r} "
          f"(%gemma chat show {new.name})")


def cache_command(rest: list[str]) -> None:
    """``%gemma cache`` (status) and ``%gemma cache clear``."""
    from ..records import cache

    session = get_session()
    if rest and rest[0] == "clear":
        cache.clear(session.log)
        print("cache cleared: earlier answers will not be served again "
              "(they stay in the history)")
    elif rest:
        raise UsageError(f"unknown %gemma cache command {rest[0]!r}; use: %gemma cache clear")
    else:
        cleared = cache.cleared_at(session.log)
        print(f"cache {cache.default_mode(session)} by default"
              + (f"; cleared {cleared[:19]}Z" if cleared else "")
              + " (turn on: %config GemmaMagics.cache = True or --cache)")


VERIFY_KEYS = {"hosts": str, "reference": str, "repeats": int, "alpha": float, "seed": int,
               "needle": int, "concurrency": int, "report": str, "budget": float,
               "budget_unknown": str}
VERIFY_USAGE = ("usage: %gemma verify MODEL hosts=A,B,C [reference=A] [repeats=5] "
                "[budget=USD [budget_unknown=allow]] [dry-run] [report=FILE] [-o NAME]")


def verify_command(magics: Any, rest: list[str], args: Any) -> Any:
    """``%gemma verify MODEL hosts=A,B,C [reference=A] [repeats=5] [budget=USD] [dry-run]
    [report=FILE] [-o NAME]``: :func:`gemma_magics.verify` from a magic line (``-p A,B,C``
    may give the hosts; ``dry-run`` shows the estimate and sends nothing)."""
    from .live_verify import verify

    model, options, dry_run = args.model, [], False
    for token in rest:
        name, sep, value = token.partition("=")
        if token == "dry-run":
            dry_run = True
            continue
        if not sep:
            model = token
            continue
        if name not in VERIFY_KEYS:
            raise UsageError(f"unknown verify option {name!r}; use: " + ", ".join(VERIFY_KEYS))
        try:
            options.append((name, VERIFY_KEYS[name](value)))
        except ValueError:
            raise UsageError(f"verify option {name}={value!r} is not a {VERIFY_KEYS[name].__name__}"
                             ) from None
    kwargs = dict(options)
    hosts = kwargs.pop("hosts", None) or args.provider
    if not model or not hosts:
        raise UsageError(VERIFY_USAGE)
    path = kwargs.pop("report", None)
    if dry_run and path:
        raise UsageError("a dry run sends nothing, so there is no report to write: drop "
                         "report= or dry-run")
    result = verify(model, hosts, dry_run=dry_run, **kwargs)
    if dry_run:
        if args.output:
            magics.shell.user_ns[args.output] = result
        return None  # shown already, as %%gemma_compare --dry-run does
    if path:
        from ..verification.report import report

        print(f"report written to {report(result, path)}")
    if args.output:
        magics.shell.user_ns[args.output] = result
        return None
    return result


def show_text(text: str) -> None:
    """Verbatim text (a fenced block in a notebook, so ``<start_of_turn>`` stays visible)."""
    show({"text/markdown": code_markdown(text, "text"), "text/plain": text})


def show_html(html_text: str, text: str) -> None:
    """``html_text`` (built with :mod:`gemma_magics.safe_text`) in a notebook, ``text``
    elsewhere."""
    show({"text/html": html_text, "text/plain": text})


def error_line(text: str) -> None:
    """One red line in a notebook, ``Error: ...`` in a terminal."""
    show({"text/html": line_html(text, ERROR), "text/plain": text}, plain=f"Error: {text}")
