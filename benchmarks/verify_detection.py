"""How small a degradation does gm.verify's default suite detect at 5 repeats? (issue 16)

Not a speed benchmark: a power measurement on the emulator. Two emulated hosts answer the
default probe suite from the answer book; the second is degraded at level d (each answer
damaged with chance d: wrong fact, half-length free text, broken tool-call arguments).
For each level, ``SEEDS`` independent emulator answer streams; the detection rate is the
share of verify runs that call the degraded host "different" at alpha = 0.05.

    PYTHONPATH=. python -m benchmarks.verify_detection [--seeds 5] [--repeats 5]
    PYTHONPATH=. python -m benchmarks.verify_detection --levels 0 --seeds 40   # false alarms
"""

from __future__ import annotations

import argparse
import os
import tempfile

from gemma_magics.config import Config
from gemma_magics.emulator import Emulator
from gemma_magics.session import Session
from gemma_magics.verification.probes import answer_book
from gemma_magics.verification.run import verify

LEVELS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def detection(level: float, seeds: int, repeats: int) -> float:
    hits = 0
    for seed in range(seeds):
        with Emulator(answer_book=answer_book(), answer_seed=seed,
                      degrade={"/vllm/": level}) as emu:
            os.environ["GEMMA_MAGICS_OPENAI_BASE_URL"] = emu.base_url + "/v1"
            os.environ["GEMMA_MAGICS_VLLM_BASE_URL"] = emu.base_url + "/vllm/v1"
            session = Session(config=Config(), db_path=":memory:")
            result = verify("google/gemma-4-26b-a4b-it", ["openai", "vllm"], repeats=repeats,
                            seed=seed, session=session)
            hits += result.host("vllm").different
            session.log.close()
    return hits / seeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--levels", type=float, nargs="*", default=list(LEVELS),
                        help="degradation levels (0 alone: the false-positive rate)")
    args = parser.parse_args()
    os.environ.update(OPENAI_API_KEY="bench", VLLM_API_KEY="bench",
                      GEMMA_MAGICS_CONFIG=os.path.join(tempfile.mkdtemp(), "config.toml"))
    smallest = None
    for level in args.levels:
        rate = detection(level, args.seeds, args.repeats)
        print(f"degrade {level:.2f}: flagged in {rate * 100:.0f} % of {args.seeds} runs",
              flush=True)
        if smallest is None and level > 0 and rate >= 0.8:
            smallest = level
    print(f"smallest degradation flagged in >= 80 % of runs at {args.repeats} repeats: "
          f"{smallest}")


if __name__ == "__main__":
    main()
