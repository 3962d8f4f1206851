"""Workers AI native route (``ai/run``) over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import json

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.emulator import Fault
from gemma_magics.events import ErrorEvent, Retrying, StructuredOutput, TextDelta, ToolCall

pytest_plugins = ["conftest_providers"]

from emulated import ACCOUNT, last_body  # noqa: E402

ANSWER = "Entangled particles share one quantum state, however far apart they are."
MODEL = "@cf/google/gemma-4-26b-a4b-it"
LORA_BASE = "@cf/google/gemma-2b-it-lora"  # still served, native frames and raw


def test_streamed_answer_text_usage_and_request(hosted, emu):
    emu.set_text(ANSWER)
    deltas = []
    call = gm.stream("Explain entanglement.", "cloudflare", session=hosted, temperature=0.2)
    for event in call:
        if isinstance(event, TextDelta):
            deltas.append(event.text)
    completion = call.completion
    assert completion.text == ANSWER == "".join(deltas)
    assert len(deltas) > 5  # really streamed, one frame per word
    rec = completion.record
    assert rec.status == "ok" and rec.usage_source == "provider"
    assert (rec.prompt_tokens, rec.completion_tokens) == (2, len(ANSWER.split()))
    assert rec.total_tokens == rec.prompt_tokens + rec.completion_tokens
    assert rec.cost_usd == pytest.approx((2 * 0.10 + rec.completion_tokens * 0.30) / 1e6)
    assert rec.ttft_s is not None and rec.latency_s >= rec.ttft_s
    request = emu.requests[-1]
    assert request.path == f"/client/v4/accounts/{ACCOUNT}/ai/run/{MODEL}"
    assert request.body == {"prompt": "Explain entanglement.", "max_completion_tokens": 256,
                            "temperature": 0.2, "stream": True,
                            "stream_options": {"include_usage": True}}


def test_non_streamed_answer(hosted, emu):
    emu.set_text(ANSWER)
    completion = gm.generate("Explain.", "cloudflare", session=hosted, stream=False, seed=7)
    assert completion.text == ANSWER
    assert completion.record.usage_source == "provider"
    body = last_body(emu)
    assert "stream" not in body and body["seed"] == 7


def test_system_prompt_goes_as_messages(hosted, emu):
    gm.generate("Hi", "cloudflare", session=hosted, system="Answer in French.")
    assert last_body(emu)["messages"] == [
        {"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"}]


def test_chat_messages_are_sent(hosted, emu):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Again"}]
    gm.generate("Again", "cloudflare", session=hosted, messages=chat)
    assert last_body(emu)["messages"] == chat


@pytest.mark.parametrize("mode", ["every", "none"])
def test_usage_on_every_frame_or_none(hosted, emu, mode):
    emu.configure(cf_usage=mode)
    emu.set_text(ANSWER)
    rec = gm.generate("Explain.", "cloudflare", LORA_BASE, session=hosted).record
    if mode == "every":  # the last frame's numbers win, not the first
        assert rec.usage_source == "provider"
        assert rec.completion_tokens == len(ANSWER.split())
    else:
        assert rec.usage_source in ("counted", "estimated")
        assert rec.completion_tokens > 0


def test_openai_shaped_chunks_on_the_native_url(hosted, emu):
    emu.configure(cf_openai_chunks=True)
    emu.set_text(ANSWER)
    completion = gm.generate("Explain.", "cloudflare", session=hosted)
    assert completion.text == ANSWER
    assert completion.record.finish_reason == "stop"
    assert completion.record.usage_source == "provider"


def test_raw_prompt_is_sent_exactly(hosted, emu):
    text = "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    gm.generate(text, "cloudflare", LORA_BASE, session=hosted, raw=True)
    assert last_body(emu)["prompt"] == text and last_body(emu)["raw"] is True


def test_raw_refused_on_gemma_4_before_sending(hosted, emu):
    with pytest.raises(errors.CapabilityError, match="takes no raw prompt"):
        gm.generate("Hi", "cloudflare", session=hosted, raw=True)
    assert emu.requests == []


def test_retired_model_fails_before_sending_naming_date_and_replacement(hosted, emu):
    with pytest.raises(errors.CapabilityError) as err:
        gm.generate("Hi", "cloudflare", "@cf/google/gemma-3-12b-it", session=hosted)
    assert str(err.value) == ("@cf/google/gemma-3-12b-it was retired by Cloudflare on "
                              "2026-05-30; use @cf/google/gemma-4-26b-a4b-it")
    assert emu.requests == []


def test_raw_with_system_builds_the_gemma_template(hosted, emu):
    gm.generate("Hi", "cloudflare", LORA_BASE, session=hosted, raw=True, system="Be brief.")
    body = last_body(emu)
    assert body["raw"] is True and "messages" not in body
    assert body["prompt"] == ("<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                              "<start_of_turn>model\n")


def test_lora_on_a_lora_base(hosted, emu):
    gm.generate("Hi", "cloudflare", "@cf/google/gemma-2b-it-lora", session=hosted, lora="my-ad")
    assert last_body(emu)["lora"] == "my-ad"
    assert emu.requests[-1].path.endswith("/ai/run/@cf/google/gemma-2b-it-lora")


def test_lora_refused_on_other_models_before_sending(hosted, emu):
    with pytest.raises(errors.CapabilityError, match="LoRA"):
        gm.generate("Hi", "cloudflare", session=hosted, lora="my-ad")
    assert emu.requests == []


def test_json_mode_on_gemma_4_is_a_json_schema_response_format_answered_whole(hosted, emu):
    emu.set_text(json_response={"answer": 42})
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    call = gm.stream("Answer?", "cloudflare", session=hosted,
                     response_format={"type": "json_schema", "schema": schema})
    list(call)
    assert json.loads(call.completion.text) == {"answer": 42}
    body = last_body(emu)
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "output", "schema": schema, "strict": True}}  # Gemma 4's published shape
    assert "stream" not in body  # Workers AI does not stream JSON mode


def test_json_mode_on_a_lora_base_answers_the_object_itself(hosted, emu):
    emu.set_text(json_response={"answer": 42})
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    call = gm.stream("Answer?", "cloudflare", LORA_BASE, session=hosted,
                     response_format={"type": "json_schema", "schema": schema})
    events = list(call)
    assert [e.value for e in events if isinstance(e, StructuredOutput)] == [{"answer": 42}]
    assert call.completion.text == '{"answer": 42}'
    assert last_body(emu)["response_format"] == {"type": "json_schema", "json_schema": schema}


def test_tool_calls(hosted, emu):
    emu.set_text(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    tool = {"name": "get_weather", "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    call = gm.stream("Weather in Paris?", "cloudflare", session=hosted, tools=[tool])
    calls = [e for e in call if isinstance(e, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert call.completion.record.tool_calls == '[{"name": "get_weather", "arguments": ' \
                                                '{"city": "Paris"}}]'
    assert last_body(emu)["tools"] == [{"type": "function", "function": tool}]
    assert "messages" in last_body(emu)  # tools exist only beside messages


def test_images_go_as_data_url_parts(hosted, emu):
    image = "data:image/png;base64,iVBORw0KGgo="
    gm.generate("What is this?", "cloudflare", session=hosted, images=[image])
    assert last_body(emu)["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": image}}]}]


def test_images_refused_on_a_text_only_model(hosted, emu):
    with pytest.raises(errors.CapabilityError, match="images"):
        gm.generate("?", "cloudflare", "@cf/google/gemma-7b-it-lora", session=hosted,
                    images=["data:image/png;base64,AA=="])
    assert emu.requests == []


def test_stop_sequences_are_applied_by_the_client(hosted, emu):
    emu.set_text("one two three STOP four five")
    completion = gm.generate("Count", "cloudflare", session=hosted, stop=["STOP"])
    assert completion.text == "one two three "
    assert completion.record.finish_reason == "stop"


def test_out_of_range_setting_is_refused_before_any_request(hosted, emu):
    with pytest.raises(errors.ValidationError, match="top_k=80.*allowed 1–50"):
        gm.generate("Hi", "cloudflare", session=hosted, top_k=80)
    assert emu.requests == []


# providers.md's error table: HTTP status, Workers AI code, the class the user gets
ERROR_TABLE = [
    (400, 5006, errors.BadRequestError),
    (400, 5007, errors.BadRequestError),
    (400, 5004, errors.BadRequestError),
    (400, 3003, errors.BadRequestError),
    (401, 10000, errors.AuthenticationError),
    (403, 10000, errors.AuthenticationError),
    (403, 5018, errors.PermissionDeniedError),
    (403, 3041, errors.PermissionDeniedError),
    (403, 5016, errors.PermissionDeniedError),
    (403, 3023, errors.PermissionDeniedError),
    (404, 3042, errors.NotFoundError),
    (404, 7003, errors.NotFoundError),
    (408, 3007, errors.RequestTimeoutError),
    (408, 3008, errors.RequestTimeoutError),
    (413, 3006, errors.PayloadTooLargeError),
    (429, 3040, errors.RateLimitError),
    (429, 3036, errors.QuotaExceededError),
    (429, 4006, errors.QuotaExceededError),
    (500, 3043, errors.InternalServerError),
    (503, 3040, errors.RateLimitError),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERROR_TABLE,
                         ids=[f"{s}-{c}" for s, c, _ in ERROR_TABLE])
def test_error_table(hosted, emu, monkeypatch, status, code, cls):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")  # retries have their own tests
    message = f"Provider says no ({code})"
    emu.inject(Fault(status=status, code=code, message=message))
    with pytest.raises(errors.APIError) as info:
        gm.generate("Hi", "cloudflare", session=hosted)
    err = info.value
    assert type(err) is cls
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"cloudflare HTTP {status} code {code}: {message}")
    assert err.fix and text.endswith(f"({err.fix})")
    assert (err.status, err.code) == (status, code)
    rec = err.completion.record
    assert rec.status == "error" and rec.error == text and rec.error_type == cls.__name__
    assert len(emu.requests) == 1


def test_auth_error_names_where_the_key_came_from(hosted, emu):
    emu.inject(Fault.preset("cf_auth"))
    with pytest.raises(errors.AuthenticationError) as info:
        gm.generate("Hi", "cloudflare", session=hosted)
    assert str(info.value).endswith("(check the API key from env CLOUDFLARE_API_TOKEN)")


def test_http_200_with_success_false_is_an_error(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    emu.inject(Fault(success_false=True, code=5006, message="AiError: Bad input: nope"))
    with pytest.raises(errors.BadRequestError, match=r"HTTP 200 code 5006: AiError: Bad input"):
        gm.generate("Hi", "cloudflare", session=hosted, stream=False)


def test_html_error_page_becomes_one_line(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    emu.inject(Fault.preset("html_502"))
    with pytest.raises(errors.InternalServerError) as info:
        gm.generate("Hi", "cloudflare", session=hosted)
    assert str(info.value).startswith("cloudflare HTTP 502: api.cloudflare.com | 502: Bad gateway")


def test_cut_stream_keeps_partial_text_and_an_error_record(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(cut_after=3))
    with pytest.raises(errors.StreamError) as info:
        gm.generate("Explain.", "cloudflare", session=hosted)
    completion = info.value.completion
    assert completion.text == "Entangled particles share "
    assert completion.record.status == "error"
    assert completion.record.response == completion.text
    assert len(emu.requests) == 1  # text was shown: never retried
    assert [r.status for r in hosted.log.records()] == ["error"]


def test_error_frame_mid_stream(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(error_frame_after=2, code=3043, message="Internal server error"))
    with pytest.raises(errors.StreamError, match="code 3043: Internal server error") as info:
        gm.generate("Explain.", "cloudflare", session=hosted)
    assert info.value.completion.text == "Entangled particles "


def test_malformed_frame_is_an_error_keeping_the_text(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault(malformed_after=2))
    with pytest.raises(errors.StreamError, match="unreadable stream frame") as info:
        gm.generate("Explain.", "cloudflare", session=hosted)
    assert info.value.completion.text == "Entangled particles "


def test_async_stream_with_a_retry(hosted, emu):
    emu.set_text(ANSWER)
    emu.inject(Fault.preset("cf_capacity", headers={"Retry-After": "0"}))

    async def run():
        events = [e async for e in gm.stream("Explain.", "cloudflare", session=hosted)]
        return events

    events = asyncio.run(run())
    assert sum(isinstance(e, Retrying) for e in events) == 1
    assert not any(isinstance(e, ErrorEvent) for e in events)
    completion = events[-1].completion
    assert completion.text == ANSWER and completion.record.retries == 1
    assert len(emu.requests) == 2
