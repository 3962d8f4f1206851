"""B5: local generation through ``%%gemma`` versus raw ``llama_cpp.Llama``.

Ours: ``%%gemma --max-tokens 256 --seed 42 ...`` run by a real IPython ``InteractiveShell``
(terminal-style renderer, printing every token; stdout goes to ``/dev/null``), with the
bundled Gemma 3 270M loaded by the package. Baseline: ``create_completion(stream=True)``
called directly on that same ``llama_cpp.Llama`` object (so the GGUF, ``n_threads``,
``n_threads_batch`` and ``n_ctx`` are identical by construction; a second ``Llama`` in the
same process made either side swing by up to 4x), with the same prompt, seed and sampling
settings (temperature, top_k, top_p, min_p, repeat/frequency/presence penalties), consumed
chunk by chunk. Both sides must produce 256 tokens (finish "length"), and the notes say
whether the two texts are identical. Both sides reuse the evaluated prompt from the previous
run alike (llama.cpp's prefix cache), so the figures are decode-dominated.

tokens/s = 256 / wall time of the whole call (the cell, or the create_completion loop), so
everything the toolkit adds (parsing the line, validation, rendering, the record) counts.
Each side's first call (model load, warm caches) is not timed. Runs alternate ABBA so drift
on this shared 2-core machine hits both sides alike; the notes give medians and spread and
the decode rates (tokens after the first / time after the first) too.

Target: ours >= 0.95 x baseline tokens/s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from benchmarks.common import patched_environ, result, scratch, spread

TARGET = 0.95
SIZES = {"full": (256, 4), "smoke": (16, 1)}  # tokens, rounds (2 runs per side per round)
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
    from gemma_magics.providers import local, local_model
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
    threads = raw.n_threads
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

    ours()  # loads the package's model, warms everything
    baseline()
    walls: dict[str, list[float]] = {"ours": [], "baseline": []}
    decode: dict[str, list[float]] = {"ours": [], "baseline": []}
    texts: dict[str, str] = {}
    for r in range(rounds):
        order = ("ours", "baseline", "baseline", "ours") if r % 2 == 0 else (
            "baseline", "ours", "ours", "baseline")
        for side in order:
            wall, rate, text = (ours if side == "ours" else baseline)()
            print(f"B5 round {r + 1}/{rounds} {side}: {tokens / wall:.1f} tokens/s",
                  file=sys.stderr, flush=True)
            walls[side].append(wall)
            decode[side].append(rate)
            texts[side] = text
    sink.close()

    rates = {k: spread([tokens / w for w in v]) for k, v in walls.items()}
    dec = {k: spread(v) for k, v in decode.items()}
    ratio = rates["ours"]["median"] / rates["baseline"]["median"]
    same = texts["ours"] == texts["baseline"]
    notes = (
        f"{tokens} tokens, seed {SEED}, {len(walls['ours'])} runs per side (ABBA), "
        f"n_threads={threads}, n_ctx={local.n_ctx()}. End-to-end tokens/s median (min-max): "
        f"ours {rates['ours']['median']:.1f} ({rates['ours']['min']:.1f}-"
        f"{rates['ours']['max']:.1f}), raw llama_cpp {rates['baseline']['median']:.1f} "
        f"({rates['baseline']['min']:.1f}-{rates['baseline']['max']:.1f}). Decode rate: ours "
        f"(record.tokens_per_s) {dec['ours']['median']:.1f}, raw {dec['baseline']['median']:.1f}."
        f" Same text from both: {same}."
    )
    return result(
        bench="B5", name=f"local generation via %%gemma, {tokens} tokens (tokens/s)",
        ours=rates["ours"]["median"], baseline=rates["baseline"]["median"], unit="tokens/s",
        target=TARGET, target_text="≥ 0.95 × baseline", measured=ratio,
        passed=ratio >= TARGET, higher_is_better=True, ours_spread=rates["ours"],
        baseline_spread=rates["baseline"], notes=notes,
        details={"decode_tokens_per_s": dec, "same_text": same, "n_threads": threads,
                 "wall_s": {k: spread(v) for k, v in walls.items()}},
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
