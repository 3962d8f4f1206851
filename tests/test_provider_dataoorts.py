"""Dataoorts (nested ``data``, Workers AI envelope, never streamed) against the emulator."""

from __future__ import annotations

import asyncio

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.emulator import Fault
from gemma_magics.events import TextDelta

pytest_plugins = ["conftest_providers"]

from emulated import last_body  # noqa: E402

ANSWER = "Gemma runs here too, answered in one piece."


@pytest.mark.parametrize("stream", [True, False])
def test_answer_arrives_whole_in_one_delta(hosted, emu, stream):
    emu.set_text(ANSWER)
    call = gm.stream("Hi", "dataoorts", session=hosted, stream=stream, temperature=0.1,
                     top_p=0.9, top_k=40, max_tokens=512, system="Be brief.")
    deltas = [e.text for e in call if isinstance(e, TextDelta)]
    assert deltas == [ANSWER]
    rec = call.completion.record
    assert rec.status == "ok" and rec.usage_source == "provider"
    assert rec.completion_tokens == len(ANSWER.split())
    assert rec.cost_usd == pytest.approx((rec.prompt_tokens * 0.11
                                          + rec.completion_tokens * 0.12) / 1e6)
    request = emu.requests[-1]
    assert request.path == "/api/v1"
    assert request.body == {"model": "google/gemma-3-12b-it", "data": {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi"}],
        "max_tokens": 512, "temperature": 0.1, "top_p": 0.9, "top_k": 40}}


@pytest.mark.parametrize(("fault", "cls", "start"), [
    (Fault(status=400, code=5006, message="AiError: Bad input"), errors.BadRequestError,
     "dataoorts HTTP 400 code 5006: AiError: Bad input"),
    (Fault(status=401, code=10000, message="Authentication error"), errors.AuthenticationError,
     "dataoorts HTTP 401 code 10000: Authentication error"),
    (Fault(status=429, code=3040, message="Capacity"), errors.RateLimitError,
     "dataoorts HTTP 429 code 3040: Capacity"),
    (Fault(status=500, message="Internal"), errors.InternalServerError,
     "dataoorts HTTP 500 code 3043: Internal"),
    (Fault(success_false=True, code=5007, message="No such model"), errors.BadRequestError,
     "dataoorts HTTP 200 code 5007: No such model"),
], ids=["400", "401", "429", "500", "success-false"])
def test_errors_in_the_workers_envelope(hosted, emu, monkeypatch, fault, cls, start):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    emu.inject(fault)
    with pytest.raises(errors.APIError) as info:
        gm.generate("Hi", "dataoorts", session=hosted)
    assert type(info.value) is cls
    assert str(info.value).startswith(start)
    assert info.value.completion.record.status == "error"


def test_auth_fix_names_the_variable(hosted, emu):
    emu.inject(Fault(status=401, code=10000, message="Authentication error"))
    with pytest.raises(errors.AuthenticationError) as info:
        gm.generate("Hi", "dataoorts", session=hosted)
    assert info.value.fix == "check the API key from env DATAOORTS_API_KEY"


def test_cut_body_is_retried_because_nothing_was_shown(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(cut_after=1))
    completion = gm.generate("Hi", "dataoorts", session=hosted)
    assert completion.text == ANSWER and completion.record.retries == 1
    assert len(emu.requests) == 2


def test_tools_refused_before_sending(hosted, emu):
    with pytest.raises(errors.CapabilityError, match="has no tool calls"):
        gm.generate("Hi", "dataoorts", session=hosted, tools=[{"name": "f", "parameters": {}}])
    assert emu.requests == []


def test_async(hosted, emu):
    emu.set_text(ANSWER)

    async def run():
        return [e async for e in gm.stream("Hi", "dataoorts", session=hosted)]

    events = asyncio.run(run())
    assert [e.text for e in events if isinstance(e, TextDelta)] == [ANSWER]
    assert "stream" not in last_body(emu)["data"]
