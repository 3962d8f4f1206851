"""The core: ``generate()``, ``stream()`` and ``history()``, usable from a plain script.

>>> import gemma_magics as gm
>>> c = gm.generate("The capital of France is", max_tokens=8, seed=1)
>>> c.text, c.record.tokens_per_s
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .completion import Completion
from .errors import GemmaError
from .events import Done, ErrorEvent, Event, Notice
from .params import Params, resolve
from .providers import make_provider
from .providers.base import Provider, Request, gemma_template
from .recorder import Recorder, error_of
from .records import Record, request_key
from .session import Session, get_session

if TYPE_CHECKING:
    import pandas as pd

PRETRAINED_NOTICE = (
    "{model} is a pretrained (not instruction-tuned) model: it continues your text rather "
    "than following instructions. Point GEMMA_MAGICS_LOCAL_MODEL at an instruction-tuned "
    "GGUF, or use a hosted provider, for chat."
)


@dataclass
class PreparedCall:
    """A validated call, ready to send: nothing has touched the network or the model yet."""

    provider: Provider
    request: Request
    record: Record
    notices: list[Notice] = field(default_factory=list)
    session: Session | None = None


def prepare(
    prompt: str,
    provider: str | None = None,
    model: str | None = None,
    *,
    session: Session | None = None,
    stream: bool = True,
    messages: list[dict[str, Any]] | None = None,
    raw: bool = False,
    lora: str | None = None,
    response_format: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
    images: list[str] | None = None,
    variant: str | None = None,
    **params: Any,
) -> PreparedCall:
    """Resolve provider, model and settings, and validate them; raises before any request.

    Settings left out come from the session defaults (the panel, ``%config``), then from the
    model's documented defaults.
    """
    session = session or get_session()
    catalog = session.config.catalog
    name = provider or session.default_provider()
    info = catalog.provider(name)
    if model is None and session.model and name == session.default_provider():
        model = session.model
    model_info = info.model(model)
    given = Params.from_kwargs(**{k: v for k, v in params.items() if v is not None})
    effective, warnings = resolve(given.merged_over(session.params), model_info)
    endpoint = session.config.endpoint(name)
    request = Request(
        prompt=prompt,
        params=effective,
        model=model_info,
        messages=list(messages) if messages else [],
        stream=stream,
        raw=raw,
        lora=lora,
        response_format=response_format,
        tools=tools,
        images=list(images or []),
    )
    notices = [Notice(w, "warning") for w in warnings]
    if not model_info.instruction_tuned and not raw and session.once(f"pretrained:{name}"):
        notices.append(Notice(PRETRAINED_NOTICE.format(model=model_info.id), "warning"))
    settings = effective.as_dict()
    record = Record(
        provider=name,
        model=model_info.id,
        prompt=prompt,
        system=effective.system,
        variant=variant,
        **{k: settings[k] for k in (
            "max_tokens", "temperature", "top_p", "top_k", "seed",
            "repetition_penalty", "frequency_penalty", "presence_penalty",
        )},
        stop=json.dumps(list(effective.stop)) if effective.stop else None,
    )
    features = {
        "raw": raw or None,
        "lora": lora,
        "response_format": response_format,
        "tools": tools,
        "images": [request_key(image=i) for i in images or []] or None,
        "messages": messages or None,
    }
    record.request_key = request_key(
        provider=name, model=model_info.id, prompt=prompt, params=settings, **features
    )
    extra = {k: v for k, v in features.items() if v and k != "messages"}
    if extra:
        record.extra = json.dumps(extra, default=str)
    return PreparedCall(make_provider(endpoint), request, record, notices, session)


def counted_prompt(request: Request) -> str:
    """The text a tokenizer should count as the prompt when the provider gives no usage."""
    if request.raw:
        return request.prompt
    return gemma_template(request.messages, request.params.system)


class CallStream:
    """Iterate to receive a call's events; :attr:`completion` is set once it ended.

    The last event is :class:`~gemma_magics.events.Done` carrying the completion; an error
    arrives as :class:`~gemma_magics.events.ErrorEvent` just before it. On Ctrl-C the
    partial answer is recorded with status ``interrupted`` and KeyboardInterrupt propagates.
    """

    def __init__(self, call: PreparedCall):
        self.call = call
        self.recorder = Recorder(call.record, call.request.model, counted_prompt(call.request))
        self.completion: Completion | None = None

    @property
    def text(self) -> str:
        return self.recorder.text

    def __iter__(self) -> Iterator[Event]:
        yield from self.call.notices
        self.recorder.restart_clock()
        try:
            for event in self.call.provider.stream(self.call.request):
                self.recorder.add(event)
                yield event
                if type(event) is ErrorEvent:
                    break
        except (KeyboardInterrupt, GeneratorExit):
            self._finish(interrupted=True)
            raise
        except Exception as exc:
            event = ErrorEvent(error_of(exc))
            self.recorder.add(event)
            yield event
        yield Done(self._finish())

    async def __aiter__(self) -> AsyncIterator[Event]:
        for notice in self.call.notices:
            yield notice
        self.recorder.restart_clock()
        try:
            async for event in self.call.provider.astream(self.call.request):
                self.recorder.add(event)
                yield event
                if type(event) is ErrorEvent:
                    break
        except (KeyboardInterrupt, GeneratorExit, asyncio.CancelledError):
            self._finish(interrupted=True)
            raise
        except Exception as exc:
            event = ErrorEvent(error_of(exc))
            self.recorder.add(event)
            yield event
        yield Done(self._finish())

    def _finish(self, interrupted: bool = False) -> Completion:
        if self.completion is not None:
            return self.completion
        session = self.call.session or get_session()
        record = self.recorder.finish(interrupted=interrupted, secrets=session.config.secrets())
        error = self.recorder.error
        self.completion = Completion(
            text=self.recorder.text,
            record=record,
            tool_calls=list(self.recorder.tool_calls),
            value=self.recorder.structured,
            error=error,
        )
        if isinstance(error, GemmaError):
            error.completion = self.completion
        session.log.append(record)
        return self.completion


def stream(prompt: str, provider: str | None = None, model: str | None = None,
           **kwargs: Any) -> CallStream:
    """Send ``prompt`` and return a :class:`CallStream` of typed events.

    Validation happens here, before anything is sent: a bad setting raises
    :class:`~gemma_magics.errors.ValidationError` at once. See :func:`generate` for arguments.
    """
    return CallStream(prepare(prompt, provider, model, **kwargs))


def generate(prompt: str, provider: str | None = None, model: str | None = None,
             **kwargs: Any) -> Completion:
    """Send ``prompt`` to a Gemma backend and return the :class:`Completion`.

    ``provider`` defaults to the session default (``local``: Gemma 3 270M in-process);
    ``model`` to the provider's default. Settings: ``max_tokens``, ``temperature``,
    ``top_p``, ``top_k``, ``seed``, ``repetition_penalty``, ``frequency_penalty``,
    ``presence_penalty``, ``stop``, ``system``. Every call is recorded (see :func:`history`).
    A failed call raises its :class:`~gemma_magics.errors.GemmaError`, whose
    ``.completion`` keeps any partial text and the record.
    """
    call = stream(prompt, provider, model, **kwargs)
    for event in call:
        if type(event) is ErrorEvent:
            continue
        if type(event) is Done:
            break
    completion = call.completion
    if completion.error is not None:
        raise completion.error
    return completion


def history(session: Session | None = None) -> pd.DataFrame:
    """Every recorded call (this and earlier sessions) as a DataFrame, oldest first."""
    return (session or get_session()).log.dataframe()
