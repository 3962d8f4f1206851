"""Whether a prompt suits a pretrained (not instruction-tuned) model, and the hint to show.

A pretrained checkpoint continues text: "Translate this to French: cat" gets a ramble, while
"English: dog → French: chien\\nEnglish: cat → French:" gets "chat". The first call says so
once; afterwards only prompts that read as instructions bring the hint back, so a user who
keeps asking questions keeps being told why the answers ramble, and one who writes text to
continue is left alone."""

from __future__ import annotations

import re

PRETRAINED_NOTICE = (
    "{model} is a pretrained (not instruction-tuned) model: it continues your text rather "
    "than following instructions. Point GEMMA_MAGICS_LOCAL_MODEL at an instruction-tuned "
    "GGUF, or use a hosted provider, for chat."
)
INSTRUCTION_NOTICE = (
    "this prompt reads as an instruction, and {model} is pretrained: it continues text. "
    "Write the start of the answer for it to continue (e.g. 'Q: … A:' or a few examples), "
    "or ask Gemma 4 on a hosted provider (%%gemma -p openrouter, -p cloudflare, -p google)."
)

# The opening words of a request, and the question form, in English: a hint, not a grammar.
_IMPERATIVE = re.compile(
    r"^\s*(please\s+)?(write|explain|describe|list|summari[sz]e|translate|tell|give|make|"
    r"create|generate|draft|compose|rewrite|answer|classify|extract|compare|name|suggest|"
    r"help|show|find|what|who|whom|whose|which|when|where|why|how|can|could|would|should|"
    r"is|are|do|does|did)\b",
    re.IGNORECASE,
)


def reads_as_instruction(prompt: str) -> bool:
    """True when the prompt's last line asks something (a request or a question) rather
    than setting up text to continue. A prompt ending in a continuation cue ("A:", "→",
    "French:") reads as text to continue even when it contains a question."""
    lines = [line for line in prompt.strip().splitlines() if line.strip()]
    if not lines:
        return False
    last = lines[-1].strip()
    if re.search(r"(:|→|->|=)\s*$", last):
        return False
    return last.endswith("?") or bool(_IMPERATIVE.match(last))


def pretrained_hint(model: str, prompt: str, first: bool) -> str | None:
    """The notice for a call to a pretrained model: the full one on the first call of a
    session, the instruction hint on a later call whose prompt reads as an instruction."""
    if first:
        return PRETRAINED_NOTICE.format(model=model)
    if reads_as_instruction(prompt):
        return INSTRUCTION_NOTICE.format(model=model)
    return None
