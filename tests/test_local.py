"""The local provider against the real Gemma 3 270M through llama.cpp."""

from __future__ import annotations

import _thread
import subprocess
import sys
import threading

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra (llama-cpp-python) is not installed")

import gemma_magics as gm  # noqa: E402
from gemma_magics.events import Done, Notice, TextDelta, Usage  # noqa: E402
from gemma_magics.providers import local_model  # noqa: E402
from gemma_magics.providers.local import load_model  # noqa: E402

PROMPT = "The three most useful pandas functions are"


def test_import_is_light():
    code = ("import sys, gemma_magics; "
            "print([m for m in ('pandas','ipywidgets','llama_cpp','matplotlib','httpx','pyarrow',"
            "'adbc_driver_manager') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stream_yields_typed_events_and_one_record(session):
    call = gm.stream(PROMPT, max_tokens=24, seed=7, temperature=0.7)
    events = list(call)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 5, "text should arrive token by token"
    assert isinstance(events[-1], Done)
    completion = events[-1].completion
    assert completion.text == "".join(d.text for d in deltas)
    record = completion.record
    assert record.status == "ok" and record.provider == "local"
    assert record.usage_source == "provider"
    assert record.ttft_s > 0 and record.latency_s >= record.ttft_s
    assert record.tokens_per_s > 0
    assert record.cost_usd == 0
    assert len(session.log) == 1


def test_token_counts_equal_llama_cpp_own_count(session):
    settings = dict(max_tokens=32, temperature=0.8, top_p=0.9, top_k=40, seed=123)
    ours = gm.generate(PROMPT, **settings)
    llm = load_model(str(local_model.model_path()))
    theirs = llm.create_completion(
        PROMPT, max_tokens=32, temperature=0.8, top_p=0.9, top_k=40, seed=123,
        repeat_penalty=1.0,
    )
    assert ours.text == theirs["choices"][0]["text"]
    assert ours.record.completion_tokens == theirs["usage"]["completion_tokens"]
    assert ours.record.prompt_tokens == theirs["usage"]["prompt_tokens"]


def test_same_seed_same_text_different_seed_differs(session):
    a = gm.generate(PROMPT, max_tokens=24, seed=42, temperature=0.9)
    b = gm.generate(PROMPT, max_tokens=24, seed=42, temperature=0.9)
    c = gm.generate(PROMPT, max_tokens=24, seed=43, temperature=0.9)
    assert a.text == b.text
    assert a.text != c.text


def test_stop_sequence_ends_answer(session):
    done = gm.generate("1, 2, 3, 4, 5,", max_tokens=40, temperature=0, stop=[" 9"])
    assert " 9" not in done.text
    assert "8" in done.text
    assert done.record.finish_reason == "stop"


def test_max_tokens_reached_reports_length(session):
    done = gm.generate(PROMPT, max_tokens=5, seed=1)
    assert done.record.completion_tokens == 5
    assert done.record.finish_reason == "length"


def test_pretrained_notice_once_per_session_for_text_to_continue(session):
    first = [e for e in gm.stream(PROMPT, max_tokens=2) if isinstance(e, Notice)]
    second = [e for e in gm.stream(PROMPT, max_tokens=2) if isinstance(e, Notice)]
    assert any("pretrained" in n.message for n in first)
    assert not any("pretrained" in n.message for n in second)


def test_interrupt_keeps_partial_text_and_record(session):
    gm.generate("warm", max_tokens=1)  # model loaded, so the interrupt lands mid-generation
    seen: list[str] = []
    call = gm.stream(PROMPT, max_tokens=2000, temperature=0.7, seed=3)
    timer = threading.Timer(0.3, _thread.interrupt_main)  # a real SIGINT-style interrupt
    with pytest.raises(KeyboardInterrupt):
        for event in call:
            if isinstance(event, TextDelta):
                seen.append(event.text)
                if len(seen) == 5:
                    timer.start()
    timer.cancel()
    record = session.log.records()[-1]
    assert record.status == "interrupted"
    assert record.response == "".join(seen) and len(seen) >= 5
    assert record.completion_tokens == len(seen)
    assert record.latency_s > 0


def test_usage_event_matches_record(session):
    events = list(gm.stream(PROMPT, max_tokens=8, seed=5))
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.completion_tokens == events[-1].completion.record.completion_tokens == 8
