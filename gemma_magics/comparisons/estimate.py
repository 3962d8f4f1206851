"""What a comparison will take before it runs: tokens, cost, time, and the runs that cannot
fit their host's context window. Nothing here sends anything.

- prompt tokens: counted with the Gemma tokenizer the local GGUF carries, on the exact text
  the call would send (the Gemma chat template, or the local model's own rendering), so a
  count is ``exact``; without llama.cpp it is ``estimated`` from characters. A hosted
  provider may add a few tokens of its own template.
- completion tokens: the mean of the log's earlier ``ok`` runs of the same provider, model
  and settings (seed and prompt aside) when there are any (basis ``log``), else
  ``max_tokens`` as the bound (basis ``max_tokens``).
- cost: tokens × the catalog's prices; low = the fewest completion tokens seen (0 without
  a log), expected = the expected tokens, high = ``max_tokens`` or the most the log saw,
  if more (the worst case a budget holds back). NaN where a price is unknown.
- time: the log's latencies of the same runs (median; min and max for the spread), played
  through the scheduler's limits (``concurrency``, ``per_provider``, the local model's one
  generation at a time). Unknown (None) for a variant the log has never run.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..api import counted_prompt
from ..records import tokens
from ..records.log import STATUS_OK, Record
from .plan import Run

if TYPE_CHECKING:
    import pandas as pd

#: The settings that make two runs "the same" for the log's earlier figures.
SAME_SETTINGS = ("provider", "model", "max_tokens", "temperature", "top_p", "top_k",
                 "repetition_penalty", "frequency_penalty", "presence_penalty", "stop",
                 "system")


def settings_key(record: Record) -> tuple:
    return tuple(getattr(record, name) for name in SAME_SETTINGS)


@dataclass
class History:
    """The log's earlier ok runs of one provider, model and settings."""

    completion: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)


def log_history(records: Iterable[Record]) -> dict[tuple, History]:
    out: dict[tuple, History] = defaultdict(History)
    for r in records:
        if r.status != STATUS_OK or r.cached:
            continue
        h = out[settings_key(r)]
        if r.completion_tokens is not None:
            h.completion.append(r.completion_tokens)
        if r.latency_s is not None and not math.isnan(r.latency_s):
            h.latency.append(r.latency_s)
    return out


@dataclass
class RunEstimate:
    """One run, priced before it is sent."""

    index: int
    provider: str
    model: str
    variant: str
    prompt_tokens: int
    prompt_count: str  # exact | estimated
    max_tokens: int
    completion_tokens: float  # expected
    completion_low: int
    completion_basis: str  # log | max_tokens
    context: int | None
    refused: str | None  # why the run cannot be sent (context window), or None
    cost_low: float
    cost_expected: float
    cost_high: float  # the worst case: prompt + max_tokens
    latency: tuple[float, float, float] | None  # (low, median, high) from the log

    @property
    def price_known(self) -> bool:
        return not math.isnan(self.cost_high)


# -- one run -----------------------------------------------------------------------------


def prompt_text(run: Run) -> str:
    """The text the model will see, as the provider renders it."""
    request = run.call.request
    if run.call.provider.info.kind == "local":
        vocab = tokens.vocab()
        if vocab is not None:
            return run.call.provider.render_prompt(request, vocab)
    return counted_prompt(request)


def context_window(run: Run) -> int | None:
    """The host's context window: the catalog's, and for the local model the context
    llama.cpp is given (``GEMMA_MAGICS_LOCAL_N_CTX``)."""
    context = run.call.request.model.context
    if run.call.provider.info.kind == "local":
        from ..providers.local import n_ctx

        context = n_ctx() if context is None else min(context, n_ctx())
    return context


#: Bytes of chat markup a template may add per turn, and once (a bound, not a count).
TEMPLATE_BYTES_PER_TURN = 64


def could_overflow(run: Run) -> bool:
    """Whether the run might not fit its context window. Cheap (no tokenizer): a Gemma
    token is at least one UTF-8 byte, so text of fewer bytes than the room left fits."""
    context = context_window(run)
    if context is None:
        return False
    request = run.call.request
    texts = [request.prompt, request.params.system or "",
             *(str(m.get("content") or "") for m in request.messages)]
    size = sum(len(t.encode("utf-8")) for t in texts)
    size += TEMPLATE_BYTES_PER_TURN * (len(request.messages) + 2)
    return size > context - request.params.max_tokens


def count_prompt(run: Run, cache: dict[str, tuple[int, str]] | None = None) -> tuple[int, str]:
    """(prompt tokens, "exact" or "estimated")."""
    text = prompt_text(run)
    if cache is not None and text in cache:
        return cache[text]
    n, how = tokens.count(text, add_bos=True)
    result = (n, "exact" if how == "counted" else "estimated")
    if cache is not None:
        cache[text] = result
    return result


