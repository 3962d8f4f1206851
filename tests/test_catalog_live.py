"""The catalog as data (sources, retirements, defaults) and ``gm.models(provider, live=True)``
/ ``%gemma models PROVIDER --live`` against the emulator's listings."""

from __future__ import annotations

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.catalog.models import load_catalog
from gemma_magics.events import Notice
from gemma_magics.records.log import Record, RecordLog

pytest_plugins = ["conftest_providers"]

from emulated import CANARIES, point_at  # noqa: E402

CATALOG = load_catalog()
GEMMA_4 = "@cf/google/gemma-4-26b-a4b-it"


def test_every_hosted_model_names_its_source():
    missing = [(info.name, m.id) for info in CATALOG for m in info.models.values()
               if info.kind != "local" and m.id not in {"gemma3:270m", "gemma3:4b", "gemma3:12b"}
               and not m.source]
    assert missing == []


@pytest.mark.parametrize(("provider", "model"), [
    ("cloudflare", GEMMA_4), ("cloudflare-openai", GEMMA_4), ("google", "gemma-4-31b-it"),
    ("openrouter", "google/gemma-4-31b-it"), ("aimlapi", "google/gemma-4-31b-it"),
    ("ollama", "gemma4:e4b")])
def test_defaults_are_gemma_4_where_it_is_served(provider, model):
    info = CATALOG.provider(provider)
    assert info.default_model == model and info.model().retired is None


def test_gemma_4_facts_as_published():
    m = CATALOG.model("cloudflare", GEMMA_4)
    assert (m.context, m.price_in, m.price_out) == (256000, 0.10, 0.30)
    assert {"images", "tools", "json", "reasoning"} <= m.capabilities and "lora" not in m.capabilities
    assert m.param_names == {"max_tokens": "max_completion_tokens"}
    assert {"top_k", "repetition_penalty", "raw"} <= m.unsupported
    assert m.thinking["switch"] == "chat_template_kwargs.enable_thinking"
    assert "gemma-4-26b-a4b-it.json" in m.source
    aiml = CATALOG.provider("aimlapi")
    assert aiml.models["google/gemma-4-31b-it"].context == 262000
    assert not aiml.models["google/gemma-4-31b-it"].supports("tools")
    assert aiml.models["google/gemma-4-26b-a4b-it-maas"].supports("tools")
    assert [m.id for m in aiml.models.values() if m.supports("system")] == [
        "google/gemma-4-31b-it", "google/gemma-4-26b-a4b-it-maas", "google/gemma-3-27b-it"]


@pytest.mark.parametrize(("provider", "model", "line"), [
    ("cloudflare", "@cf/google/gemma-3-12b-it", "@cf/google/gemma-3-12b-it was retired by "
     "Cloudflare on 2026-05-30; use @cf/google/gemma-4-26b-a4b-it"),
    ("cloudflare", "@hf/google/gemma-7b-it", "@hf/google/gemma-7b-it was retired by Cloudflare "
     "on 2026-05-30; use @cf/google/gemma-4-26b-a4b-it"),
    ("cloudflare-openai", "@cf/google/gemma-3-12b-it", "@cf/google/gemma-3-12b-it was retired "
     "by Cloudflare on 2026-05-30; use @cf/google/gemma-4-26b-a4b-it"),
    ("google", "gemma-3-27b-it", "gemma-3-27b-it was retired by Google AI Studio; use "
     "gemma-4-31b-it"),
])
def test_a_retired_model_fails_before_sending(hosted, emu, provider, model, line):
    with pytest.raises(errors.CapabilityError) as info:
        gm.generate("Hi", provider, model, session=hosted)
    assert str(info.value) == line
    assert emu.requests == [] and len(hosted.log) == 0


def test_old_records_of_retired_models_still_load(tmp_path):
    path = tmp_path / "log.sqlite"
    log = RecordLog(path)
    log.append(Record(provider="cloudflare", model="@cf/google/gemma-3-12b-it", prompt="p",
                      response="r", status="ok", cost_usd=0.000001))
    log.close()
    frame = RecordLog(path).dataframe()
    assert list(frame["model"]) == ["@cf/google/gemma-3-12b-it"]


def test_an_id_not_in_the_catalog_still_works_with_a_warning(hosted, emu):
    call = gm.stream("Hi", "openrouter", "google/gemma-9-preview", session=hosted)
    notices = [e.message for e in call if isinstance(e, Notice)]
    assert call.completion.record.status == "ok"
    assert emu.requests[-1].body["model"] == "google/gemma-9-preview"
    assert any("google/gemma-9-preview is not in the catalog of openrouter" in n for n in notices)


def test_live_workers_ai_shows_new_gone_retired_and_differences(hosted, emu):
    emu.configure(
        cloudflare_models=[GEMMA_4, "@cf/google/gemma-3-12b-it", "@cf/google/gemma-2b-it-lora",
                           "@cf/google/gemma-5-9b-it", "@cf/meta/llama-4-scout"],
        model_properties={GEMMA_4: {"context": 262144, "price_in": 0.10, "price_out": 0.25}})
    table = gm.models("cloudflare", live=True, session=hosted)
    rows = {r[0]: r for r in table.rows}
    assert emu.requests[-1].path.endswith("/ai/models/search")
    assert emu.requests[-1].query == "search=gemma"
    assert rows["@cf/google/gemma-5-9b-it"][1] == "new"
    assert rows["@cf/google/gemma-7b-it-lora"][1] == "gone"
    assert rows["@cf/google/gemma-3-12b-it"][1] == "retired, still listed"
    assert rows["@hf/google/gemma-7b-it"][1] == "retired"
    assert rows[GEMMA_4][1:] == ["listed", "256000", "262144", "0.1 / 0.3", "0.1 / 0.25",
                                 "context, price"]
    assert "@cf/meta/llama-4-scout" not in rows  # Gemma only
    assert "1 new, 1 gone" in table.title


def test_live_openai_compatible_lists_by_id(hosted, emu):
    emu.configure(openai_models=["google/gemma-4-31b-it", "google/gemma-4-26b-a4b-it",
                                 "google/gemma-5-12b-it", "openai/gpt-x"],
                  model_properties={"google/gemma-4-31b-it": {"context": 262144,
                                                              "price_in": 0.14,
                                                              "price_out": 0.40}})
    rows = {r[0]: r for r in gm.models("openrouter", live=True, session=hosted).rows}
    assert emu.requests[-1].path == "/openrouter/api/v1/models"
    assert rows["google/gemma-5-12b-it"][1] == "new"
    assert rows["google/gemma-4-31b-it:free"][1] == "gone"
    # the catalog has no price for it: the live one shows, and that is a difference
    assert rows["google/gemma-4-31b-it"][5:] == ["0.14 / 0.4", "price"]
    assert "openai/gpt-x" not in rows


def test_live_errors_are_one_line_and_never_show_the_key(hosted, emu):
    emu.configure(api_key="another-key")
    with pytest.raises(errors.APIError) as info:
        gm.models("openrouter", live=True, session=hosted)
    text = str(info.value)
    assert "\n" not in text and "401" in text
    assert all(secret not in text for secret in CANARIES.values())
    with pytest.raises(errors.ConfigError, match="one provider at a time"):
        gm.models(live=True, session=hosted)


def test_the_magic_shows_the_live_table(ip, emu, monkeypatch, tmp_path, capsys):
    point_at(emu, monkeypatch, tmp_path)
    ip.run_cell("%gemma models cloudflare --live")
    out = capsys.readouterr().out
    assert GEMMA_4 in out and "listed" in out and "catalog context" in out
    assert all(secret not in out for secret in CANARIES.values())
