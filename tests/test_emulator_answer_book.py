"""The emulator's answer book and degraded host (issue 16), over real HTTP."""

from __future__ import annotations

import pytest

import gemma_magics as gm

pytest_plugins = ["conftest_providers"]

BOOK = {
    "What is 2 + 2?": {"answers": ["4"], "wrong": "5"},
    "Say something.": {"answers": ["one", "two", "three", "four"]},
    "Weather in Oslo?": {"tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}}]},
}
TOOL = {"name": "weather", "description": "Weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(autouse=True)
def vllm_key(hosted, monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "canary-vllm")


def ask(session, prompt, provider="openai", **kw):
    return gm.generate(prompt, provider, "gemma-4-26b-a4b-it", session=session, cache=False, **kw)


def test_known_questions_get_their_answer_and_others_the_scripted_text(emu, hosted):
    emu.configure(answer_book=BOOK)
    assert ask(hosted, "What is 2 + 2?", temperature=0).text == "4"
    assert ask(hosted, "Tell me about Gemma.", temperature=0).text.startswith("Gemma is a family")


def test_degrade_damages_answers_on_the_degraded_route_only(emu, hosted):
    emu.configure(answer_book=BOOK, degrade={"/vllm/": 1.0})
    assert ask(hosted, "What is 2 + 2?", "openai", temperature=0).text == "4"
    assert ask(hosted, "What is 2 + 2?", "vllm", temperature=0).text == "5"
    call = ask(hosted, "Weather in Oslo?", "vllm", tools=[TOOL])
    assert call.tool_calls[0].name == "weather"
    assert "_raw" in call.tool_calls[0].arguments  # the arguments arrived as broken JSON
    assert ask(hosted, "Weather in Oslo?", "openai", tools=[TOOL]).tool_calls[0].arguments \
        == {"city": "Oslo"}


def test_sampled_draws_are_reproducible_and_differ_between_routes(emu, hosted):
    emu.configure(answer_book=BOOK, answer_seed=3)

    def draws(provider):
        return [ask(hosted, "Say something.", provider, temperature=1.0).text for _ in range(8)]

    first_openai, first_vllm = draws("openai"), draws("vllm")
    assert len(set(first_openai)) > 1  # sampled, not one fixed answer
    assert first_openai != first_vllm  # two hosts draw independently
    emu.reset()
    emu.configure(answer_book=BOOK, answer_seed=3)
    assert draws("openai") == first_openai  # the k-th request gets draw k again