def worst_prompt_tokens(run: Run, counted: tuple[int, str]) -> int:
    """An upper bound of the prompt's tokens: the count when exact, else its UTF-8 bytes."""
    n, how = counted
    return n if how == "exact" else len(prompt_text(run).encode("utf-8")) + 1


def refusal(prompt_tokens: int, max_tokens: int, context: int | None) -> str | None:
    if context is None or prompt_tokens + max_tokens <= context:
        return None
    return (f"prompt is {prompt_tokens} tokens; with max_tokens={max_tokens} it does not fit "
            f"the {context}-token context window (lower max_tokens to "
            f"{max(context - prompt_tokens, 0)} or shorten the prompt)")


def estimate_run(run: Run, history: Mapping[tuple, History],
                 cache: dict[str, tuple[int, str]] | None = None) -> RunEstimate:
    request = run.call.request
    model = request.model
    max_tokens = int(request.params.max_tokens)
    counted = count_prompt(run, cache)
    prompt_n = counted[0]
    earlier = history.get(settings_key(run.call.record))
    high = max_tokens
    if earlier is not None and earlier.completion:
        expected = statistics.fmean(earlier.completion)
        low, basis = min(earlier.completion), "log"
        # a count made by the client may pass max_tokens (the host tokenised differently)
        high = max(high, max(earlier.completion))
    else:
        expected, low, basis = float(max_tokens), 0, "max_tokens"
    latency = None
    if earlier is not None and earlier.latency:
        latency = (min(earlier.latency), statistics.median(earlier.latency),
                   max(earlier.latency))
    context = context_window(run)
    return RunEstimate(
        index=run.index, provider=run.provider, model=run.model, variant=run.variant,
        prompt_tokens=prompt_n, prompt_count=counted[1], max_tokens=max_tokens,
        completion_tokens=expected, completion_low=low, completion_basis=basis,
        context=context, refused=refusal(prompt_n, max_tokens, context),
        cost_low=model.cost(prompt_n, low), cost_expected=model.cost(prompt_n, expected),
        cost_high=model.cost(worst_prompt_tokens(run, counted), high),
        latency=latency,
    )


# -- time --------------------------------------------------------------------------------


def provider_limits(runs: list[Run], concurrency: int,
                    per_provider: Mapping[str, int] | None) -> dict[str, int]:
    """The scheduler's per-provider caps (see :func:`scheduler.limits_for`)."""
    caps: dict[str, int] = {}
    for run in runs:
        if run.provider not in caps:
            cap = int((per_provider or {}).get(run.provider, concurrency))
            if getattr(run.call.provider, "serial", False):
                cap = 1
            caps[run.provider] = min(cap, concurrency)
    return caps


def simulate(durations: list[tuple[str, float]], concurrency: int,
             caps: Mapping[str, int]) -> list[float]:
    """When each run would finish, in seconds from the start: runs start in order as a
    global slot and their provider's slot are free; a run waiting for its provider holds no
    global slot, so other providers go ahead (as the scheduler does)."""
    queues: dict[str, deque[int]] = defaultdict(deque)
    for i, (provider, _) in enumerate(durations):
        queues[provider].append(i)
    active: dict[str, int] = defaultdict(int)
    ends: list[tuple[float, int]] = []
    finish = [0.0] * len(durations)
    now, in_flight = 0.0, 0
    while any(queues.values()) or ends:
        started = True
        while started and in_flight < concurrency:
            started = False
            ready = [q for p, q in queues.items() if q and active[p] < caps.get(p, concurrency)]
            if ready:
                i = min(ready, key=lambda q: q[0]).popleft()
                provider, seconds = durations[i]
                active[provider] += 1
                in_flight += 1
                finish[i] = now + seconds
                heapq.heappush(ends, (finish[i], i))
                started = True
        if not ends:
            break
        now, i = heapq.heappop(ends)
        active[durations[i][0]] -= 1
        in_flight -= 1
    return finish


# -- the whole comparison ---------------------------------------------------------------


