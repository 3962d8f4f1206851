"""The pretrained-model hint: once at first, then again whenever a prompt reads as an
instruction (issue 18, item 16), and never for text to continue."""

from __future__ import annotations

import pytest

import gemma_magics as gm
from gemma_magics.catalog.prompt_fit import reads_as_instruction
from gemma_magics.session import Session


@pytest.mark.parametrize("prompt", [
    "Write a haiku about the sea.",
    "What is the capital of France?",
    "please summarise this paragraph",
    "Some context first.\n\nExplain how a transformer works",
])
def test_requests_and_questions_read_as_instructions(prompt):
    assert reads_as_instruction(prompt)


@pytest.mark.parametrize("prompt", [
    "The sky is",
    "Q: What is the capital of France?\nA:",
    "English: dog → French: chien\nEnglish: cat → French:",
    "Once upon a time, in a small village,",
    "",
])
def test_text_to_continue_does_not(prompt):
    assert not reads_as_instruction(prompt)


def _warnings(session: Session, prompt: str) -> list[str]:
    call = gm.prepare(prompt, provider="local", max_tokens=1, session=session)
    return [n.message for n in call.notices if "pretrained" in n.message]


def test_hint_comes_back_for_instructions_only(tmp_path):
    session = Session(db_path=tmp_path / "log.sqlite")
    first = _warnings(session, "The sky is")
    assert len(first) == 1 and "continues your text" in first[0]
    assert _warnings(session, "Once upon a time,") == []
    again = _warnings(session, "Write a poem about the sea.")
    assert len(again) == 1 and "reads as an instruction" in again[0]
    assert _warnings(session, "Write a poem about the sea.\nPoem:") == []
    assert _warnings(session, "What is 2 + 2?")  # every instruction, not once per kernel
