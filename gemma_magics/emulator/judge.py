"""Answers to judge prompts (gemma_magics' scoring), in the judge's JSON format.

A prompt whose text holds the judge marker gets a deterministic verdict instead of the
scripted paragraph, so notebooks and tests can grade on the emulator:

- single: passes when the REFERENCE (if any) appears in the ANSWER, ignoring case, else when
  the answer is not empty; score 1 or 0;
- pairwise: the answer containing the reference wins (the longer one when both or neither
  do; a tie when they are equal).

The format is the client's (``gemma_magics/scoring/judges.py``), repeated here because the
emulator imports nothing of the client. A fixed ``text`` setting still wins, so a test can
make the judge answer garbage.
"""

from __future__ import annotations

import json
import re

MARKER = "[gemma_magics judge v1]"
_FIELD = re.compile(r"^(RUBRIC|QUESTION|REFERENCE|ANSWER|ANSWER 1|ANSWER 2): <<<(.*?)>>>$",
                    re.M | re.S)


def is_judge_prompt(prompt: str) -> bool:
    return MARKER in prompt


def fields(prompt: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _FIELD.finditer(prompt)}


def verdict(prompt: str) -> str:
    """The judge's one-line JSON answer to ``prompt``."""
    f = fields(prompt)
    reference = f.get("REFERENCE")
    if "ANSWER 1" in f or "ANSWER 2" in f:
        first, second = f.get("ANSWER 1", ""), f.get("ANSWER 2", "")
        hits = [reference is not None and reference.casefold() in a.casefold()
                for a in (first, second)]
        if hits[0] != hits[1]:
            winner = "1" if hits[0] else "2"
        elif len(first.strip()) == len(second.strip()):
            winner = "tie"
        else:
            winner = "1" if len(first.strip()) > len(second.strip()) else "2"
        return json.dumps({"winner": winner, "reason": "emulated judge: reference, then length"})
    answer = f.get("ANSWER", "")
    if reference is not None:
        ok = reference.strip().casefold() in answer.casefold()
        why = "the answer contains the reference" if ok else "the reference is missing"
    else:
        ok = bool(answer.strip())
        why = "the answer is not empty" if ok else "the answer is empty"
    return json.dumps({"pass": ok, "score": 1.0 if ok else 0.0, "reason": f"emulated judge: {why}"})