@dataclass
class Estimate:
    """A comparison priced before it runs."""

    runs: list[RunEstimate]
    resumed: int
    finish: dict[str, list[float] | None]  # low / expected / high: per run, None if unknown
    budget: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[RunEstimate]:
        return [r for r in self.runs if r.refused]

    def rows(self) -> list[dict[str, Any]]:
        """One row per provider × model."""
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(self.runs):
            groups.setdefault((r.provider, r.model), []).append(i)
        return [self._row(provider, model, idx) for (provider, model), idx in groups.items()]

    def total(self) -> dict[str, Any]:
        return self._row("total", "", list(range(len(self.runs))))

    def _row(self, provider: str, model: str, idx: list[int]) -> dict[str, Any]:
        runs = [self.runs[i] for i in idx]
        sent = [(i, r) for i, r in zip(idx, runs, strict=True) if not r.refused]
        from_log = sum(1 for _, r in sent if r.completion_basis == "log")
        basis = ("log" if from_log == len(sent) and sent else
                 "max_tokens" if from_log == 0 else f"log for {from_log} of {len(sent)}")
        row: dict[str, Any] = {
            "provider": provider, "model": model, "runs": len(sent),
            "refused": len(runs) - len(sent),
            "prompt_tokens": sum(r.prompt_tokens for _, r in sent),
            "prompt_count": "exact" if all(r.prompt_count == "exact" for _, r in sent)
            else "estimated",
            "completion_tokens": round(sum(r.completion_tokens for _, r in sent)),
            "max_completion_tokens": sum(r.max_tokens for _, r in sent),
            "completion_basis": basis,
        }
        for name in ("low", "expected", "high"):
            row[f"cost_{name}_usd"] = math.fsum(getattr(r, f"cost_{name}") for _, r in sent)
        for name in ("low", "expected", "high"):
            ends = self.finish.get(name)
            row[f"time_{name}_s"] = (max((ends[i] for i, _ in sent), default=0.0)
                                     if ends is not None and all(
                                         self.runs[i].latency for i, _ in sent) else None)
        return row

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame(self.rows())
        frame.attrs["dry_run"] = {
            "total": self.total(), "resumed": self.resumed, "budget": self.budget,
            "notes": list(self.notes),
            "refused": [{"run": r.index, "variant": r.variant, "reason": r.refused}
                        for r in self.refused],
        }
        return frame


def estimate(runs: list[Run], records: Iterable[Record], concurrency: int,
             per_provider: Mapping[str, int] | None = None,
             budget: float | None = None) -> Estimate:
    """Price every run not already finished (``run.skipped``: resumed from the log)."""
    history = log_history(records)
    cache: dict[str, tuple[int, str]] = {}
    todo = [run for run in runs if not run.skipped]
    priced = [estimate_run(run, history, cache) for run in todo]
    caps = provider_limits(todo, concurrency, per_provider)
    finish: dict[str, list[float] | None] = {}
    for k, name in enumerate(("low", "expected", "high")):
        durations = [(r.provider, r.latency[k] if r.latency else 0.0)
                     for r in priced if not r.refused]
        ends = iter(simulate(durations, concurrency, caps))
        finish[name] = [0.0 if r.refused else next(ends) for r in priced]
    result = Estimate(priced, len(runs) - len(todo), finish, budget)
    result.notes = _notes(result)
    return result


def in_sequence(parts: list[Estimate], budget: float | None = None) -> Estimate:
    """Comparisons run one after another (the host verifier's groups of probes, each with
    its own settings) priced as one: their runs together, numbered in order, each part's
    finish times after the previous part's last run, the notes for the whole."""
    runs: list[RunEstimate] = []
    finish: dict[str, list[float] | None] = {name: [] for name in ("low", "expected", "high")}
    for part in parts:
        for name, ends in finish.items():
            start = max(ends, default=0.0)
            ends += [start + t for t in part.finish[name] or [0.0] * len(part.runs)]
        runs += [replace(r, index=len(runs) + k) for k, r in enumerate(part.runs)]
    result = Estimate(runs, sum(p.resumed for p in parts), finish, budget)
    result.notes = _notes(result)
    return result


def _notes(est: Estimate) -> list[str]:
    notes = []
    unknown = sorted({f"{r.provider} {r.model}" for r in est.runs if not r.price_known})
    if unknown:
        notes.append(f"no price in the catalog for {', '.join(unknown)}: its cost is unknown "
                     "(NaN)")
    untimed = sorted({r.variant for r in est.runs if r.latency is None and not r.refused})
    if untimed:
        notes.append(f"no earlier run in the log of {', '.join(untimed)}: time unknown")
    if any(r.prompt_count == "estimated" for r in est.runs):
        notes.append("prompt tokens estimated from characters (llama.cpp is not installed)")
    if est.budget is not None:
        high = est.total()["cost_high_usd"]
        budget = f"${est.budget:.8f}".rstrip("0").rstrip(".")
        if unknown:
            notes.append(f"a budget of {budget} cannot hold back runs without a price "
                         '(budget_unknown="allow" runs them anyway)')
        if high <= est.budget:
            notes.append(f"the worst case ${high:.6f} fits the budget of {budget}")
        else:
            notes.append(f"the worst case ${high:.6f} passes the budget of {budget}: "
                         "runs left when it is reached are recorded as skipped")
    return notes
