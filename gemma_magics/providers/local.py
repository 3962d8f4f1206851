"""The embedded default: a Gemma GGUF in-process through llama.cpp.

Token-level generation (``Llama.generate``) gives exact token counts and one text delta per
token. Sampling defaults match ``Llama.create_completion`` so results equal a raw llama.cpp
call with the same settings and seed.
"""

from __future__ import annotations

import atexit
import codecs
import os
import random
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import CapabilityError, ValidationError
from ..events import Event, Finish, Notice, Sent, TextDelta, Usage
from . import local_model, local_threads
from .base import Provider, Request, gemma_template

_model_lock = threading.Lock()  # one generation at a time: one model, one context
_loaded: dict[str, Any] = {}


#: No Gemma token is longer than this many bytes: a prompt of more than
#: ``MAX_TOKEN_BYTES × n_ctx`` bytes cannot fit, which is known without tokenizing it.
MAX_TOKEN_BYTES = 64


def _texts(request: Request) -> list[str]:
    texts = [request.prompt, request.params.system or ""]
    for message in request.messages:
        content = message.get("content")
        texts += [content] if isinstance(content, str) else []
    return texts


def _too_long(what: str, context: int) -> ValidationError:
    return ValidationError(f"{what}, more than the local model's {context:,}-token context",
                           fix="shorten the prompt, set GEMMA_MAGICS_LOCAL_N_CTX higher, or "
                               "use a hosted provider with a longer context")


def n_ctx() -> int:
    return int(os.environ.get("GEMMA_MAGICS_LOCAL_N_CTX", "8192"))


def context_in_use(trained: int | None) -> int:
    """The window a local call can use: the one the model is loaded with
    (``GEMMA_MAGICS_LOCAL_N_CTX``), never more than it was trained for."""
    return min(n_ctx(), trained) if trained else n_ctx()


def n_threads() -> int:
    """Decode threads to start with: every core, or ``GEMMA_MAGICS_LOCAL_THREADS``. Unless
    that variable fixes it, the count then follows the measured decode steps
    (:mod:`~gemma_magics.providers.local_threads`: one fewer while another process holds a
    core, which stalls llama.cpp's thread barrier)."""
    return local_threads.fixed_threads() or local_threads.cores()


def load_model(path: str):
    """The llama.cpp model for ``path``, loaded once per process."""
    if path not in _loaded:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        with suppress_stdout_stderr(disable=False):  # llama.cpp logs to fd 2 despite verbose
            _loaded[path] = Llama(
                model_path=path,
                n_ctx=n_ctx(),
                n_threads=n_threads(),
                n_threads_batch=n_threads(),
                verbose=False,
            )
            _loaded[path]._gemma_threads = local_threads.ThreadChooser(
                fixed=local_threads.fixed_threads())
            # one token through every layer now, in the "loading model…" step: the first
            # evaluation pages the mmap'd weights in (from disk when the page cache is
            # cold), a one-time cost that would otherwise land in the first call's TTFT
            _loaded[path].eval([_loaded[path].token_bos()])
            fresh_context(_loaded[path])
        atexit.register(_loaded[path].close)
    return _loaded[path]


def fresh_context(llm: Any) -> None:
    """Forget everything the context evaluated before, so the next prompt is evaluated from
    scratch: the same request then gives the same logits, hence the same seeded text,
    whatever ran before (in this process or another).

    ``Llama.generate`` otherwise compares the new prompt with the tokens still in the
    context (``_input_ids[:n_tokens]``) and evaluates only the unmatched suffix on top of
    the old KV cache; a prompt evaluated in two pieces gives numerically different logits
    than in one batch, so "The sky is" after "The sky is maybe" sampled another text.
    ``n_tokens = 0`` turns that prefix reuse off; clearing the memory also resets the KV
    cells' layout (``llama_memory_clear``), which ``reset()`` alone leaves as it was.
    """
    llm.reset()  # n_tokens = 0: generate() has no prefix to match
    llm._ctx.kv_cache_clear()  # llama_memory_clear(mem, data=True)


def is_loaded(path: str) -> bool:
    return path in _loaded


