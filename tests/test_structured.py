"""Structured output (--json / --schema): request shapes over real HTTP, parsing and
validation, the local model constrained by a llama.cpp grammar, rendering in a kernel."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.features.structured import output_spec

pytest_plugins = ["conftest_providers"]

from emulated import ACCOUNT, CANARIES, PREFIXES, last_body  # noqa: E402

PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"]}


class City(BaseModel):
    name: str
    population: int


def test_json_mode_on_workers_ai_is_sent_whole_and_parsed(hosted, emu):
    emu.set_text(json_response={"answer": 42})
    completion = gm.generate("Answer as JSON.", "cloudflare", session=hosted, json=True)
    body = last_body(emu)
    assert body["response_format"] == {"type": "json_object"}
    assert "stream" not in body, "Workers AI answers JSON mode whole"
    assert completion.value == {"answer": 42}
    assert completion.record.status == "ok"
    assert json.loads(completion.record.extra)["response_format"] == {"type": "json_object"}


def test_schema_dict_on_workers_ai(hosted, emu):
    emu.set_text(json_response={"name": "Ada", "age": 36})
    completion = gm.generate("A person.", "cloudflare", session=hosted, schema=PERSON)
    assert last_body(emu)["response_format"] == {  # Gemma 4's published shape
        "type": "json_schema", "json_schema": {"name": "output", "schema": PERSON, "strict": True}}
    assert completion.value == {"name": "Ada", "age": 36}


def test_pydantic_class_on_openai_compatible(hosted, emu):
    emu.set_text(json_response={"name": "Lisbon", "population": 545000})
    completion = gm.generate("A city.", "openai", session=hosted, schema=City)
    fmt = last_body(emu)["response_format"]
    assert fmt == {"type": "json_schema",
                   "json_schema": {"name": "City", "schema": City.model_json_schema()}}
    assert isinstance(completion.value, City) and completion.value.population == 545000


def test_schema_built_answer_from_the_emulator_validates(hosted, emu):
    completion = gm.generate("A person.", "aimlapi", session=hosted, schema=PERSON)
    assert set(completion.value) == {"name", "age"} and isinstance(completion.value["age"], int)


def test_answer_not_matching_the_schema_is_an_error_that_keeps_the_text(hosted, emu):
    emu.set_text(json_response={"name": "Ada", "age": "old"})
    with pytest.raises(errors.OutputParseError) as info:
        gm.generate("A person.", "cloudflare", session=hosted, schema=PERSON)
    message = str(info.value)
    assert "\n" not in message
    assert "does not match schema output: at $.age: 'old' is not of type 'integer'" in message
    record = hosted.log.records()[-1]
    assert record.status == "error" and record.error_type == "OutputParseError"
    assert json.loads(record.response) == {"name": "Ada", "age": "old"}
    assert info.value.completion.text == record.response


def test_pydantic_mismatch_names_the_field(hosted, emu):
    emu.set_text(json_response={"name": "Lisbon", "population": "many"})
    with pytest.raises(errors.OutputParseError, match=r"does not match City: at \$.population"):
        gm.generate("A city.", "openai", session=hosted, schema=City)


def test_malformed_json_is_an_error_with_the_raw_text_recorded(hosted, emu):
    emu.set_text(json_response='{"name": "Ada", "age": ')
    call = gm.stream("A person.", "openai", session=hosted, json=True)
    for _ in call:
        pass
    completion = call.completion
    assert isinstance(completion.error, errors.OutputParseError)
    assert str(completion.error).startswith("the answer is not valid JSON: Expecting value")
    assert completion.record.response == '{"name": "Ada", "age": '
    assert completion.record.status == "error" and completion.value is None
    assert last_body(emu)["stream"] is True, "OpenAI-compatible JSON mode still streams"


def test_fenced_json_is_accepted(hosted, emu):
    emu.set_text(json_response='```json\n{"name": "Ada", "age": 36}\n```')
    completion = gm.generate("A person.", "openai", session=hosted, schema=PERSON)
    assert completion.value == {"name": "Ada", "age": 36}


def test_invalid_schema_is_refused_before_sending(hosted, emu):
    with pytest.raises(errors.ValidationError, match="not a valid JSON Schema"):
        gm.generate("x", "cloudflare", session=hosted, schema={"type": "objekt"})
    with pytest.raises(errors.ValidationError, match="JSON Schema dict or a pydantic"):
        gm.generate("x", "cloudflare", session=hosted, schema="Person")
    assert emu.requests == []


def test_json_mode_refused_where_the_catalog_has_none(hosted, emu):
    with pytest.raises(errors.CapabilityError) as info:
        gm.generate("x", "dataoorts", session=hosted, json=True)
    assert "dataoorts google/gemma-3-12b-it has no JSON mode" in str(info.value)
    assert "JSON mode work on: cloudflare" in str(info.value)
    assert emu.requests == []


def test_the_emulator_rejects_a_json_schema_without_a_name(emu):
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": PERSON}}
    r = httpx.post(emu.base_url + "/v1/chat/completions", json=body,
                   headers={"Authorization": "Bearer k"})
    assert r.status_code == 400 and "needs 'name' and 'schema'" in r.text


def test_magic_stores_the_parsed_object(ip, emu, monkeypatch, tmp_path, capsys):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    gm.get_session().config.reload()
    emu.set_text(json_response={"name": "Ada", "age": 36})
    ip.user_ns["Person"] = PERSON
    ip.run_cell("%%gemma -p cloudflare --schema Person -o person\nA person as JSON.")
    assert ip.user_ns["person"] == {"name": "Ada", "age": 36}
    emu.set_text(json_response={"name": "Ada"})
    ip.run_cell("%%gemma -p cloudflare --schema Person -o person\nA person as JSON.")
    out = capsys.readouterr().out
    assert "Error: the answer does not match schema output: at $: 'age' is a required" in out
    assert isinstance(ip.user_ns["person"], gm.Completion), "a failed parse stores the Completion"
    ip.run_cell("%%gemma -p cloudflare --schema Nope\nx")
    assert "no variable named 'Nope'" in capsys.readouterr().err


# -- the local model, really constrained ---------------------------------------------------

SMALL = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                          "sunny": {"type": "boolean"}},
         "required": ["city", "sunny"]}


@pytest.mark.slow
def test_local_grammar_makes_the_270m_answer_valid_json(session):
    pytest.importorskip("llama_cpp")
    from jsonschema import validate

    prompt = "Weather report for Paris, as JSON:"
    for seed in (1, 2):
        completion = gm.generate(prompt, "local", schema=SMALL, max_tokens=40, seed=seed,
                                 temperature=1.0)
        validate(completion.value, SMALL)
        assert json.loads(completion.text) == completion.value
        assert completion.record.finish_reason == "stop", "the grammar ends at the object"
    # the same prompt without the grammar is not JSON at all
    free = gm.generate(prompt, "local", max_tokens=16, seed=1, temperature=1.0)
    with pytest.raises(ValueError):
        json.loads(free.text)


@pytest.mark.slow
def test_fast_grammar_sampling_equals_llama_cpp_own_when_greedy(session):
    """At temperature 0 checking only the chosen token must give exactly the tokens of
    llama.cpp's grammar-over-the-whole-vocabulary sampling (just much faster)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from gemma_magics.providers import local_model
    from gemma_magics.providers.local import load_model

    prompt = "The weather in Oslo, as JSON:"
    ours = gm.generate(prompt, "local", schema=SMALL, max_tokens=16, temperature=0)
    llm = load_model(str(local_model.model_path()))
    grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(SMALL), verbose=False)
    reference = []
    for token in llm.generate(llm.tokenize(prompt.encode(), add_bos=True, special=True),
                              top_k=64, top_p=0.95, min_p=0.05, temp=0, grammar=grammar):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(reference) == 16:
            break
        reference.append(token)
    assert ours.text == llm.detokenize(reference).decode()


