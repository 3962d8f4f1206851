"""The probe suite: short prompts with judge-free checks, plus free-form prompts sampled at
temperature > 0 for the distribution test. The default suite ships as ``probes.toml``.

Users may pass their own: a list of :class:`Probe`, of dicts with the same fields, or of
plain prompt strings (free-form, compared by distribution only), and ``checks`` to add one
check text per prompt (see :mod:`.checks`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from ..errors import ValidationError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KINDS = ("arithmetic", "fact", "format", "json", "tool", "needle", "free")
#: A long-context probe never exceeds this many filler words (the machine and the bill).
NEEDLE_CAP_WORDS = 1500
_FILLER = (
    "The river runs past the old mill and under the stone bridge. ",
    "Farmers bring apples to the market on Saturday mornings. ",
    "A lighthouse keeper writes the weather in a notebook every evening. ",
    "The library opens at nine and closes when the last reader leaves. ",
    "Trains leave the northern station every half hour in summer. ",
)


@dataclass(frozen=True)
class Probe:
    """One prompt of the suite and how its answer is checked."""

    id: str
    prompt: str
    kind: str = "free"
    check: str | None = None
    answer: str | None = None
    temperature: float = 0.0
    max_tokens: int = 48
    schema: dict[str, Any] | None = None
    tool: dict[str, Any] | None = None
    arguments: dict[str, Any] | None = None
    needle: str | None = None
    wrong: str | None = None
    answers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def checked(self) -> bool:
        return self.check is not None

    def settings(self) -> dict[str, Any]:
        """The call settings of this probe (what ``compare`` is given besides the prompt)."""
        out: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.schema is not None:
            out["schema"] = self.schema
        if self.tool is not None:
            out["tools"] = [self.tool]
        return out


def _probe(raw: Any, index: int) -> Probe:
    if isinstance(raw, Probe):
        return raw
    if isinstance(raw, str):
        return Probe(id=f"p{index + 1}", prompt=raw, kind="free")
    if not isinstance(raw, Mapping) or "prompt" not in raw:
        raise ValidationError(f"probe {index + 1} is neither a prompt nor a dict with 'prompt'",
                              fix="give strings, dicts like {'prompt': ..., 'check': ...}, "
                                  "or gemma_magics.verification.Probe objects")
    data = dict(raw)
    data.setdefault("id", f"p{index + 1}")
    data["answers"] = tuple(data.get("answers") or ())
    known = set(Probe.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"probe {data['id']!r} has unknown field {unknown[0]!r}",
                              fix=f"fields are: {', '.join(sorted(known))}")
    probe = Probe(**data)
    if probe.kind not in KINDS:
        raise ValidationError(f"probe {probe.id!r} has kind {probe.kind!r}",
                              fix=f"use one of: {', '.join(KINDS)}")
    return probe


def default_suite() -> list[Probe]:
    """The probe suite shipped with the package (``probes.toml``)."""
    text = resources.files(__package__).joinpath("probes.toml").read_text("utf-8")
    return [_probe(raw, i) for i, raw in enumerate(tomllib.loads(text)["probes"])]


def load_probes(prompts: Any = None, checks: Sequence[str | None] | None = None) -> list[Probe]:
    """The probes to run: the default suite, or the user's prompts with their checks."""
    if prompts is None:
        probes = default_suite()
    else:
        if isinstance(prompts, (str, Mapping, Probe)):
            prompts = [prompts]
        if hasattr(prompts, "tolist"):
            prompts = prompts.tolist()
        probes = [_probe(raw, i) for i, raw in enumerate(prompts)]
    if checks is not None:
        checks = list(checks)
        if len(checks) != len(probes):
            raise ValidationError(f"{len(checks)} checks for {len(probes)} prompts",
                                  fix="give one check per prompt (None for no check)")
        probes = [replace(p, check=c, kind="fact" if c and p.kind == "free" else p.kind)
                  for p, c in zip(probes, checks)]
    if not probes:
        raise ValidationError("no probe to run", fix="pass prompts=None for the default suite")
    ids = [p.id for p in probes]
    if len(set(ids)) != len(ids):
        raise ValidationError("two probes share an id", fix="give each probe its own id")
    return probes


def needle_words(contexts: Sequence[int | None], cap: int = NEEDLE_CAP_WORDS) -> int:
    """Filler words for the long-context probe: half the smallest known context (in tokens,
    ~0.75 words each), capped, so every host gets the same prompt and it fits them all."""
    known = [c for c in contexts if c]
    if not known:
        return cap
    return max(50, min(cap, int(min(known) * 0.75 / 2)))


def with_needle(probe: Probe, words: int) -> Probe:
    """The long-context probe with its filler: the needle sits in the middle of the text."""
    if probe.kind != "needle" or not probe.needle:
        return probe
    sentences = itertools.cycle(_FILLER)
    filler: list[str] = []
    count = 0
    while count < words:
        sentence = next(sentences)
        filler.append(sentence)
        count += len(sentence.split())
    middle = len(filler) // 2
    text = "".join(filler[:middle]) + probe.needle + " " + "".join(filler[middle:])
    return replace(probe, prompt=f"{text}\n\n{probe.prompt}")


def answer_book(probes: Sequence[Probe] | None = None) -> dict[str, Any]:
    """What a host serving the model would answer, for the emulator (``Settings.answer_book``).

    >>> emulator.configure(answer_book=answer_book())
    """
    book: dict[str, Any] = {}
    for probe in probes if probes is not None else default_suite():
        question = probe.prompt.rsplit("\n\n", 1)[-1] if probe.kind == "needle" else probe.prompt
        entry: dict[str, Any] = {"answers": list(probe.answers) or [probe.answer or ""]}
        if probe.wrong is not None:
            entry["wrong"] = probe.wrong
        if probe.tool is not None:
            entry["tool_calls"] = [{"name": probe.tool["name"],
                                    "arguments": dict(probe.arguments or {})}]
        book[question] = entry
    return book
