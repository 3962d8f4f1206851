"""Grammar-constrained generation with llama.cpp, fast on Gemma's 262k-token vocabulary.

``Llama.generate(grammar=...)`` runs the grammar over every token of the vocabulary at each
step, before top-k: about twenty times slower than free generation for Gemma. Here the
token is first sampled with the usual chain (penalties, top-k, typical, top-p, min-p,
temperature), then only that one token is checked against the grammar, as llama.cpp's own
``common_sampler`` does. When it is rejected the step is sampled again within the grammar:
over the most likely tokens (:data:`SHORTLISTS`) when the tokens outside it could not survive
the chain anyway (top-k is filled from the shortlist, or min-p drops everything below it),
else over the whole vocabulary. Every token passes the grammar either way.
"""

from __future__ import annotations

import ctypes
import json
import math
from collections.abc import Iterator
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaSampler

from .wire import json_schema_of

SHORTLISTS = (2048, 32768)  # tried in turn before the whole vocabulary
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class LazyGrammarSampler:
    """One generation's sampler: ``chain`` as ``Llama.generate`` builds it, plus a grammar."""

    def __init__(self, llm: Any, grammar: Any, **sampling: Any):
        self.chain = llm._init_sampler(**sampling)  # the same chain, seeded by llm.set_seed
        self.top_k = int(sampling.get("top_k") or 0)
        self.grammar = LlamaSampler()
        self.grammar.add_grammar(llm._model, grammar)
        self.n_vocab = llm.n_vocab()
        self.buffer = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
        self.buffer["id"] = np.arange(self.n_vocab, dtype=np.intc)
        self.one = (llama_cpp.llama_token_data * 1)()
        self.resampled = 0  # steps where the grammar overruled the free choice
        self.shortlisted = 0  # ...and the shortlist was enough
        self.temp = float(sampling.get("temp") or 0.0)
        self.min_p = float(sampling.get("min_p") or 0.0)
        self.neutral = (sampling.get("repeat_penalty", 1.0) == 1.0
                        and not sampling.get("frequency_penalty")
                        and not sampling.get("presence_penalty"))

    def _candidates(self, logits: np.ndarray) -> llama_cpp.llama_token_data_array:
        self.buffer["logit"] = logits
        self.buffer["p"] = 0.0
        data = self.buffer.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
        return llama_cpp.llama_token_data_array(data, self.n_vocab, -1, False)

    def _apply(self, sampler: LlamaSampler, candidates: Any) -> int:
        llama_cpp.llama_sampler_apply(sampler.sampler, ctypes.byref(candidates))
        return candidates.data[candidates.selected].id

    def sample(self, logits: np.ndarray) -> int:
        token = self._apply(self.chain, self._candidates(logits))
        self.one[0] = llama_cpp.llama_token_data(token, 1.0, 0.0)
        single = llama_cpp.llama_token_data_array(self.one, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(single))
        if math.isinf(self.one[0].logit):  # rejected: sample again within the grammar
            self.resampled += 1
            token = self._within_grammar(logits)
        llama_cpp.llama_sampler_accept(self.grammar.sampler, token)
        llama_cpp.llama_sampler_accept(self.chain.sampler, token)
        return token

    def _within_grammar(self, logits: np.ndarray) -> int:
        for size in SHORTLISTS:
            if size >= self.n_vocab:
                break
            best = np.argpartition(logits, -size)[-size:].astype(np.intc)
            short = np.zeros(size, dtype=_TOKEN_DATA)
            short["id"], short["logit"] = best, logits[best]
            floor = float(short["logit"].min())
            data = short.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
            candidates = llama_cpp.llama_token_data_array(data, size, -1, False)
            llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
            valid = short["logit"][np.isfinite(short["logit"])]
            if valid.size and self._shortlist_suffices(valid, floor):
                self.shortlisted += 1
                return self._apply(self.chain, candidates)
        candidates = self._candidates(logits)
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
        return self._apply(self.chain, candidates)

    def _shortlist_suffices(self, valid: np.ndarray, floor: float) -> bool:
        """Whether sampling over the whole vocabulary would keep nothing outside the
        shortlist: top-k keeps only shortlisted tokens, or (no penalties changing logits)
        greedy picks the best, or min-p (applied to raw logits, before temperature) drops
        every token below the shortlist's floor."""
        if 0 < self.top_k <= valid.size:
            return True
        if not self.neutral:
            return False
        if self.temp <= 0:
            return True
        return self.min_p > 0 and floor - valid.max() < math.log(self.min_p)

    def close(self) -> None:
        self.chain.close()
        self.grammar.close()


def constrained_tokens(llm: Any, prompt_tokens: list[int], grammar: Any,
                       **sampling: Any) -> Iterator[int]:
    """Like ``llm.generate(prompt_tokens, grammar=grammar, **sampling)``, yielding tokens."""
    from .local import fresh_context

    sampler = LazyGrammarSampler(llm, grammar, **sampling)
    try:
        fresh_context(llm)
        llm.eval(prompt_tokens)
        while True:
            pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(sampler.n_vocab,))
            token = sampler.sample(logits)
            yield token
            llm.eval([token])
    finally:
        sampler.close()


def json_grammar(response_format: dict[str, Any] | None):
    """A ``llama_cpp.LlamaGrammar`` for a request's ``response_format`` (None if not JSON)."""
    if not response_format:
        return None
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import JSON_GBNF

    schema, _ = json_schema_of(response_format)
    if response_format.get("type") == "json_schema" and schema is not None:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
