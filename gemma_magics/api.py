"""The core: ``generate()``, ``stream()`` and ``history()``, usable from a plain script.

>>> import gemma_magics as gm
>>> c = gm.generate("The capital of France is", max_tokens=8, seed=1)
>>> c.text, c.record.tokens_per_s
"""

from __future__ import annotations

import asyncio
import json as _json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .catalog.prompt_fit import pretrained_hint
from .catalog.thinking import is_gemma4, think_switch
from .completion import Completion
from .errors import ConfigError, GemmaError, OutputParseError
from .events import Done, ErrorEvent, Event, Notice
from .features.structured import OutputSpec
from .params import Params, check_prompt_size, check_seed, check_stops, resolve
from .providers import make_provider
from .providers.base import Provider, Request, chat_template
from .records.log import Record, request_key
from .records.recorder import Recorder, error_of
from .safe_text import well_formed
from .session import Session, get_session

if TYPE_CHECKING:
    import pandas as pd

UNCATALOGUED_NOTICE = ("{model} is not in the catalog of {provider}: sent as given, with the "
                       "provider's ranges and an unknown price (see %gemma models {provider} "
                       "--live)")


@dataclass(slots=True)  # one per run of a sweep
class PreparedCall:
    """A validated call, ready to send: nothing has touched the network or the model yet."""

    provider: Provider
    request: Request
    record: Record
    notices: list[Notice] = field(default_factory=list)
    session: Session | None = None
    #: What a JSON-mode answer must be (parsed and validated when the call ends).
    output: OutputSpec | None = None
    #: The logged record this call is served from (response cache), instead of the backend.
    cached_from: Record | None = None


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
    json: bool = False,
    schema: Any = None,
    tools: Any = None,
    images: Any = None,
    chat: bool = False,
    cache: bool | str | None = None,
    variant: str | None = None,
    extra: dict[str, Any] | None = None,
    **params: Any,
) -> PreparedCall:
    """Resolve provider, model and settings, and validate them; raises before any request.

    Settings left out come from the session defaults (the panel, ``%config``), then from the
    model's documented defaults. Features: ``json``/``schema`` (structured output),
    ``tools`` (functions or JSON specs), ``images`` (paths, bytes, PIL images, data URLs),
    ``raw``, ``lora``, ``messages`` (a conversation), ``cache`` (True, "force" or False).
    """
    from .catalog import capabilities
    from .features.images import fingerprint, to_data_urls
    from .features.structured import output_spec
    from .features.tools import specs
    from .records import cache as response_cache

    prompt, messages, params = _well_formed(prompt), _well_formed(messages), _well_formed(params)
    session = session or get_session()
    session.log  # noqa: B018 (opened now: an unusable log stops the call before it is sent)
    catalog = session.config.catalog
    name = provider or session.default_provider()
    info = catalog.provider(name)
    if model is None and session.model and name == session.default_provider():
        model = session.model
    if info.kind == "local":  # the model that will answer: the GGUF the provider loads
        from .providers import local_model

        model_info = local_model.served_model(info, model)
    else:
        model_info = info.model(model)
    capabilities.check_served(model_info)
    given = Params.from_kwargs(**{k: v for k, v in params.items() if v is not None})
    defaults = session.params
    if given.think is None and defaults.think is not None and not think_switch(model_info):
        defaults = replace(defaults, think=None)  # a session's switch is for thinking models
    effective, warnings = resolve(given.merged_over(defaults), model_info)
    check_seed(effective, info.kind, f"{name} {model_info.id}")
    output = output_spec(json, schema)
    if output is not None and response_format is None:
        response_format = output.response_format
    tool_specs = specs(tools)
    # what the backend cannot take is refused before any image is read and encoded
    capabilities.check(catalog, info, model_info, images=_given(images),
                       tools=bool(tool_specs), json=bool(response_format), lora=lora, raw=raw)
    image_urls = to_data_urls(images)
    check_prompt_size(prompt, messages, model_info)
    check_stops(effective)
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
        tools=tool_specs,
        images=image_urls,
        chat=chat,
    )
    notices = [Notice(w, "warning") for w in warnings]
    # (a generic endpoint with no model list of its own, e.g. vllm, serves whatever it loaded)
    if not model_info.known and info.models and info.kind != "local" \
            and session.once(f"uncatalogued:{name}:{model_info.id}"):
        notices.append(Notice(UNCATALOGUED_NOTICE.format(model=model_info.id, provider=name),
                              "warning"))
    if model_info.instruction_tuned is False and not raw:  # None (unknown): no hint
        hint = pretrained_hint(model_info.id, prompt, first=session.once(f"pretrained:{name}"))
        notices += [Notice(hint, "warning")] if hint else []
    settings = effective.as_dict()
    record = Record(
        provider=name,
        model=model_info.id,
        prompt=prompt,
        system=effective.system,
        think=effective.think,
        variant=variant,
        **{k: settings[k] for k in (
            "max_tokens", "temperature", "top_p", "top_k", "seed",
            "repetition_penalty", "frequency_penalty", "presence_penalty",
        )},
        stop=_json.dumps(list(effective.stop)) if effective.stop else None,
    )
    features = {
        "raw": raw or None,
        "lora": lora,
        "response_format": response_format,
        "tools": tool_specs,
        "images": [fingerprint(u) for u in image_urls] or None,
        "messages": messages or None,
        "chat": chat or None,
    }
    # no switch (every model before Gemma 4): the key stays what earlier versions logged,
    # so resume and the cache still find those records
    keyed = {k: v for k, v in settings.items() if not (k == "think" and v is None)}
    record.request_key = request_key(
        provider=name, model=model_info.id, prompt=prompt, params=keyed,
        backend=_backend_identity(endpoint), **features
    )
    shown = {k: v for k, v in features.items() if v and k not in ("messages", "chat")}
    shown.update(extra or {})
    if shown:
        record.extra = _json.dumps(shown, default=str)
    call = PreparedCall(make_provider(endpoint), request, record, notices, session, output)
    response_cache.apply(call, cache)
    return call


