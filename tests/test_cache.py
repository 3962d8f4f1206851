"""The response cache (--cache, %config GemmaMagics.cache, %gemma cache clear): identical
requests answered from the SQLite log instead of the backend (the emulator counts what
really arrived)."""

from __future__ import annotations

import json

import pytest

import gemma_magics as gm
from gemma_magics.config import Config
from gemma_magics.emulator import Fault
from gemma_magics.events import Notice
from gemma_magics.records import cache
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

from emulated import point_at  # noqa: E402


def ask(session, **kwargs):
    kwargs = {"seed": 7, "cache": True, **kwargs}
    return gm.generate("Name a colour.", kwargs.pop("provider", "cloudflare"), session=session,
                       **kwargs)


def test_a_seeded_repeat_is_served_from_the_log(hosted, emu):
    emu.set_text("Blue.")
    first = ask(hosted)
    second = ask(hosted, stream=False)  # streaming or not is the same request
    assert len(emu.requests) == 1
    assert second.text == first.text == "Blue."
    rec = second.record
    assert rec.cached and not first.record.cached
    assert rec.request_key == first.record.request_key
    assert (rec.prompt_tokens, rec.completion_tokens, rec.usage_source) == (
        first.record.prompt_tokens, first.record.completion_tokens, "provider")
    assert rec.cost_usd == 0 and first.record.cost_usd > 0
    assert rec.tokens_per_s is None and rec.ttft_s is None
    assert json.loads(rec.extra)["cached_from"] == first.record.run_id
    from gemma_magics.notebook.footer import footer_text

    assert footer_text(rec).endswith("· $0 · cached")
    frame = gm.history(hosted)
    assert frame["cached"].tolist() == [False, True]


@pytest.mark.parametrize("change", [
    {"temperature": 0.2}, {"seed": 8}, {"max_tokens": 9}, {"system": "Be brief."},
    {"provider": "cloudflare-openai"}, {"json": True}, {"stop": ["."]}])
def test_any_difference_is_a_miss(hosted, emu, change):
    ask(hosted)
    ask(hosted, **change)
    assert len(emu.requests) == 2


def test_unseeded_sampling_is_not_cached_unless_forced(hosted, emu):
    gm.generate("Hi", "openai", session=hosted, cache=True)
    call = gm.stream("Hi", "openai", session=hosted, cache=True)
    notices = [e.message for e in call if isinstance(e, Notice)]
    assert len(emu.requests) == 2
    assert "not cached: no seed at temperature 0.6 (set --seed, or use --cache force)" in notices
    forced = gm.generate("Hi", "openai", session=hosted, cache="force")
    assert forced.record.cached and len(emu.requests) == 2
    greedy = [gm.generate("Hi", "openai", session=hosted, cache=True, temperature=0)
              for _ in range(2)]
    assert greedy[1].record.cached and len(emu.requests) == 3


def test_failed_answers_are_never_served(hosted, emu):
    emu.inject(Fault(status=400))
    with pytest.raises(gm.APIError):
        ask(hosted)
    assert ask(hosted).record.cached is False and len(emu.requests) == 2


def test_another_endpoint_is_a_miss(hosted, emu, monkeypatch):
    ask(hosted, provider="openai")
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", emu.base_url + "/vllm/v1")
    ask(hosted, provider="openai")
    assert len(emu.requests) == 2, "answers from one server are not served for another"


def test_json_and_tool_answers_replay(hosted, emu):
    emu.set_text(json_response={"colour": "blue"})
    ask(hosted, json=True)
    again = ask(hosted, json=True)
    assert again.record.cached and again.value == {"colour": "blue"}
    emu.set_text(tool_calls=[{"name": "paint", "arguments": {"colour": "red"}}])
    tool = {"name": "paint", "description": "Paint", "parameters": {"type": "object"}}
    ask(hosted, tools=[tool])
    again = ask(hosted, tools=[tool])
    assert again.record.cached and again.tool_calls[0].arguments == {"colour": "red"}
    assert len(emu.requests) == 2


