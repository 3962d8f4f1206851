"""--raw (the cell is the model's exact input), --template, and --lora: request shapes over
real HTTP, the local model's exact prompt, refusals before sending."""

from __future__ import annotations

import pytest

import gemma_magics as gm
from gemma_magics import errors

pytest_plugins = ["conftest_providers"]

from emulated import ACCOUNT, last_body, point_at  # noqa: E402

TEMPLATED = ("<start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\n")


def test_raw_on_workers_ai_from_the_magic(ip, emu, monkeypatch, tmp_path):
    point_at(emu, monkeypatch, tmp_path)
    ip.run_cell("%%gemma -p cloudflare -m @cf/google/gemma-2b-it-lora --raw --max-tokens 8\n"
                + TEMPLATED)
    body = last_body(emu)
    assert body["prompt"] == TEMPLATED.strip("\n") and body["raw"] is True
    assert "messages" not in body
    record = gm.get_session().log.records()[-1]
    assert record.status == "ok" and '"raw": true' in record.extra


@pytest.mark.parametrize("stream", [True, False])
def test_raw_on_openai_compatible_uses_the_completions_route(hosted, emu, stream):
    emu.set_text("Blue.")
    completion = gm.generate(TEMPLATED, "openai", session=hosted, raw=True, stream=stream,
                             max_tokens=8)
    request = emu.requests[-1]
    assert request.path == "/v1/completions"
    assert request.body["prompt"] == TEMPLATED and "messages" not in request.body
    assert completion.text == "Blue." and completion.record.usage_source == "provider"
    assert completion.record.finish_reason == "stop"


def test_raw_on_dataoorts(hosted, emu):
    gm.generate(TEMPLATED, "dataoorts", session=hosted, raw=True)
    assert last_body(emu)["data"]["prompt"] == TEMPLATED and last_body(emu)["data"]["raw"]


def test_raw_with_images_is_refused(hosted, emu):
    png = "data:image/png;base64,iVBORw0KGgo="
    with pytest.raises(errors.CapabilityError, match="images cannot go with a raw prompt"):
        gm.generate("x", "cloudflare", session=hosted, raw=True, images=[png])
    assert emu.requests == []


@pytest.mark.parametrize(("provider", "fix"), [
    ("cloudflare-openai", "use -p cloudflare --raw"), ("google", "only chat completions")])
def test_raw_refused_where_there_is_no_completions_route(hosted, emu, provider, fix):
    with pytest.raises(errors.CapabilityError, match=f"{provider} takes no raw prompt.*{fix}"):
        gm.generate("x", provider, session=hosted, raw=True)
    assert emu.requests == []


def test_the_emulator_completions_route_needs_a_prompt(emu):
    import httpx

    r = httpx.post(emu.openai_base_url + "/completions", headers={"Authorization": "Bearer k"},
                   json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "'prompt' is a required property" in r.text


@pytest.mark.slow
def test_raw_local_prompt_is_exactly_the_models_input(session):
    pytest.importorskip("llama_cpp")
    from gemma_magics.providers import local_model
    from gemma_magics.providers.local import load_model

    call = gm.stream(TEMPLATED, "local", raw=True, max_tokens=6, seed=2)
    events = list(call)
    assert not any(type(e).__name__ == "Notice" and "pretrained" in e.message for e in events)
    llm = load_model(str(local_model.model_path()))
    tokens = llm.tokenize(TEMPLATED.encode(), add_bos=True, special=True)
    assert call.completion.record.prompt_tokens == len(tokens)
    assert llm.token_bos() == tokens[0] and len(llm.tokenize(b"<start_of_turn>", add_bos=False,
                                                              special=True)) == 1


def test_template_for_a_single_cell(ip, capsys):
    ip.run_cell("%%gemma --template\nName a colour.")
    assert "<bos>" + TEMPLATED in capsys.readouterr().out


# -- LoRA -----------------------------------------------------------------------------------


def test_lora_on_a_workers_ai_lora_base(ip, emu, monkeypatch, tmp_path):
    point_at(emu, monkeypatch, tmp_path)
    ip.run_cell("%%gemma -p cloudflare -m @cf/google/gemma-7b-it-lora --lora my-adapter\nHi")
    assert last_body(emu)["lora"] == "my-adapter"
    assert emu.requests[-1].path == \
        f"/client/v4/accounts/{ACCOUNT}/ai/run/@cf/google/gemma-7b-it-lora"
    assert '"lora": "my-adapter"' in gm.get_session().log.records()[-1].extra


@pytest.mark.parametrize(("line", "message"), [
    ("-p cloudflare --lora a", "@cf/google/gemma-4-26b-a4b-it takes no LoRA adapter (use -m "
     "@cf/google/gemma-2b-it-lora or @cf/google/gemma-7b-it-lora)"),
    ("-p openai --lora a", "LoRA adapters are a Workers AI feature; openai takes none (use -p "
     "cloudflare -m @cf/google/gemma-2b-it-lora or @cf/google/gemma-7b-it-lora)"),
    ("-p dataoorts --lora a", "dataoorts takes none"),
    ("--lora a", "local takes none"),
])
def test_lora_refused_elsewhere_before_sending(ip, emu, monkeypatch, tmp_path, capsys, line,
                                               message):
    point_at(emu, monkeypatch, tmp_path)
    ip.run_cell(f"%%gemma {line}\nHi")
    err = capsys.readouterr().err
    assert f"UsageError: {message}" in err or message in err
    assert "Traceback" not in err
    assert emu.requests == [] and len(gm.get_session().log) == 0