def _given(images: Any) -> bool:
    if images is None:
        return False
    return bool(images) if isinstance(images, (list, tuple)) else True


def _well_formed(value: Any) -> Any:
    """Text that UTF-8 can encode, all the way down (a lone surrogate in a prompt made the
    request body, the tokenizer and the log raise UnicodeEncodeError)."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {k: _well_formed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_well_formed(v) for v in value)
    return value


def _known_secrets(session: Session) -> list[str]:
    try:
        return session.config.secrets()
    except GemmaError:  # a broken config file: the call's own provider redacted its key
        return []


def _backend_identity(endpoint: Any) -> str | None:
    """Where answers come from, so a cached answer is never served for another backend:
    the base URL of a hosted provider, the GGUF file of the local one."""
    if endpoint.provider.kind == "local":
        from .providers import local_model

        return None if local_model.is_bundled() else local_model.model_name()
    return endpoint.base_url


def counted_prompt(request: Request) -> str:
    """The text a tokenizer should count as the prompt when the provider gives no usage."""
    if request.raw:
        return request.prompt
    return chat_template(request.messages, request.params.system,
                         gemma4=is_gemma4(request.model.id), think=bool(request.params.think))


class CallStream:
    """Iterate to receive a call's events; :attr:`completion` is set once it ended.

    The last event is :class:`~gemma_magics.events.Done` carrying the completion; an error
    arrives as :class:`~gemma_magics.events.ErrorEvent` just before it. On Ctrl-C the
    partial answer is recorded with status ``interrupted`` and KeyboardInterrupt propagates.
    """

    def __init__(self, call: PreparedCall):
        self.call = call
        self.recorder = Recorder(call.record, call.request.model, counted_prompt(call.request),
                                 known_secrets=lambda: _known_secrets(call.session))
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
            self._interrupted()
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
            self._interrupted()
            raise
        except Exception as exc:
            event = ErrorEvent(error_of(exc))
            self.recorder.add(event)
            yield event
        yield Done(self._finish())

    def _interrupted(self) -> None:
        partial = getattr(self.call.provider, "partial_usage", None)
        usage = partial() if partial else None
        if usage is not None:
            self.recorder.add(usage)
        self._finish(interrupted=True)

    def _finish(self, interrupted: bool = False) -> Completion:
        if self.completion is not None:
            return self.completion
        session = self.call.session or get_session()
        value = self._parse_output() if not interrupted else None
        # the keys are only needed to scrub an error (reading them looks up every
        # provider's variables: a tenth of a millisecond per run of a 10,000-run sweep)
        secrets = session.config.secrets() if self.recorder.error is not None else []
        record = self.recorder.finish(interrupted=interrupted, secrets=secrets)
        if self.call.cached_from is not None:
            from .records.cache import mark_cached

            mark_cached(record, self.call.cached_from)
        error = self.recorder.error
        self.completion = Completion(
            text=self.recorder.text,
            reasoning=self.recorder.reasoning,
            record=record,
            tool_calls=list(self.recorder.tool_calls),
            value=value if self.call.output is not None else self.recorder.structured,
            error=error,
        )
        if isinstance(error, GemmaError):
            error.completion = self.completion
        session.log.append(record)
        return self.completion


    def _parse_output(self) -> Any:
        """The validated JSON-mode value; a bad answer becomes the call's error."""
        output, recorder = self.call.output, self.recorder
        if output is None or recorder.error is not None:
            return None
        try:
            return output.parse(recorder.text, recorder.structured,
                                finish_reason=recorder.record.finish_reason,
                                max_tokens=self.call.request.params.max_tokens)
        except OutputParseError as exc:
            recorder.error = exc
            return None


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
    ``presence_penalty``, ``stop``, ``system``, ``think`` (True/False: whether a thinking
    model such as Gemma 4 reasons first; its reasoning is ``Completion.reasoning``, never
    part of ``text``). Every call is recorded (see :func:`history`).
    A failed call raises its :class:`~gemma_magics.errors.GemmaError`, whose
    ``.completion`` keeps any partial text and the record.

    Features: ``json=True`` (any JSON object) or ``schema=`` (a JSON Schema dict or a
    pydantic model class): the answer is parsed and validated into ``Completion.value``,
    else :class:`~gemma_magics.errors.OutputParseError`. ``tools=[functions or specs]``:
    the calls asked for are in ``Completion.tool_calls`` (to run them, see
    :func:`gemma_magics.features.tools.run_tools`). ``images=[path, bytes, PIL image, data URL]``.
    ``raw=True`` sends the prompt exactly as the model's input; ``lora=`` a Workers AI
    adapter; ``messages=`` a conversation (see :class:`gemma_magics.workflows.chat.Chat`);
    ``cache=True`` serves an identical earlier seeded request from the log ("force": even
    without a seed).
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


def history(session: Session | None = None, *, scores: bool = True) -> pd.DataFrame:
    """Every recorded call (this and earlier sessions) as a DataFrame, oldest first; a log
    on read-only storage is read as it is.

    With ``scores`` (the default) the verdicts of checks, judges and human ratings given to
    those calls (:func:`gemma_magics.score`, :func:`gemma_magics.rate`) are joined in: a
    ``pass[SCORER]`` column per scorer, then ``passed`` and ``score`` overall."""
    from .records import score_join
    from .records import scores as score_table

    session = session or get_session()
    try:
        log = session.log
    except ConfigError:  # it cannot be written; it may still be read
        from .records.log import RecordLog

        return RecordLog.read_only(session.db_path).dataframe()
    frame = log.dataframe()
    if not scores:
        return frame
    try:
        score_table.scores_of(log)  # made on first use
        given = score_join.read(log)
    except sqlite3.Error:  # e.g. a full disk before the scores table was ever made
        return frame
    return score_join.join_long(frame, given, copy=False)  # the frame is ours: no copy
