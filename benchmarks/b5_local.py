"""B5′: local generation through ``%%gemma`` versus raw ``llama_cpp.Llama`` at its best
thread count.

Ours: ``%%gemma --max-tokens 256 --seed 42 ...`` run by a real IPython ``InteractiveShell``
(terminal-style renderer, printing every token; stdout goes to ``/dev/null``), with the
bundled Gemma 3 270M loaded by the package. Baseline: ``create_completion(stream=True)``
called directly on that same ``llama_cpp.Llama`` object (so the GGUF and ``n_ctx`` are
identical by construction; a second ``Llama`` in the same process made either side swing by
up to 4x), with the same prompt, seed and sampling
settings (temperature, top_k, top_p, min_p, repeat/frequency/presence penalties), consumed
chunk by chunk. Both sides must produce 256 tokens (finish "length"), and the notes say
whether the two texts are identical. Both sides reuse the evaluated prompt from the previous
run alike (llama.cpp's prefix cache), so the figures are decode-dominated.

tokens/s = 256 / wall time of the whole call (the cell, or the create_completion loop), so
everything the toolkit adds (parsing the line, validation, rendering, the record) counts.
Raw llama.cpp runs at every thread count from 1 to the cores this process may use (set on
the same context with ``llama_set_n_threads``), and the baseline is the fastest of them in
this run: whatever the machine's load, ours must match llama.cpp at its best count, while
ours picks its count by itself (``providers/local_threads.py``). Each side's first call
(model load, warm caches) is not timed. The sides run in a rotating order so drift on this
shared 2-core machine hits all alike; the notes give medians and spread, every thread count's
figure, and the decode rates (tokens after the first / time after the first) too.

Target: ours >= 0.95 x the best raw tokens/s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from benchmarks.common import patched_environ, result, scratch, spread

TARGET = 0.95
SIZES = {"full": (256, 3), "smoke": (16, 1)}  # tokens, rounds (2 runs per side per round)
PROMPT = "The history of the Roman Empire is a story of"
SEED = 42
SETTINGS = {"temperature": 0.6, "top_k": 64, "top_p": 0.95, "repeat_penalty": 1.0,
            "frequency_penalty": 0.0, "presence_penalty": 0.0}
MIN_P = 0.05  # the package's (and create_completion's) default


def run(size: str = "full") -> dict:
    tokens, rounds = SIZES[size]
    with scratch() as tmp, patched_environ(
        {"GEMMA_MAGICS_CONFIG": str(tmp / "absent.toml"), "GEMMA_MAGICS_DB": str(tmp / "h.db")},
        drop_prefixes=("GEMMA_MAGICS_",),
    ):
        return _measure(tokens, rounds)


def _measure(tokens: int, rounds: int) -> dict:
    from IPython.core.interactiveshell import InteractiveShell
    from llama_cpp import Llama

    from gemma_magics.config import Config
    from gemma_magics.providers import local, local_model, local_threads
    from gemma_magics.session import Session, set_session

    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "gemma_magics")
    set_session(Session(config=Config()))
    line = (f"--max-tokens {tokens} --seed {SEED} --temperature {SETTINGS['temperature']} "
            f"--top-k {SETTINGS['top_k']} --top-p {SETTINGS['top_p']} "
            f"--repetition-penalty {SETTINGS['repeat_penalty']} "
            f"--frequency-penalty {SETTINGS['frequency_penalty']} "
            f"--presence-penalty {SETTINGS['presence_penalty']} -o out")
    sink = open(os.devnull, "w")  # noqa: SIM115 (closed below)

    # the very Llama object the package loaded: model, context size and threads are the same
    # by construction (a second Llama in the same process skewed either side by up to 4x)
    raw = local.load_model(str(local_model.model_path()))
    assert isinstance(raw, Llama)

    def ours() -> tuple[float, float, str]:
        with contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            shell.run_cell_magic("gemma", line, PROMPT)
            wall = time.perf_counter() - start
        rec = shell.user_ns["out"].record
        if rec.status != "ok" or rec.completion_tokens != tokens:
            raise RuntimeError(f"ours: {rec.status} {rec.error} {rec.completion_tokens} tokens "
                               f"({rec.finish_reason}); pick another prompt or seed")
        return wall, rec.tokens_per_s, shell.user_ns["out"].text

    def baseline() -> tuple[float, float, str]:
        parts = []
        finish = None
        first = None
        start = time.perf_counter()
        for chunk in raw.create_completion(
            PROMPT, max_tokens=tokens, seed=SEED, stream=True, min_p=MIN_P, typical_p=1.0,
            temperature=SETTINGS["temperature"], top_k=SETTINGS["top_k"],
            top_p=SETTINGS["top_p"], repeat_penalty=SETTINGS["repeat_penalty"],
            frequency_penalty=SETTINGS["frequency_penalty"],
            presence_penalty=SETTINGS["presence_penalty"],
        ):
            if first is None:
                first = time.perf_counter()
            choice = chunk["choices"][0]
            parts.append(choice["text"])
            finish = choice["finish_reason"] or finish
        end = time.perf_counter()
        if finish != "length":
            raise RuntimeError(f"baseline stopped early ({finish}); pick another prompt or seed")
        return end - start, tokens / (end - first), "".join(parts)

    counts = list(range(1, local_threads.cores() + 1))
    chooser = raw._gemma_threads

    def raw_at(n: int):
        def side() -> tuple[float, float, str]:
            raw._ctx.set_n_threads(n, n)
            return baseline()
        return side

    sides = {"ours": ours, **{f"raw@{n}": raw_at(n) for n in counts}}
    ours()  # loads the package's model, warms everything
    for n in counts:
        sides[f"raw@{n}"]()
    walls: dict[str, list[float]] = {k: [] for k in sides}
    decode: dict[str, list[float]] = {k: [] for k in sides}
    texts: dict[str, set[str]] = {k: set() for k in sides}
    names = list(sides)
    for r in range(rounds * 2):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for side in order:
            wall, rate, text = sides[side]()
            print(f"B5 round {r + 1}/{rounds * 2} {side}: {tokens / wall:.1f} tokens/s",
                  file=sys.stderr, flush=True)
            walls[side].append(wall)
            decode[side].append(rate)
            texts[side].add(text)
    sink.close()

    rates = {k: spread([tokens / w for w in v]) for k, v in walls.items()}
    dec = {k: spread(v) for k, v in decode.items()}
    best = max((f"raw@{n}" for n in counts), key=lambda k: rates[k]["median"])
    ratio = rates["ours"]["median"] / rates[best]["median"]
    same = len(set().union(*texts.values())) == 1
    raw_text = ", ".join(
        f"{n} thread{'s' if n > 1 else ''} {rates[f'raw@{n}']['median']:.1f} "
        f"({rates[f'raw@{n}']['min']:.1f}-{rates[f'raw@{n}']['max']:.1f})" for n in counts)
    learned = ", ".join(f"{n}: {s * 1000:.0f} ms" for n, s in sorted(chooser.step_s.items()))
    notes = (
        f"{tokens} tokens, seed {SEED}, {len(walls['ours'])} runs per side, rotating order; "
        f"ours chooses its decode threads from timed steps (counts {list(chooser.counts)}, "
        f"last step times {learned}; now on {chooser.current}), n_ctx={local.n_ctx()}. "
        f"End-to-end tokens/s median (min-max): ours {rates['ours']['median']:.1f} "
        f"({rates['ours']['min']:.1f}-{rates['ours']['max']:.1f}); raw llama_cpp at "
        f"{raw_text}; best raw: {best}. Decode rate: ours (record.tokens_per_s) "
        f"{dec['ours']['median']:.1f}, best raw {dec[best]['median']:.1f}. Same text from "
        f"every side and thread count: {same}."
    )
    return result(
        bench="B5", name=f"B5′ local generation via %%gemma vs the best raw llama.cpp, "
                         f"{tokens} tokens (tokens/s)",
        ours=rates["ours"]["median"], baseline=rates[best]["median"], unit="tokens/s",
        target=TARGET, target_text="≥ 0.95 × best raw", measured=ratio,
        passed=ratio >= TARGET, higher_is_better=True, ours_spread=rates["ours"],
        baseline_spread=rates[best], notes=notes,
        details={"decode_tokens_per_s": dec, "same_text": same, "best_raw": best,
                 "raw_tokens_per_s": {k: v for k, v in rates.items() if k != "ours"},
                 "chooser_step_s": chooser.step_s, "cores": local_threads.cores(),
                 "wall_s": {k: spread(v) for k, v in walls.items()}},
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
