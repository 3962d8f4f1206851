"""OpenAI-compatible providers (AIML API, OpenRouter, Google, Ollama, llama-server, any base
URL, Cloudflare's /ai/v1 route) over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import json

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.config import Config
from gemma_magics.emulator import Fault
from gemma_magics.events import Notice, TextDelta, ToolCall, Usage
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

from emulated import ACCOUNT, last_body  # noqa: E402

ANSWER = "Two particles can share a single quantum state across any distance."
WORDS = len(ANSWER.split())


def test_streamed_answer_with_usage(hosted, emu):
    emu.set_text(ANSWER)
    call = gm.stream("Explain entanglement.", "aimlapi", session=hosted, top_p=0.9)
    deltas = [e.text for e in call if isinstance(e, TextDelta)]
    assert "".join(deltas) == ANSWER and len(deltas) == WORDS
    rec = call.completion.record
    assert rec.status == "ok" and rec.finish_reason == "stop"
    assert (rec.completion_tokens, rec.usage_source) == (WORDS, "provider")
    request = emu.requests[-1]
    assert request.path == "/aimlapi/v1/chat/completions"
    assert request.body == {
        "model": "google/gemma-4-31b-it",
        "messages": [{"role": "user", "content": "Explain entanglement."}],
        "max_tokens": 256, "temperature": 0.6, "top_p": 0.9,
        "stream": True, "stream_options": {"include_usage": True},
    }


def test_non_streamed_answer(hosted, emu):
    emu.set_text(ANSWER)
    completion = gm.generate("Explain.", "aimlapi", session=hosted, stream=False)
    assert completion.text == ANSWER
    assert completion.record.usage_source == "provider"
    assert completion.record.completion_tokens == WORDS
    assert last_body(emu)["stream"] is False and "stream_options" not in last_body(emu)


def test_system_prompt_folded_where_the_model_has_no_system_role(hosted, emu):
    call = gm.stream("Hi", "aimlapi", "google/gemma-3-12b-it", session=hosted,
                     system="Be brief.")  # AIML documents a system role for 3-27b only
    events = list(call)
    assert last_body(emu)["messages"] == [{"role": "user", "content": "Be brief.\n\nHi"}]
    assert any(isinstance(e, Notice) and "folded" in e.message for e in events)


def test_system_role_kept_where_the_model_has_one(hosted, emu):
    gm.generate("Hi", "aimlapi", "google/gemma-3-27b-it", session=hosted, system="Be brief.")
    assert last_body(emu)["messages"] == [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "Hi"}]


def test_google_folds_the_system_prompt(hosted, emu):
    gm.generate("Hi", "google", session=hosted, system="Be brief.")
    assert emu.requests[-1].path == "/google/v1beta/openai/chat/completions"
    assert last_body(emu)["messages"] == [{"role": "user", "content": "Be brief.\n\nHi"}]


def test_comment_lines_are_skipped(hosted, emu):
    emu.configure(sse_comment="OPENROUTER PROCESSING")
    emu.set_text(ANSWER)
    assert gm.generate("Hi", "openrouter", session=hosted).text == ANSWER


def test_zero_completion_usage_is_not_believed(hosted, emu):
    long = "word " * 300
    body = {"id": "x", "object": "chat.completion", "model": "google/gemma-3-12b-it",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": long},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}
    emu.inject(Fault(body=body))
    call = gm.stream("Write a lot", "aimlapi", session=hosted, stream=False)
    usage = [e for e in call if isinstance(e, Usage)]
    assert usage == [Usage(12, None, None, "provider")]  # the zero is dropped, not passed on
    rec = call.completion.record
    assert rec.usage_source in ("counted", "estimated")
    assert rec.completion_tokens >= 60  # counted from the text, not the provider's 0
    assert rec.prompt_tokens == 12  # the provider's prompt count is still used


def test_repetition_penalty_renamed_for_llama_server(hosted, emu):
    emu.configure(require_auth=False)
    gm.generate("Hi", "llamacpp", session=hosted, repetition_penalty=1.1, top_k=20)
    body = last_body(emu)
    assert body["repeat_penalty"] == 1.1 and body["top_k"] == 20
    assert "repetition_penalty" not in body
    assert "Authorization" not in emu.requests[-1].headers  # llama-server needs no key


def test_settings_the_backend_ignores_are_not_sent_and_warned(hosted, emu):
    events = list(gm.stream("Hi", "ollama", session=hosted, top_k=20))
    assert "top_k" not in last_body(emu)
    assert any(isinstance(e, Notice) and "top_k" in e.message for e in events)


def test_stop_sequences_are_sent(hosted, emu):
    gm.generate("Hi", "openai", session=hosted, stop=["\n\n", "END"])
    assert last_body(emu)["stop"] == ["\n\n", "END"]


def test_images_as_data_url_parts(hosted, emu):
    image = "data:image/jpeg;base64,/9j/4AAQ"
    gm.generate("Describe", "aimlapi", session=hosted, images=[image])
    assert last_body(emu)["messages"][-1]["content"] == [
        {"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": image}}]


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls(hosted, emu, stream):
    emu.set_text(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 2}}])
    tool = {"name": "add", "description": "Add two numbers",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"},
                                                            "b": {"type": "number"}}}}
    call = gm.stream("1+2?", "openai", session=hosted, tools=[tool], stream=stream)
    calls = [e for e in call if isinstance(e, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [("add", {"a": 1, "b": 2})]
    assert calls[0].id
    assert call.completion.record.finish_reason == "tool_calls"
    assert last_body(emu)["tools"] == [{"type": "function", "function": tool}]


def test_json_schema_request(hosted, emu):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    emu.set_text(json_response={"city": "Paris"})
    completion = gm.generate("Capital of France?", "openai", session=hosted,
                             response_format={"type": "json_schema", "schema": schema,
                                              "name": "place"})
    assert json.loads(completion.text) == {"city": "Paris"}
    assert last_body(emu)["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "place", "schema": schema}}


def test_cloudflare_openai_route(hosted, emu):
    emu.set_text(ANSWER)
    completion = gm.generate("Hi", "cloudflare-openai", session=hosted)
    assert completion.text == ANSWER
    assert completion.record.usage_source == "provider"
    assert completion.record.completion_tokens == WORDS  # usage on every chunk: last wins
    assert emu.requests[-1].path == f"/client/v4/accounts/{ACCOUNT}/ai/v1/chat/completions"
    assert last_body(emu)["model"] == "@cf/google/gemma-4-26b-a4b-it"


# provider, status, injected code, expected class, start of the one-line message
ERRORS = [
    ("openai", 400, None, errors.BadRequestError, "openai HTTP 400: Nope"),
    ("openai", 401, "invalid_api_key", errors.AuthenticationError,
     "openai HTTP 401 code invalid_api_key: Nope"),
    ("openai", 403, None, errors.PermissionDeniedError, "openai HTTP 403: Nope"),
    ("openai", 404, "model_not_found", errors.NotFoundError, "openai HTTP 404 code model_not_f"),
    ("openai", 409, None, errors.ConflictError, "openai HTTP 409: Nope"),
    ("openai", 413, None, errors.PayloadTooLargeError, "openai HTTP 413"),
    ("openai", 422, None, errors.BadRequestError, "openai HTTP 422: Nope"),
    ("openai", 429, "rate_limit_exceeded", errors.RateLimitError, "openai HTTP 429 code rate_"),
    ("openai", 429, "insufficient_quota", errors.QuotaExceededError, "openai HTTP 429 code insu"),
    ("openai", 500, None, errors.InternalServerError, "openai HTTP 500: Nope"),
    ("openai", 503, None, errors.InternalServerError, "openai HTTP 503: Nope"),
    ("openrouter", 402, None, errors.QuotaExceededError, "openrouter HTTP 402: Nope"),
    ("openrouter", 429, None, errors.RateLimitError, "openrouter HTTP 429: Nope"),
    ("aimlapi", 400, None, errors.BadRequestError, "aimlapi HTTP 400: Nope"),
    ("aimlapi", 401, None, errors.AuthenticationError, "aimlapi HTTP 401: Nope"),
    ("aimlapi", 429, None, errors.RateLimitError, "aimlapi HTTP 429: Nope"),
    ("google", 400, None, errors.BadRequestError, "google HTTP 400 code INVALID_ARGUMENT: Nope"),
    ("google", 429, None, errors.RateLimitError, "google HTTP 429 code RESOURCE_EXHAUSTED: Nope"),
    ("cloudflare-openai", 429, 3036, errors.QuotaExceededError,
     "cloudflare-openai HTTP 429 code 3036: Nope"),
    ("cloudflare-openai", 429, 3040, errors.RateLimitError,
     "cloudflare-openai HTTP 429 code 3040: Nope"),
    ("cloudflare-openai", 401, 10000, errors.AuthenticationError,
     "cloudflare-openai HTTP 401 code 10000: Nope"),
]


@pytest.mark.parametrize(("provider", "status", "code", "cls", "start"), ERRORS,
                         ids=[f"{p}-{s}-{c}" for p, s, c, _, _ in ERRORS])
def test_error_bodies(hosted, emu, monkeypatch, provider, status, code, cls, start):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    emu.inject(Fault(status=status, code=code, message="Nope"))
    with pytest.raises(errors.APIError) as info:
        gm.generate("Hi", provider, session=hosted)
    err = info.value
    assert type(err) is cls
    text = str(err)
    assert text.startswith(start) and "\n" not in text
    assert err.completion.record.error == text
    assert err.completion.record.error_type == cls.__name__


def test_openrouter_credits_fix(hosted, emu):
    emu.inject(Fault.preset("openrouter_credits"))
    with pytest.raises(errors.QuotaExceededError, match="Insufficient credits") as info:
        gm.generate("Hi", "openrouter", session=hosted)
    assert "add credits" in info.value.fix
    assert len(emu.requests) == 1  # out of credits: not retried


@pytest.mark.parametrize("provider", ["openai", "openrouter"])
def test_error_frame_mid_stream_keeps_partial_text(hosted, emu, provider):
    emu.set_text(ANSWER)
    emu.inject(Fault(error_frame_after=3, message="Upstream died"))
    with pytest.raises(errors.StreamError, match="Upstream died") as info:
        gm.generate("Hi", provider, session=hosted)
    completion = info.value.completion
    assert completion.text == "Two particles can "
    assert completion.record.status == "error" and completion.record.response == completion.text
    assert len(emu.requests) == 1


def test_cut_stream_is_an_error_not_a_short_answer(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(cut_after=2))
    with pytest.raises(errors.StreamError, match="connection broke|ended before") as info:
        gm.generate("Hi", "aimlapi", session=hosted)
    assert info.value.completion.text == "Two particles "


def test_empty_and_non_json_answers(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    emu.inject(Fault(empty_body=True))  # no answer at all: retryable, like a dropped one
    with pytest.raises(errors.APIConnectionError, match="empty answer"):
        gm.generate("Hi", "openai", session=hosted, stream=False)
    emu.inject(Fault(body="<html><title>Oops</title></html>", content_type="text/html"))
    with pytest.raises(errors.StreamError, match="unreadable answer: Oops"):
        gm.generate("Hi", "openai", session=hosted, stream=False)


def test_async_path(hosted, emu):
    emu.set_text(ANSWER)

    async def run():
        texts = []
        async for event in gm.stream("Hi", "aimlapi", session=hosted):
            if isinstance(event, TextDelta):
                texts.append(event.text)
        return texts

    assert "".join(asyncio.run(run())) == ANSWER
    assert last_body(emu)["stream"] is True


def test_async_error_keeps_partial_text(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(error_frame_after=2, message="Upstream died"))

    async def run():
        return [e async for e in gm.stream("Hi", "openai", session=hosted)]

    completion = asyncio.run(run())[-1].completion
    assert isinstance(completion.error, errors.StreamError)
    assert completion.text == "Two particles "


def test_user_registered_endpoint(emu, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'''
[providers.myvllm]
kind = "openai"
base_url = "{emu.base_url}/mine/v1"
api_key_env = "MYVLLM_KEY"
default_model = "google/gemma-3-4b-it"
''')
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(config))
    monkeypatch.setenv("MYVLLM_KEY", "canary-myvllm")
    session = Session(config=Config(), db_path=":memory:")
    emu.set_text(ANSWER)
    assert gm.generate("Hi", "myvllm", session=session).text == ANSWER
    assert emu.requests[-1].path == "/mine/v1/chat/completions"
    monkeypatch.delenv("MYVLLM_KEY")
    with pytest.raises(errors.MissingCredentialsError, match="set MYVLLM_KEY"):
        gm.generate("Hi", "myvllm", session=Session(config=Config(), db_path=":memory:"))


def test_async_client_is_closed_with_its_loop(hosted, emu):
    from gemma_magics.providers import http_clients as transport

    async def run():
        async for _ in gm.stream("Hi", "aimlapi", session=hosted):
            pass
        return await transport.async_client()

    client = asyncio.run(run())
    assert client.is_closed and client not in [c for c, _ in transport._async.values()]


def test_features_the_catalog_says_a_model_lacks_are_refused(hosted, emu):
    with pytest.raises(errors.CapabilityError, match="aimlapi google/gemma-4-31b-it has no tool"):
        gm.generate("Hi", "aimlapi", session=hosted, tools=[{"name": "f", "parameters": {}}])
    with pytest.raises(errors.CapabilityError, match="does not accept images"):
        gm.generate("Hi", "ollama", "gemma3:270m", session=hosted,
                    images=["data:image/png;base64,AA=="])
    assert emu.requests == []


def test_cloudflare_openai_sends_at_most_4_stops_and_cuts_the_rest_itself(hosted, emu):
    emu.set_text("alpha beta gamma delta epsilon")
    completion = gm.generate("Hi", "cloudflare-openai", session=hosted,
                             stop=["w", "x", "y", "z", "gamma"])
    assert last_body(emu)["stop"] == ["w", "x", "y", "z"]  # Gemma 4's schema: up to 4
    assert completion.text.strip() == "alpha beta"
