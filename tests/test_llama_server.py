"""The OpenAI-compatible provider against a server nobody here wrote: ``llama_cpp.server``
serving the bundled Gemma 3 270M GGUF on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip(
    "llama_cpp.server", reason='llama_cpp.server is not installed (pip install '
    '"llama-cpp-python[server]"); the hosted-provider tests against the emulator still run')

import gemma_magics as gm  # noqa: E402
from gemma_magics import errors  # noqa: E402
from gemma_magics.config import Config  # noqa: E402
from gemma_magics.events import TextDelta  # noqa: E402
from gemma_magics.providers.local_model import model_path  # noqa: E402
from gemma_magics.session import Session  # noqa: E402

PROMPT = "The capital of France is"
N_CTX = 512
STARTUP_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free loopback port; its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
           "--model_alias", "gemma-3-270m", "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(N_CTX), "--verbose", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n"
                            f"{log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start within {STARTUP_S} s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def session(llama_server, monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("GEMMA_MAGICS_") and name != "GEMMA_MAGICS_LOCAL_MODEL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("LLAMACPP_API_KEY", raising=False)
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GEMMA_MAGICS_LLAMACPP_BASE_URL", llama_server)
    monkeypatch.chdir(tmp_path)
    return Session(config=Config(), db_path=":memory:")


SETTINGS = {"max_tokens": 12, "temperature": 0.0, "seed": 1}


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_raw_prompt_on_the_completions_route(session, stream):
    call = gm.stream(PROMPT, "llamacpp", session=session, raw=True, stream=stream, **SETTINGS)
    deltas = [e.text for e in call if isinstance(e, TextDelta)]
    completion = call.completion
    assert completion.error is None, completion.error
    assert completion.text.strip() and "".join(deltas) == completion.text
    assert len(deltas) > 1 if stream else len(deltas) == 1
    rec = completion.record
    assert rec.status == "ok" and rec.finish_reason in ("stop", "length")
    assert 0 < rec.completion_tokens <= SETTINGS["max_tokens"] and rec.prompt_tokens > 0
    # llama_cpp.server reports usage on whole answers only; streamed ones are counted with
    # the Gemma tokenizer from the same GGUF
    assert rec.usage_source in (("provider", "counted") if stream else ("provider",))
    assert rec.ttft_s is not None and rec.latency_s >= rec.ttft_s


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_chat_route(session, stream):
    # The bundled 270M checkpoint is pretrained, so through the chat template it often
    # answers with nothing at all; what is checked is the exchange, not the prose.
    completion = gm.generate("Tell me about Paris.", "llamacpp", session=session,
                             stream=stream, system="Be brief.", **SETTINGS)
    rec = completion.record
    assert rec.status == "ok" and rec.finish_reason in ("stop", "length")
    assert rec.prompt_tokens > 0 and rec.completion_tokens is not None
    if not stream:
        assert rec.prompt_tokens > 10  # the provider's count of the templated prompt


def test_extra_sampling_fields_are_accepted(session):
    completion = gm.generate(PROMPT, "llamacpp", session=session, raw=True, top_k=20,
                             repetition_penalty=1.1, stop=["."], **SETTINGS)
    assert completion.record.status == "ok" and "." not in completion.text


def test_the_servers_own_error_body(session):
    with pytest.raises(errors.BadRequestError) as info:
        gm.generate("word " * (N_CTX * 2), "llamacpp", session=session, max_tokens=8,
                    stream=False)
    text = str(info.value)
    assert text.startswith("llamacpp HTTP 400 code context_length_exceeded: This model's "
                           "maximum context length is 512 tokens")
    assert "\n" not in text


def test_stream_closed_before_any_answer_is_a_connection_error(session, monkeypatch):
    # llama_cpp.server answers 200 and closes the stream empty when the prompt is too long
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    with pytest.raises(errors.APIConnectionError, match="before any answer"):
        gm.generate("word " * (N_CTX * 2), "llamacpp", session=session, max_tokens=8)