class LocalProvider(Provider):
    """Gemma 3 270M (or ``GEMMA_MAGICS_LOCAL_MODEL``) on this machine's CPU."""

    serial = True

    def _check(self, request: Request) -> None:
        """A second guard (``api.prepare`` refuses these first, naming where they work)."""
        if request.images:
            raise CapabilityError(
                f"{request.model.id} is text-only and cannot take images",
                fix="use -p cloudflare, openai, aimlapi, openrouter or google for images",
            )
        if request.tools:
            raise CapabilityError(f"{request.model.id} has no tool calls",
                                  fix="use -p cloudflare or openai for tools")
        if request.lora:
            raise CapabilityError(
                "LoRA adapters are a Workers AI feature", fix="use -p cloudflare with --lora"
            )
        size = sum(len(t.encode("utf-8", "replace")) for t in _texts(request))
        if size // MAX_TOKEN_BYTES >= n_ctx():  # refused before loading or tokenizing
            raise _too_long(f"the prompt ({size / 1e6:.1f} MB) is at least "
                            f"{size // MAX_TOKEN_BYTES:,} tokens", n_ctx())

    def render_prompt(self, request: Request, llm: Any) -> str:
        """The exact text the model sees."""
        if request.raw:
            return request.prompt
        template = llm.metadata.get("tokenizer.chat_template")
        chat = (len(request.messages) > 1 or request.chat
                or (template and not local_model.is_bundled()))
        if not chat:  # a pretrained model continues the text
            system = request.params.system
            return f"{system}\n\n{request.prompt}" if system else request.prompt
        if template and not local_model.is_bundled():
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            formatter = Jinja2ChatFormatter(
                template,
                eos_token=llm.detokenize([llm.token_eos()]).decode("utf-8", "replace"),
                bos_token=llm.detokenize([llm.token_bos()]).decode("utf-8", "replace"),
            )
            messages = list(request.messages)
            if request.params.system:
                messages = [{"role": "system", "content": request.params.system}, *messages]
            return formatter(messages=messages).prompt
        return gemma_template(request.messages, request.params.system)

    def stream(self, request: Request) -> Iterator[Event]:
        self._check(request)
        if not local_model.is_assembled():
            yield Notice("assembling the bundled model file (once per machine, ~250 MB)…")
        path = str(local_model.model_path())
        if not is_loaded(path):
            yield Notice(f"loading model {request.model.id}…")
        with _model_lock:
            llm = load_model(path)
            yield from self._generate(llm, request)

    def _generate(self, llm: Any, request: Request) -> Iterator[Event]:
        import llama_cpp

        p = request.params
        prompt = self.render_prompt(request, llm)
        prompt_tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if prompt.startswith("<bos>") and len(prompt_tokens) > 1:
            prompt_tokens = prompt_tokens[1:]  # the template already carries <bos>
        budget = llm.n_ctx() - len(prompt_tokens)
        if budget < 1:
            raise _too_long(f"the prompt is {len(prompt_tokens):,} tokens", llm.n_ctx())
        if p.max_tokens > budget:
            raise ValidationError(
                f"prompt is {len(prompt_tokens)} tokens; max_tokens={p.max_tokens} does not fit "
                f"the {llm.n_ctx()}-token context",
                fix=f"lower max_tokens to {budget} or set GEMMA_MAGICS_LOCAL_N_CTX",
            )
        llm.set_seed(p.seed if p.seed is not None else random.randint(0, 2**32 - 1))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(p.stop or ())
        vocab = llm._model.vocab
        count = 0
        finish = "length"
        sampling = dict(
            top_k=p.top_k,
            top_p=p.top_p,
            min_p=0.05,
            typical_p=1.0,
            temp=p.temperature,
            repeat_penalty=p.repetition_penalty,
            frequency_penalty=p.frequency_penalty,
            presence_penalty=p.presence_penalty,
        )
        grammar = self.grammar(request)
        fresh_context(llm)
        yield Sent()
        if grammar is None:
            tokens = llm.generate(prompt_tokens, **sampling)
        else:
            from .local_grammar import constrained_tokens

            tokens = constrained_tokens(llm, prompt_tokens, grammar, **sampling)
        steps = local_threads.timed_steps(llm, tokens, llm._gemma_threads)
        try:
            for token in steps:
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                count += 1
                self._counts = (len(prompt_tokens), count)
                piece = decoder.decode(llm.detokenize([token], special=False))
                text, stopped = stops.feed(piece)
                if text:
                    yield TextDelta(text)
                if stopped:
                    finish = "stop"
                    break
                if count >= p.max_tokens:
                    break
        finally:
            steps.close()
            tokens.close()
        tail = "" if stops.hit else stops.flush(decoder.decode(b"", final=True))
        if tail:
            yield TextDelta(tail)
        yield Usage(len(prompt_tokens), count, len(prompt_tokens) + count, source="provider")
        yield Finish(finish)

    def partial_usage(self) -> Usage | None:
        """Exact token counts so far, for a call stopped midway (Ctrl-C)."""
        counts = getattr(self, "_counts", None)
        if counts is None:
            return None
        return Usage(counts[0], counts[1], counts[0] + counts[1], source="provider")

    def grammar(self, request: Request):
        """A llama.cpp grammar constraining the output to JSON (to the request's schema when
        it has one); None when JSON was not asked for."""
        from .local_grammar import json_grammar

        return json_grammar(request.response_format)


class StopMatcher:
    """Finds stop strings across token boundaries, holding back text that may start one."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self.pending = ""
        self.hit = False

    def feed(self, piece: str) -> tuple[str, bool]:
        """Text that is safe to show now, and whether a stop string was reached."""
        if not self.stops:
            return piece, False
        self.pending += piece
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.hit = True
            text, self.pending = self.pending[:cut], ""
            return text, True
        keep = max((self._overlap(s) for s in self.stops), default=0)
        text = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep:]
        return text, False

    def _overlap(self, stop: str) -> int:
        for n in range(min(len(stop) - 1, len(self.pending)), 0, -1):
            if self.pending.endswith(stop[:n]):
                return n
        return 0

    def flush(self, tail: str) -> str:
        text, self.pending = self.pending + tail, ""
        return text
