"""Chat sessions: ``%%gemma --chat [NAME]`` and ``%gemma chat show|list|reset|save|load|replay``.

A :class:`Chat` keeps the user and model turns of one conversation (and its system prompt)
across cells; each new cell is sent with the turns before it. Backends without a system
role get it folded into the first user turn (the providers do that). A chat saves to and
loads from a JSON file, and :func:`replay` sends its user turns to another provider.

>>> chat = gemma_magics.workflows.chat.Chat("trip", system="Answer in one sentence.")
>>> chat.ask("Best month for Lisbon?", "cloudflare").text
>>> chat.ask("And for Porto?", "cloudflare").text
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ValidationError
from ..providers.base import gemma_template
from ..safe_text import NO_MATH, clean, escape, model_text_html

if TYPE_CHECKING:
    from ..api import CallStream
    from ..completion import Completion
    from ..session import Session

FORMAT = "gemma_magics.chat/1"
DEFAULT_NAME = "default"
_registry: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Session -> {name: Chat}


@dataclass
class Chat:
    """One conversation: ``turns`` alternate ``{"role": "user"|"assistant", "content"}``."""

    name: str = DEFAULT_NAME
    system: str | None = None
    turns: list[dict[str, str]] = field(default_factory=list)
    provider: str | None = None  # where the last answer came from
    model: str | None = None

    # -- sending -------------------------------------------------------------------------
    def messages_with(self, prompt: str) -> list[dict[str, Any]]:
        """The conversation a new turn ``prompt`` is sent with."""
        return [*({"role": t["role"], "content": t["content"]} for t in self.turns),
                {"role": "user", "content": prompt}]

    def stream(self, prompt: str, provider: str | None = None, model: str | None = None,
               *, system: str | None = None, **kwargs: Any) -> CallStream:
        """Send ``prompt`` as the next user turn; call :meth:`commit` with the completion
        (``ask`` does both). ``system`` replaces the chat's system prompt."""
        from .. import api

        if system is not None:
            self.system = system
        return api.stream(prompt, provider, model, messages=self.messages_with(prompt),
                          system=self.system, chat=True,
                          extra={"chat": self.name, "turn": self.user_turns + 1}, **kwargs)

    def commit(self, prompt: str, completion: Completion | None) -> bool:
        """Keep the exchange if the call succeeded (failed turns are not kept)."""
        if completion is None or completion.error is not None or completion.record.status != "ok":
            return False
        self.turns += [{"role": "user", "content": prompt},
                       {"role": "assistant", "content": completion.text}]
        self.provider, self.model = completion.record.provider, completion.record.model
        return True

    def ask(self, prompt: str, provider: str | None = None, model: str | None = None,
            **kwargs: Any) -> Completion:
        """Send the next user turn and return the answer, which joins the conversation."""
        call = self.stream(prompt, provider, model, **kwargs)
        for _ in call:
            pass
        completion = call.completion
        self.commit(prompt, completion)
        if completion.error is not None:
            raise completion.error
        return completion

    # -- looking -------------------------------------------------------------------------
    @property
    def user_turns(self) -> int:
        return sum(1 for t in self.turns if t["role"] == "user")

    def template(self, prompt: str | None = None, system: str | None = None) -> str:
        """The exact Gemma-format prompt the next turn (``prompt``) would send."""
        messages = self.messages_with(prompt) if prompt is not None else list(self.turns)
        return gemma_template(messages, self.system if system is None else system)

    def reset(self) -> None:
        self.turns.clear()

    def to_text(self) -> str:
        """The conversation as plain text (``text/plain``; what a terminal prints)."""
        parts = [self._head()]
        if self.system:
            parts.append(f"system: {self.system}")
        parts += [f"{_who(t)}: {clean(t['content'])}" for t in self.turns]
        return "\n\n".join(parts)

    def to_html(self) -> str:
        """The conversation as HTML: every turn (and the system prompt) shown by the one
        rule for model text — escaped, line breaks kept, no math."""
        rows = [f"<div><b>{escape(self._head())}</b></div>"]
        if self.system:
            rows.append(f"<div><i>system:</i>{model_text_html(self.system)}</div>")
        rows += [f'<div style="margin-top:0.5em"><b>{_who(t)}:</b>'
                 f"{model_text_html(t['content'])}</div>" for t in self.turns]
        return f'<div class="gm-chat {NO_MATH}">{"".join(rows)}</div>'

    def _head(self) -> str:
        head = f"chat {self.name} · {self.user_turns} turns"
        if self.provider:
            head += f" · last answer from {self.provider} {self.model}"
        return head

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"Chat({self.name!r}, turns={self.user_turns}, system={self.system!r})"

    # -- files ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "system": self.system,
                "provider": self.provider, "model": self.model,
                "saved": datetime.now(timezone.utc).isoformat(), "turns": self.turns}

    def save(self, path: str | Path | None = None) -> Path:
        """Write the chat as JSON (default ``NAME.chat.json`` here); returns the path."""
        target = Path(path) if path else Path(f"{self.name}.chat.json")
        target.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), "utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path, name: str | None = None) -> Chat:
        """Read a chat written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no chat file {path}",
                              fix="save one first with %gemma chat save NAME") from None
        except ValueError as exc:
            raise ConfigError(f"{path} is not a chat file: {exc}",
                              fix="use a file written by %gemma chat save") from None
        turns = data.get("turns") if isinstance(data, dict) else None
        if not isinstance(turns, list) or any(
                not isinstance(t, dict) or t.get("role") not in ("user", "assistant")
                or not isinstance(t.get("content"), str) for t in turns):
            raise ConfigError(f"{path} has no valid 'turns' list",
                              fix="use a file written by %gemma chat save")
        return cls(name or data.get("name") or path.stem, data.get("system"),
                   [{"role": t["role"], "content": t["content"]} for t in turns],
                   data.get("provider"), data.get("model"))


def _who(turn: dict[str, str]) -> str:
    return "user" if turn["role"] == "user" else "model"


# -- the session's chats -------------------------------------------------------------------


def chats(session: Session | None = None) -> dict[str, Chat]:
    """The named chats of ``session`` (the current one by default)."""
    from ..session import get_session

    return _registry.setdefault(session or get_session(), {})


def get_chat(name: str = DEFAULT_NAME, session: Session | None = None) -> Chat:
    """The chat called ``name``, created empty on first use."""
    table = chats(session)
    if name not in table:
        table[name] = Chat(name)
    return table[name]


def file_for(name: str, path: str | None = None) -> tuple[str, Path]:
    """(chat name, file) for ``%gemma chat save|load NAME [PATH]``; NAME may be a file."""
    if path:
        return name, Path(path)
    if name.endswith(".json"):
        p = Path(name)
        return p.name.removesuffix(".json").removesuffix(".chat"), p
    return name, Path(f"{name}.chat.json")


def replay(chat: Chat | str, provider: str, model: str | None = None, *,
           session: Session | None = None, consume: Any = None, **kwargs: Any) -> Chat:
    """Send ``chat``'s user turns, in order, to another provider (each with the new answers
    before it); returns the new chat, also kept as ``NAME@PROVIDER``.

    ``consume(call_stream)`` receives each turn's call (the magic renders it); it must
    return the completion. A failed turn stops the replay and raises its error.
    """
    if isinstance(chat, str):
        if chat not in chats(session):
            raise ValidationError(f"no chat named {chat!r}",
                                  fix="see %gemma chat list, or %gemma chat load NAME")
        chat = chats(session)[chat]
    source = chat
    prompts = [t["content"] for t in source.turns if t["role"] == "user"]
    if not prompts:
        raise ValidationError(f"chat {source.name!r} has no turns to replay",
                              fix="talk to it first with %%gemma --chat NAME")
    new = Chat(f"{source.name}@{provider}", source.system)
    chats(session)[new.name] = new
    for prompt in prompts:
        call = new.stream(prompt, provider, model, session=session, **kwargs)
        if consume is not None:
            completion = consume(call)
        else:
            for _ in call:
                pass
            completion = call.completion
        if not new.commit(prompt, completion):
            if completion is not None and completion.error is not None:
                raise completion.error
            break
    return new