def test_cache_survives_a_restart_and_clear_persists(emu, monkeypatch, tmp_path):
    point_at(emu, monkeypatch, tmp_path)
    db = tmp_path / "history.sqlite"
    first = Session(config=Config(), db_path=db)
    ask(first)
    first.log.close()
    second = Session(config=Config(), db_path=db)
    assert ask(second).record.cached and len(emu.requests) == 1
    cache.clear(second.log)
    assert not ask(second).record.cached and len(emu.requests) == 2
    second.log.close()
    third = Session(config=Config(), db_path=db)
    assert ask(third).record.cached, "the answer given after the clear is served"
    assert len(third.log) == 4, "clearing keeps the history"
    third.log.close()


def test_setting_and_environment_defaults(hosted, emu, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_CACHE", "on")
    gm.generate("Hi", "openai", session=hosted, seed=1)
    assert gm.generate("Hi", "openai", session=hosted, seed=1).record.cached
    assert not gm.generate("Hi", "openai", session=hosted, seed=1, cache=False).record.cached
    with pytest.raises(gm.ValidationError, match="not a cache mode"):
        gm.generate("Hi", "openai", session=hosted, cache="sometimes")


def test_magic_flag_config_default_and_clear(ip, emu, monkeypatch, tmp_path, capsys):
    point_at(emu, monkeypatch, tmp_path)
    cell = "%%gemma -p openai --seed 3 {flag}\nName a colour."
    ip.run_cell(cell.format(flag="--cache"))
    ip.run_cell(cell.format(flag="--cache"))
    out = capsys.readouterr().out
    assert len(emu.requests) == 1
    assert "[served from the cache: answer logged" in out and out.rstrip().endswith("cached")
    ip.run_cell("%config GemmaMagics.cache = True")
    ip.run_cell(cell.format(flag=""))
    ip.run_cell(cell.format(flag="--cache off"))
    assert len(emu.requests) == 2
    ip.run_cell("%gemma cache")
    assert "cache on by default" in capsys.readouterr().out
    ip.run_cell("%gemma cache clear")
    assert "cache cleared" in capsys.readouterr().out
    ip.run_cell(cell.format(flag=""))
    assert len(emu.requests) == 3
    ip.run_cell("%config GemmaMagics.cache = False")
    records = gm.get_session().log.records()
    assert [r.cached for r in records] == [False, True, True, False, False]


@pytest.mark.slow
def test_local_model_answers_are_cached(session):
    pytest.importorskip("llama_cpp")
    first = gm.generate("Red, green and", "local", max_tokens=4, seed=5, cache=True)
    second = gm.generate("Red, green and", "local", max_tokens=4, seed=5, cache=True)
    assert second.record.cached and second.text == first.text
    assert second.record.latency_s < first.record.latency_s


def test_llama_random_seed_is_refused_for_the_local_model_before_anything_runs(session):
    from gemma_magics.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        gm.generate("Red, green and", "local", max_tokens=4, seed=4294967295, cache=True)
    message = str(caught.value)
    assert "4294967295" in message and "random" in message
    assert "\n" not in message and caught.value.fix
    assert "4294967294" in caught.value.fix
    assert len(session.log) == 0  # refused in prepare(): nothing sent, nothing recorded
    with pytest.raises(ValidationError):
        gm.compare("Red, green and", providers="local", seed=[1, 4294967295], display=False,
                   session=session)
    assert len(session.log) == 0


def test_only_reproducible_seeds_are_cacheable():
    from gemma_magics.catalog.models import ModelInfo
    from gemma_magics.params import Params
    from gemma_magics.providers.base import Request

    def request(**params):
        return Request("Hi", Params(**{"temperature": 0.7, **params}), ModelInfo("x", "m"))

    assert not cache.cacheable(request(seed=4294967295), "local")
    assert cache.cacheable(request(seed=4294967294), "local")
    assert cache.cacheable(request(seed=4294967295), "openai")  # just a number there
    assert not cache.cacheable(request(), "local")
    assert cache.cacheable(request(temperature=0), "local")
