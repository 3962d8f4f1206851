"""Thinking (Gemma 4): the switch sent in each provider's own field, reasoning read apart
from the answer, recorded, shown in a collapsed section, and Gemma 4's conversation rules.
Real HTTP against the emulator, which records every request body."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.catalog import thinking as model_rules
from gemma_magics.completion import empty_after_thinking
from gemma_magics.config import Config
from gemma_magics.events import ReasoningDelta, TextDelta
from gemma_magics.notebook import display
from gemma_magics.providers.base import chat_template
from gemma_magics.records.log import COLUMNS, Record, RecordLog
from gemma_magics.session import Session, set_session

pytest_plugins = ["conftest_providers"]

from emulated import last_body  # noqa: E402

CF_GEMMA4 = "@cf/google/gemma-4-26b-a4b-it"
THOUGHT = "Paris is the capital. The user wants one word."
ANSWER = "Paris."
HOSTILE = '<img src=x onerror="window.__pwned = 1"> cost $3.50 & <b>'

#: (provider, model, fields sent with think on, fields sent with think off)
SWITCHES = [
    ("cloudflare", CF_GEMMA4, {"chat_template_kwargs": {"enable_thinking": True}},
     {"chat_template_kwargs": {"enable_thinking": False}}),
    ("cloudflare-openai", CF_GEMMA4, {"chat_template_kwargs": {"enable_thinking": True}},
     {"chat_template_kwargs": {"enable_thinking": False}}),
    ("openrouter", "google/gemma-4-31b-it", {"reasoning": {"enabled": True}},
     {"reasoning": {"enabled": False}}),
    ("aimlapi", "google/gemma-4-31b-it", {"reasoning_effort": "high"},
     {"reasoning_effort": "low"}),
    ("google", "gemma-4-31b-it", {"reasoning_effort": "high"},
     {"reasoning_effort": "minimal"}),
    ("ollama", "gemma4:e4b", {"reasoning_effort": "medium"}, {"reasoning_effort": "none"}),
    ("vllm", "google/gemma-4-31b-it", {"chat_template_kwargs": {"enable_thinking": True}},
     {"chat_template_kwargs": {"enable_thinking": False}}),
    ("llamacpp", "gemma-4-e4b-it",
     {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_format": "deepseek"},
     {"chat_template_kwargs": {"enable_thinking": False}}),
]
THINK_KEYS = ("chat_template_kwargs", "reasoning", "reasoning_effort", "reasoning_format")
#: The field each emulated server answers its reasoning in.
ANSWER_FIELD = {"cloudflare": "reasoning_content", "cloudflare-openai": "reasoning_content",
                "llamacpp": "reasoning_content", "openrouter": "reasoning",
                "ollama": "reasoning", "vllm": "reasoning"}


@pytest.fixture
def thinking_emu(emu):
    emu.configure(cloudflare_models=[*emu.settings.cloudflare_models, CF_GEMMA4],
                  require_auth=False, reasoning_text=THOUGHT)
    emu.set_text(ANSWER)
    return emu


def sent(emu) -> dict:
    body = last_body(emu)
    return {k: body[k] for k in THINK_KEYS if k in body}


# -- the switch -------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "model", "on", "off"), SWITCHES,
                         ids=[s[0] for s in SWITCHES])
def test_the_switch_is_sent_explicitly_in_each_providers_field(hosted, thinking_emu, provider,
                                                               model, on, off):
    gm.generate("Capital of France?", provider, model, session=hosted, think=True)
    assert sent(thinking_emu) == on
    gm.generate("Capital of France?", provider, model, session=hosted, think="off")
    assert sent(thinking_emu) == off
    record = gm.generate("Capital of France?", provider, model, session=hosted).record
    assert sent(thinking_emu) == off, "not given: Gemma 4's default (off), sent, not omitted"
    assert record.think is False


def test_a_model_that_does_not_think_refuses_the_switch_before_sending(hosted, thinking_emu):
    for provider, model in (("aimlapi", "google/gemma-3-27b-it"),
                            ("aimlapi", "google/gemma-4-26b-a4b-it-maas"),
                            ("cloudflare", "@cf/google/gemma-2b-it-lora"), ("local", None)):
        with pytest.raises(errors.ValidationError) as info:
            gm.stream("Hi", provider, model, session=hosted, think=True)
        assert "--think is not available" in str(info.value) and "drop --think" in info.value.fix
    assert thinking_emu.requests == []
    gm.generate("Hi", "aimlapi", "google/gemma-3-27b-it", session=hosted)
    assert sent(thinking_emu) == {}, "a model without a switch gets no thinking field"
    with pytest.raises(errors.ValidationError, match="is not on or off"):
        gm.stream("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think="maybe")


# -- reading the reasoning --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("provider", list(ANSWER_FIELD))
def test_reasoning_arrives_apart_from_the_answer_and_is_recorded(hosted, thinking_emu,
                                                                  provider, stream):
    model = dict((s[0], s[1]) for s in SWITCHES)[provider]
    call = gm.stream("Capital of France?", provider, model, session=hosted, think=True,
                     stream=stream)
    events = list(call)
    thoughts = [e for e in events if type(e) is ReasoningDelta]
    answer = [e for e in events if type(e) is TextDelta]
    assert "".join(e.text for e in thoughts) == THOUGHT
    assert "".join(e.text for e in answer) == ANSWER
    assert events.index(thoughts[-1]) < events.index(answer[0]), "thinking comes first"
    completion = call.completion
    assert (completion.text, completion.reasoning) == (ANSWER, THOUGHT)
    rec = completion.record
    assert (rec.response, rec.reasoning, rec.think) == (ANSWER, THOUGHT, True)
    n_thought, n_answer = len(THOUGHT.split()), len(ANSWER.split())
    assert (rec.reasoning_tokens, rec.completion_tokens) == (n_thought, n_thought + n_answer)
    assert rec.ttfr_s is not None and rec.ttft_s is not None and rec.ttfr_s <= rec.ttft_s


@pytest.mark.parametrize("provider", list(ANSWER_FIELD))
def test_the_emulator_answers_reasoning_in_the_servers_own_field(hosted, thinking_emu,
                                                                  provider):
    gm.generate("Hi", provider, dict((s[0], s[1]) for s in SWITCHES)[provider],
                session=hosted, think=True, stream=False)
    request = thinking_emu.requests[-1]
    answer = httpx.post(thinking_emu.base_url + request.path, json=request.body,
                        headers={"Authorization": "Bearer x"}).json()
    result = answer.get("result", answer)  # Workers AI: a chat.completion in the envelope
    message = result["choices"][0]["message"]
    field = ANSWER_FIELD[provider]
    assert message[field] == THOUGHT and message["content"] == ANSWER
    assert {"reasoning", "reasoning_content"} - {field} - set(message) == {
        "reasoning", "reasoning_content"} - {field}
    assert result["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": len(THOUGHT.split())}


def test_think_off_brings_no_reasoning(hosted, thinking_emu):
    call = gm.stream("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think=False)
    events = list(call)
    assert not any(type(e) is ReasoningDelta for e in events)
    rec = call.completion.record
    assert (rec.response, rec.reasoning, rec.reasoning_tokens, rec.ttfr_s) == (
        ANSWER, None, None, None)


def test_openrouter_reasoning_details_are_read_once(hosted, emu):
    """OpenRouter may send ``reasoning_details`` beside ``reasoning``: never doubled."""
    from gemma_magics.providers.openai import OpenAIStream, answer_events

    frame = {"choices": [{"index": 0, "delta": {
        "reasoning": "step", "reasoning_details": [{"type": "reasoning.text", "text": "step"}]}}]}
    only_details = {"choices": [{"index": 0, "delta": {
        "reasoning_details": [{"type": "reasoning.text", "text": "more"}]}}]}
    parser = OpenAIStream("openrouter")
    events = parser.feed(json.dumps(frame)) + parser.feed(json.dumps(only_details))
    assert [e.text for e in events] == ["step", "more"]
    whole = answer_events({"choices": [{"message": {"content": "ok", "reasoning": "why"}}]})
    assert [(type(e).__name__, e.text) for e in whole] == [("ReasoningDelta", "why"),
                                                           ("TextDelta", "ok")]


# -- records ----------------------------------------------------------------------------------


def test_reasoning_columns_in_the_log(hosted, thinking_emu, tmp_path):
    hosted.db_path = tmp_path / "log.sqlite"
    rec = gm.generate("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted,
                      think=True).record
    stored = hosted.log.records()[-1]
    assert (stored.reasoning, stored.reasoning_tokens, stored.think) == (
        THOUGHT, len(THOUGHT.split()), True)
    assert stored.ttfr_s == pytest.approx(rec.ttfr_s)
    frame = gm.history(hosted)
    assert frame["reasoning_tokens"].iloc[-1] == len(THOUGHT.split())
    assert bool(frame["think"].iloc[-1]) is True and frame["reasoning"].iloc[-1] == THOUGHT


def test_a_log_written_before_the_reasoning_columns_still_opens(tmp_path):
    path = tmp_path / "old.sqlite"
    old = [c for c in COLUMNS if c not in ("think", "reasoning", "reasoning_tokens", "ttfr_s")]
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE calls ({', '.join(old)}, PRIMARY KEY (run_id))")
    conn.execute("INSERT INTO calls (run_id, timestamp, provider, model, response, status, "
                 "retries, cached) VALUES ('r1', '2026-01-01T00:00:00+00:00', 'local', "
                 "'gemma-3-270m', 'old answer', 'ok', 0, 0)")
    conn.commit()
    conn.close()
    log = RecordLog(path)
    (record,) = log.records()
    assert (record.response, record.reasoning, record.reasoning_tokens, record.think) == (
        "old answer", None, None, None)
    log.append(Record(provider="openrouter", reasoning="why", reasoning_tokens=3, think=True))
    assert [r.reasoning_tokens for r in log.records()] == [None, 3]
    assert log.dataframe()["reasoning_tokens"].tolist()[-1] == 3
    log.close()


# -- display ----------------------------------------------------------------------------------


class Handle:
    def __init__(self, shown, index):
        self.shown, self.index = shown, index

    def update(self, data, raw=True):
        self.shown[self.index] = data


def cell_renderer(max_rate=1e9):
    """The notebook renderer with its outputs kept in a list (one slot per display)."""
    shown: list[dict] = []

    def show(data, raw=True, display_id=False):
        shown.append(data)
        return Handle(shown, len(shown) - 1)

    renderer = display.NotebookRenderer(max_rate=max_rate)
    renderer._display = show
    return renderer, shown


def test_thinking_streams_into_a_collapsed_escaped_section_above_the_answer(hosted,
                                                                           thinking_emu):
    thinking_emu.configure(reasoning_text=HOSTILE)
    renderer, shown = cell_renderer()
    completion = display.render_stream(
        gm.stream("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think=True),
        renderer)
    section, answer = shown[0], shown[1]
    html = section["text/html"]
    assert html.startswith("<details") and " open" not in html.split(">", 1)[0]
    assert "<img" not in html and "&lt;img src=x onerror=" in html and "&amp; &lt;b&gt;" in html
    assert "tex2jax_ignore" in html and "thinking" in html
    assert section["text/plain"] == f"[thinking]\n{HOSTILE}"
    assert answer["text/plain"] == ANSWER and HOSTILE not in answer["text/html"]
    assert "(" + str(len(HOSTILE.split())) + " thinking)" in shown[-1]["text/plain"]
    assert completion.reasoning == HOSTILE


def test_thinking_and_answer_share_the_update_budget(hosted, thinking_emu):
    renderer, shown = cell_renderer(max_rate=1e-9)  # nothing between the first and the end
    display.render_stream(gm.stream("Hi", "openrouter", "google/gemma-4-31b-it",
                                    session=hosted, think=True), renderer)
    # the first delta may draw (the budget starts full); then only the final render of each
    assert renderer.updates <= 3
    assert shown[0]["text/plain"] == f"[thinking]\n{THOUGHT}"
    assert ANSWER in [s.get("text/plain") for s in shown]


def test_thinking_that_used_every_token_says_so_with_the_fix(hosted, thinking_emu):
    renderer, shown = cell_renderer()
    call = gm.stream("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think=True,
                     max_tokens=4)
    completion = display.render_stream(call, renderer)
    rec = completion.record
    assert (rec.response, rec.finish_reason, rec.reasoning_tokens) == ("", "length", 4)
    line = empty_after_thinking(rec)
    assert line and "all 4 max_tokens" in line and "--max-tokens" in line
    assert "--think off" in line
    plain = [s["text/plain"] for s in shown]
    assert line in plain
    assert "" not in plain, "no empty answer shown as a success"
    assert empty_after_thinking(Record(finish_reason="length", response="", reasoning=None)) \
        is None, "a model that did not think: nothing to say"


def test_the_terminal_renderer_labels_thinking_and_answer(hosted, thinking_emu, capsys):
    display.render_stream(gm.stream("Hi", "openrouter", "google/gemma-4-31b-it",
                                    session=hosted, think=True),
                          display.PrintRenderer())
    out = capsys.readouterr().out
    assert out.index("[thinking] " + THOUGHT) < out.index("[answer] " + ANSWER)


# -- Gemma 4 conversation rules -----------------------------------------------------------------


def test_gemma4_takes_the_system_role_gemma3_folds_it(hosted, thinking_emu, tmp_path):
    # a Gemma 4 entry listed like Google's Gemma 3 ones (no "system" capability): Gemma 4
    # still gets its system turn, by its generation
    (tmp_path / "config.toml").write_text(
        '[[providers.google.models]]\nid = "gemma-4-31b-it"\ncapabilities = ["stream", "json"]\n'
        '[[providers.google.models]]\nid = "gemma-3-4b-it-tuned"\ncapabilities = ["stream", "json"]\n')
    hosted = Session(config=Config(), db_path=":memory:")
    assert not hosted.config.catalog.model("google", "gemma-4-31b-it").supports("system")
    gm.generate("Hi", "google", "gemma-4-31b-it", session=hosted, system="Be brief.")
    assert last_body(thinking_emu)["messages"] == [{"role": "system", "content": "Be brief."},
                                                   {"role": "user", "content": "Hi"}]
    gm.generate("Hi", "google", "gemma-3-4b-it-tuned", session=hosted, system="Be brief.")
    assert last_body(thinking_emu)["messages"] == [{"role": "user",
                                                    "content": "Be brief.\n\nHi"}]
    gm.generate("Hi", "aimlapi", "google/gemma-4-31b-it", session=hosted, system="Be brief.")
    assert last_body(thinking_emu)["messages"][0] == {"role": "system", "content": "Be brief."}


def test_gemma4_turn_format():
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
             {"role": "user", "content": "Capital of France?"}]
    assert chat_template(turns, "Be brief.", gemma4=True, think=True) == (
        "<bos><|turn>system\n<|think|>Be brief.<turn|>\n<|turn>user\nHi<turn|>\n"
        "<|turn>model\nHello.<turn|>\n<|turn>user\nCapital of France?<turn|>\n<|turn>model\n")
    assert chat_template(turns[:1], None, gemma4=True) == "<bos><|turn>user\nHi<turn|>\n<|turn>model\n"
    assert chat_template(turns[:1], "S", gemma4=False) == (
        "<bos><start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n")
    assert [model_rules.is_gemma4(m) for m in ("gemma-4-31b-it", "gemma4:e4b", CF_GEMMA4,
                                               "gemma-3-4b-it", "gemma3:4b")] == [
        True, True, True, False, False]


# -- the magics and the compare grid ------------------------------------------------------------


def test_think_flag_on_the_cell_and_a_grid_axis_on_compare(ip, hosted, thinking_emu, capsys):
    set_session(hosted)
    ip.run_cell("%%gemma -p openrouter -m google/gemma-4-31b-it --think on -o c\nHi")
    assert sent(thinking_emu) == {"reasoning": {"enabled": True}}
    assert ip.user_ns["c"].reasoning == THOUGHT and ip.user_ns["c"].text == ANSWER
    ip.run_cell("%%gemma -p openrouter -m google/gemma-4-31b-it --template --think on\nHi")
    assert "<|turn>system\n<|think|><turn|>" in capsys.readouterr().out
    ip.run_cell("%%gemma_compare -p openrouter -m google/gemma-4-31b-it --think on,off --quiet "
                "-o frame\nHi")
    frame = ip.user_ns["frame"]
    assert sorted(frame["variant"]) == ["openrouter · think=off", "openrouter · think=on"]
    bodies = [r.body["reasoning"] for r in thinking_emu.requests[-2:]]
    assert sorted(b["enabled"] for b in bodies) == [False, True]
    by_variant = dict(zip(frame["variant"], frame["reasoning_tokens"], strict=True))
    assert by_variant["openrouter · think=on"] == len(THOUGHT.split())
    frame = gm.compare("Hi", providers="openrouter", models="google/gemma-4-31b-it",
                       grid={"think": [True, False]}, session=hosted, display=False)
    assert len(frame) == 2


def test_config_sets_the_default_switch(ip, hosted, thinking_emu):
    set_session(hosted)
    ip.run_line_magic("config", "GemmaMagics.think = 'on'")
    gm.generate("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted)
    assert sent(thinking_emu) == {"reasoning": {"enabled": True}}
    gm.generate("Hi", "aimlapi", "google/gemma-3-27b-it", session=hosted)
    assert sent(thinking_emu) == {}, "a session default is not forced on a model without one"
    ip.run_line_magic("config", "GemmaMagics.think = None")
    gm.generate("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted)
    assert sent(thinking_emu) == {"reasoning": {"enabled": False}}


def test_the_panel_toggle_sets_the_switch_for_thinking_models_only(session):
    from gemma_magics.notebook.panel import Panel

    session.set_defaults(provider="openrouter", model="google/gemma-4-31b-it")
    p = Panel(session)
    assert p.think.disabled is False and p.think.value == "default"
    p.think.value = "on"
    assert session.params.think is True
    p.think.value = "off"
    assert session.params.think is False
    p.model.value = "google/gemma-3-27b-it"  # does not think: the toggle goes off with it
    assert p.think.disabled is True and p.think.value == "default"
    assert session.params.think is None


def test_request_keys_of_models_without_a_switch_are_unchanged(hosted):
    """Records logged before the think setting existed are still found by resume/cache."""
    from gemma_magics.api import prepare
    from gemma_magics.records.log import request_key

    call = prepare("Hi", "aimlapi", "google/gemma-3-27b-it", session=hosted, seed=1)
    settings = {k: getattr(call.request.params, k) for k in (
        "max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty",
        "frequency_penalty", "presence_penalty", "stop", "system")}
    assert call.record.request_key == request_key(
        provider="aimlapi", model="google/gemma-3-27b-it", prompt="Hi", params=settings,
        backend=call.provider.endpoint.base_url, raw=None, lora=None, response_format=None,
        tools=None, images=None, messages=None, chat=None)
    on = prepare("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think=True)
    off = prepare("Hi", "openrouter", "google/gemma-4-31b-it", session=hosted, think=False)
    assert on.record.request_key != off.record.request_key
