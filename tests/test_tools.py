"""Tool calls (--tools, --run-tools): specs from Python functions, calls recorded, the tool
loop over real HTTP (the emulator checks each round's request shape)."""

from __future__ import annotations

import enum
import json
from typing import Literal

import httpx
import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.events import ToolCall
from gemma_magics.features.tools import as_tools, execute, function_spec
from gemma_magics.workflows.tool_loop import ToolLoopError, run_tools

pytest_plugins = ["conftest_providers"]

from emulated import last_body  # noqa: E402

PARIS = [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Current weather for a city.

    Args:
        city: The city name,
            e.g. "Paris".
        unit: Temperature unit.

    Returns:
        A dict.
    """
    return {"city": city, "temp": 21, "unit": unit}


def explode(reason: str) -> str:
    """Always fails.

    :param reason: why it fails
    """
    raise ValueError(reason)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def paint(colours: list[Colour], times: int | None = None, *, dry: bool = False, **extra):
    """Paint things."""


def test_spec_from_signature_and_docstring():
    assert function_spec(get_weather) == {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
                "unit": {"type": "string", "enum": ["C", "F"], "default": "C",
                         "description": "Temperature unit."},
            },
            "required": ["city"],
        },
    }
    spec = function_spec(paint)["parameters"]
    assert spec["properties"] == {
        "colours": {"type": "array", "items": {"enum": ["red", "blue"]}},
        "times": {"type": "integer"},
        "dry": {"type": "boolean", "default": False},
    }
    assert spec["required"] == ["colours"]
    assert function_spec(explode)["parameters"]["properties"]["reason"]["description"] == \
        "why it fails"


def test_json_specs_are_normalised_and_checked():
    openai_shaped = {"type": "function", "function": {"name": "f", "parameters": {}}}
    assert as_tools([openai_shaped])[0].spec == {"name": "f", "description": "f",
                                                  "parameters": {}}
    with pytest.raises(errors.ValidationError, match="needs a 'name'"):
        as_tools([{"description": "nameless"}])
    with pytest.raises(errors.ValidationError, match="two tools are named 'get_weather'"):
        as_tools([get_weather, get_weather])


def test_execute_turns_failures_into_results_the_model_can_read():
    tools = {t.name: t for t in as_tools([get_weather, explode])}
    ok = execute(tools["get_weather"], ToolCall("get_weather", {"city": "Oslo"}), 1)
    assert json.loads(ok.result) == {"city": "Oslo", "temp": 21, "unit": "C"} and not ok.error
    boom = execute(tools["explode"], ToolCall("explode", {"reason": "no paint"}), 1)
    assert boom.result == "error: ValueError: no paint"
    bad = execute(tools["get_weather"], ToolCall("get_weather", {"city": 3}), 1)
    assert bad.result == "error: bad arguments: 3 is not of type 'string'"
    unknown = execute(None, ToolCall("nope", {}), 1)
    assert unknown.result == "error: no Python function named 'nope'"


def test_tool_calls_are_shown_and_recorded_as_objects(hosted, emu):
    emu.set_text(tool_calls=PARIS)
    completion = gm.generate("Weather in Paris?", "cloudflare", session=hosted,
                             tools=[get_weather])
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert json.loads(completion.record.tool_calls) == PARIS
    # Gemma 4's published tool shape, beside messages (tools exist only in that branch)
    assert last_body(emu)["tools"] == [{"type": "function", "function": function_spec(get_weather)}]
    assert last_body(emu)["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert json.loads(completion.record.extra)["tools"][0]["name"] == "get_weather"


def test_run_tools_openai_round_trip(hosted, emu):
    emu.set_text("It is 21 degrees in Paris.", tool_calls=PARIS)
    completion = run_tools("Weather in Paris?", "openai", session=hosted, tools=[get_weather])
    assert completion.text == "It is 21 degrees in Paris."
    assert [(s.name, s.arguments, json.loads(s.result)) for s in completion.steps] == [
        ("get_weather", {"city": "Paris"}, {"city": "Paris", "temp": 21, "unit": "C"})]
    first, second = (r.body for r in emu.requests)
    assert first["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assistant, result = second["messages"][1:]
    call = assistant["tool_calls"][0]
    assert assistant["role"] == "assistant" and call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert result == {"role": "tool", "tool_call_id": call["id"],
                      "content": json.dumps({"city": "Paris", "temp": 21, "unit": "C"})}
    records = hosted.log.records()
    assert [json.loads(r.extra)["tool_round"] for r in records] == [1, 2]
    assert records[0].finish_reason == "tool_calls" and records[1].status == "ok"


def test_run_tools_workers_ai_gemma_4_round_trip(hosted, emu):
    emu.set_text("Sunny.", tool_calls=PARIS)
    completion = run_tools("Weather in Paris?", "cloudflare", session=hosted,
                           tools=[get_weather], system="Be brief.")
    assert completion.text == "Sunny." and len(emu.requests) == 2
    messages = emu.requests[1].body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    call = messages[2]["tool_calls"][0]
    assert messages[2]["role"] == "assistant" and call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    # Gemma 4's tool message is {role, content, tool_call_id}: no `name`
    assert set(messages[3]) == {"role", "content", "tool_call_id"}
    assert messages[3]["tool_call_id"] == call["id"]
    assert json.loads(messages[3]["content"])["temp"] == 21


def test_run_tools_workers_ai_older_model_round_trip(hosted, emu):
    emu.set_text("Sunny.", tool_calls=PARIS)
    completion = run_tools("Weather in Paris?", "cloudflare", "@cf/google/gemma-2b-it-lora",
                           session=hosted, tools=[get_weather], system="Be brief.")
    assert completion.text == "Sunny." and len(emu.requests) == 2
    messages = emu.requests[1].body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[2] == {"role": "assistant", "content": json.dumps(PARIS)}
    # the older schemas' message items are {role, content} only
    assert set(messages[3]) == {"role", "content"} and messages[3]["role"] == "tool"
    assert json.loads(messages[3]["content"])["temp"] == 21


def test_round_limit_is_a_clear_error(hosted, emu):
    emu.set_text(tool_calls=PARIS)
    emu.configure(tool_rounds=100)
    with pytest.raises(ToolLoopError, match="still asked for tools after 2 rounds"):
        run_tools("Weather?", "openai", session=hosted, tools=[get_weather], max_rounds=2)
    assert len(emu.requests) == 2


def test_tool_errors_go_back_to_the_model(hosted, emu):
    emu.set_text("Sorry.", tool_calls=[{"name": "explode", "arguments": {"reason": "x"}}])
    completion = run_tools("Go", "openai", session=hosted, tools=[explode])
    assert completion.steps[0].error == "ValueError: x"
    assert emu.requests[1].body["messages"][-1]["content"] == "error: ValueError: x"


def test_backends_without_tools_refuse_before_sending(hosted, emu, session):
    with pytest.raises(errors.CapabilityError) as info:
        gm.generate("Weather?", "local", tools=[get_weather])
    assert str(info.value).startswith("local gemma-3-270m has no tool calls (tool calls work on:"
                                      " cloudflare, cloudflare-openai, aimlapi -m "
                                      "google/gemma-4-26b-a4b-it-maas")
    assert len(session.log) == 0
    with pytest.raises(errors.ValidationError, match="only has a JSON spec"):
        run_tools("x", "openai", session=hosted, tools=[{"name": "f", "parameters": {}}])
    assert emu.requests == []


def test_the_emulator_checks_tool_turn_shapes(emu):
    url = emu.base_url + "/v1/chat/completions"
    orphan = {"model": "m", "messages": [{"role": "user", "content": "x"},
                                         {"role": "tool", "tool_call_id": "c1", "content": "1"}]}
    r = httpx.post(url, json=orphan, headers={"Authorization": "Bearer k"})
    assert r.status_code == 400 and "must be a response to a preceding" in r.text
    wrong = {"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {}}}]}]}
    r = httpx.post(url, json=wrong, headers={"Authorization": "Bearer k"})
    assert r.status_code == 400 and "arguments must be a JSON object string" in r.text


def test_magic_runs_tools_with_a_step_list(ip, emu, monkeypatch, tmp_path, capsys):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    emu.set_text("21 degrees.", tool_calls=PARIS)
    ip.user_ns["weather_tools"] = [get_weather]
    ip.run_cell("%%gemma -p openai --tools weather_tools --run-tools -o out\nWeather in Paris?")
    out = capsys.readouterr().out
    assert 'tool call: get_weather({"city": "Paris"})' in out
    assert 'round 1 tools:\n  1. get_weather(city="Paris") → {"city": "Paris", "temp": 21' in out
    assert out.rstrip().splitlines()[-2] == "21 degrees."
    assert ip.user_ns["out"].text == "21 degrees." and len(ip.user_ns["out"].steps) == 1
    emu.configure(tool_rounds=100)
    ip.run_cell("%%gemma -p openai --tools weather_tools --run-tools --max-rounds 1\nAgain?")
    assert "Error: the model still asked for tools after 1 rounds" in capsys.readouterr().out
    ip.run_cell("%%gemma -p openai --run-tools\nAgain?")
    assert "--run-tools needs --tools NAME" in capsys.readouterr().err