@pytest.mark.slow
def test_local_answer_cut_by_max_tokens_is_a_clear_parse_error(session):
    pytest.importorskip("llama_cpp")
    with pytest.raises(errors.OutputParseError, match="cut at max_tokens=3; raise --max-tokens"):
        gm.generate("A person:", "local", schema=PERSON, max_tokens=3, seed=1)
    assert session.log.records()[-1].status == "error"


def test_output_spec_shapes():
    assert output_spec() is None
    assert output_spec(json_mode=True).response_format == {"type": "json_object"}
    spec = output_spec(schema={**PERSON, "title": "A person!"})
    assert spec.response_format == {"type": "json_schema", "schema": {**PERSON,
                                    "title": "A person!"}, "name": "A_person_"}


# -- rendering, as a front end sees it -------------------------------------------------------


@pytest.mark.slow
def test_json_answer_renders_as_application_json_in_a_kernel(emulator, tmp_path):
    pytest.importorskip("ipykernel")
    from kernel_client import Kernel

    emulator.reset()
    emulator.set_text(json_response={"name": "Ada", "age": 36})
    env = {f"GEMMA_MAGICS_{p.upper().replace('-', '_')}_BASE_URL": emulator.base_url + prefix
           for p, prefix in PREFIXES.items()}
    env.update(CANARIES, CLOUDFLARE_ACCOUNT_ID=ACCOUNT, GEMMA_MAGICS_DB=":memory:",
               GEMMA_MAGICS_CONFIG=str(tmp_path / "c.toml"))
    kernel = Kernel(env=env)
    try:
        kernel.run("%load_ext gemma_magics")
        run = kernel.run("%%gemma -p cloudflare --json -o data\nAda as JSON")
        assert run.reply["content"]["status"] == "ok"
        bundles = [m["content"]["data"] for m in run.of_type("display_data",
                                                                "update_display_data")]
        assert any(b.get("application/json") == {"name": "Ada", "age": 36} for b in bundles)
        check = kernel.run("print(data)")
        assert "{'name': 'Ada', 'age': 36}" in check.text()
    finally:
        kernel.close()
