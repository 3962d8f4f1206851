"""The ipywidgets panel, driven as a user would: dropdowns, sliders, buttons."""

from __future__ import annotations

import pytest

from gemma_magics.notebook.panel import Panel, panel


@pytest.fixture
def cloudflare_creds(monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-for-tests")


@pytest.fixture
def shell(session):
    """A real IPython shell with the extension loaded."""
    from IPython.testing import globalipapp

    globalipapp.start_ipython()  # once per process; later calls return None
    ip = globalipapp.get_ipython()
    ip.run_line_magic("reload_ext", "gemma_magics")
    return ip


def ranges(p: Panel) -> dict[str, tuple]:
    return {name: (c.min, c.max) for name, c in p.controls.items()}


def marker(p: Panel, name: str) -> str:
    return p.markers[name].value.split(">")[1].split("<")[0]


def test_controls_take_each_models_range_and_default(session, cloudflare_creds):
    p = panel()
    assert p.provider.value == "local" and p.model.value == "gemma-3-270m"
    labels = dict((v, k) for k, v in p.provider.options)
    assert labels["local"] == "local — ready" and labels["cloudflare"] == "cloudflare — ready"
    assert labels["dataoorts"].endswith("set DATAOORTS_API_KEY")
    assert ranges(p)["temperature"] == (0, 2) and p.controls["temperature"].value == 0.6
    assert p.controls["top_k"].value == 64 and marker(p, "top_k") == "model default"
    assert marker(p, "seed") == "random"

    p.provider.value = "cloudflare"
    assert p.model.value == "@cf/google/gemma-4-26b-a4b-it"
    assert "@hf/google/gemma-7b-it" not in p.model.options  # retired models are not offered
    r = ranges(p)
    assert r["temperature"] == (0, 2) and r["top_p"] == (0, 1)
    assert r["frequency_penalty"] == (-2, 2) and r["seed"][0] == 0
    assert (session.provider, session.model) == ("cloudflare", "@cf/google/gemma-4-26b-a4b-it")

    p.model.value = "@cf/google/gemma-2b-it-lora"
    r = ranges(p)
    assert r["temperature"] == (0, 5) and r["top_k"] == (1, 50) and r["top_p"] == (0, 2)
    assert r["frequency_penalty"] == (0, 2) and r["seed"][0] == 1
    assert session.model == "@cf/google/gemma-2b-it-lora"
    assert session.params.explicit() == {}  # switching models sets no sampling value


def test_moving_a_control_sets_the_session_default(session, cloudflare_creds):
    p = panel()
    p.controls["temperature"].value = 1.3
    p.controls["top_k"].value = 80
    assert session.params.temperature == 1.3 and session.params.top_k == 80
    assert marker(p, "top_k") == "set"

    p.provider.value = "cloudflare"  # top_k 80 is beyond Workers AI's 1–50
    assert p.controls["top_k"].value == 50 and session.params.top_k == 50
    assert p.controls["temperature"].value == 1.3  # still within 0–5
    assert "clamped top_k" in p.stats.value

    p.system.value = "Answer in French."
    assert session.params.system == "Answer in French."


def test_run_streams_into_the_output_and_records_the_call(session):
    p = panel()
    p.controls["max_tokens"].value = 6
    p.controls["temperature"].value = 0.3
    p.controls["seed"].value = 11
    p.prompt.value = "The three most useful pandas functions are"
    p.run_button.click()

    completion = p.last
    assert completion is not None and completion.ok and completion.text
    shown = p.output.outputs[-1]["data"]
    assert shown["text/plain"] == completion.text
    assert "text/html" in shown and "text/markdown" not in shown
    assert "local · gemma-3-270m" in p.stats.value and "tok/s" in p.stats.value
    (record,) = session.log.records()
    assert (record.temperature, record.max_tokens, record.seed) == (0.3, 6, 11)
    assert record.completion_tokens <= 6 and record.response == completion.text
    assert not p.run_button.disabled


def test_next_gemma_cell_uses_the_panels_settings_and_flags_still_win(shell, session):
    p = panel()
    p.controls["temperature"].value = 0.25
    p.controls["max_tokens"].value = 4
    shell.run_cell_magic("gemma", "", "The sky is")
    shell.run_cell_magic("gemma", "--temperature 0.9", "The sea is")
    first, second = session.log.records()
    assert (first.temperature, first.max_tokens) == (0.25, 4)
    assert (second.temperature, second.max_tokens) == (0.9, 4)


def test_reset_and_changes_made_elsewhere(shell, session):
    p = panel()
    p.controls["temperature"].value = 1.7
    p.reset_button.click()
    assert session.params.explicit() == {}
    assert p.controls["temperature"].value == 0.6 and marker(p, "temperature") == "model default"

    session.set_defaults(temperature=1.1)  # e.g. %config GemmaMagics.temperature = 1.1
    assert p.controls["temperature"].value == 1.1 and marker(p, "temperature") == "set"
    shell.run_line_magic("gemma", "reset")
    assert p.controls["temperature"].value == 0.6


def test_run_without_credentials_says_what_to_set(session):
    p = panel()
    p.provider.value = "dataoorts"
    p.prompt.value = "hi"
    p.run_button.click()
    assert p.last is None and "set DATAOORTS_API_KEY" in p.stats.value
    assert len(session.log) == 0


def test_compare_runs_the_prompt_on_the_ticked_providers(session, monkeypatch):
    from gemma_magics.emulator import Emulator

    with Emulator(answer_tokens=5) as emu:
        for name in ("OPENAI", "AIMLAPI"):
            monkeypatch.setenv(f"GEMMA_MAGICS_{name}_BASE_URL", emu.openai_base_url)
            monkeypatch.setenv(f"{name}_API_KEY", "k")
        p = panel()
        assert {"local", "openai", "aimlapi"} <= set(p.compare_with.options)
        p.compare_with.value = ("openai", "aimlapi")
        p.prompt.value = "Write a haiku."
        p.compare_button.click()

    frame = p.last
    assert list(frame["provider"]) == ["openai", "aimlapi"] and (frame.status == "ok").all()
    grid = p.compare_output.outputs[0]["data"]["text/html"]
    assert "2/2 done" in grid and grid.count("✓") == 2
    assert any("Answers side by side" in o["data"].get("text/html", "")
               for o in p.compare_output.outputs[1:])
    assert "2 runs · 2 ok" in p.stats.value


def test_compare_with_checks_shows_the_quality_line(session, monkeypatch):
    from gemma_magics.emulator import Emulator

    with Emulator(text="Paris is the capital.") as emu:
        for name in ("OPENAI", "AIMLAPI"):
            monkeypatch.setenv(f"GEMMA_MAGICS_{name}_BASE_URL", emu.openai_base_url)
            monkeypatch.setenv(f"{name}_API_KEY", "k")
        p = panel()
        p.compare_with.value = ("openai", "aimlapi")
        p.prompt.value = "Capital of France?"
        p.checks.value = "icontains:paris, max-chars:5"
        p.compare_button.click()
    assert list(p.last["pass[icontains:paris]"]) == [True, True]
    assert "✗ fail" in p.compare_output.outputs[0]["data"]["text/html"]  # max-chars:5 failed
    assert "openai: pass rate 0% [0%, 79%] of 1" in p.stats.value
    assert "too few prompts to tell aimlapi from openai" in p.stats.value


def test_seed_box_reads_random_not_zero_until_a_seed_is_typed(session, monkeypatch):
    """Issue 18 item 6: a number box showed 0 (1 on AIML API) beside "random"."""
    monkeypatch.setenv("AIMLAPI_API_KEY", "k")
    p = panel()
    seed = p.controls["seed"]
    assert seed.value == "" and seed.placeholder == "random" and marker(p, "seed") == "random"
    p.provider.value = "aimlapi"  # seeds from 1 here: still empty, not "1"
    assert seed.value == "" and (seed.min, marker(p, "seed")) == (1, "random")
    seed.value = "7"  # typed
    assert session.params.seed == 7 and marker(p, "seed") == "set"
    seed.value = "0"  # below AIML API's range: refused, the box goes back
    assert seed.value == "7" and session.params.seed == 7 and "from 1 to" in p.stats.value
    seed.value = "seven"
    assert seed.value == "7" and "whole number" in p.stats.value
    seed.value = ""  # emptied: random again
    assert session.params.seed is None and "seed" not in session.params.explicit()
    assert marker(p, "seed") == "random"
    session.set_defaults(seed=42)  # set elsewhere: the box follows
    assert seed.value == "42" and marker(p, "seed") == "set"


def test_run_and_compare_have_their_own_bounded_outputs(session, monkeypatch):
    """A long Run answer scrolls inside a box of bounded height, and a Compare does not
    wipe the Run's answer (each has its own output)."""
    from gemma_magics.emulator import Emulator

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    p = panel()
    for out in (p.output, p.compare_output):
        assert out.layout.max_height and out.layout.overflow == "auto"
    # no empty box before the first Run or Compare
    assert p.output.layout.display == p.compare_output.layout.display == "none"
    p.controls["max_tokens"].value = 4
    p.prompt.value = "The sky is"
    p.run_button.click()
    assert p.output.layout.display is None and p.compare_output.layout.display == "none"
    answer = p.output.outputs[-1]["data"]["text/plain"]
    assert answer == p.last.text
    with Emulator(answer_tokens=3) as emu:
        monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", emu.openai_base_url)
        p.compare_with.value = ("openai",)
        p.compare_button.click()
    assert p.output.outputs[-1]["data"]["text/plain"] == answer  # Run's answer kept
    assert "1/1 done" in p.compare_output.outputs[0]["data"]["text/html"]
    assert p.compare_output.layout.display is None


def test_gemma_panel_line_magic_and_display(shell, session):
    p = shell.run_line_magic("gemma", "panel")
    assert isinstance(p, Panel)
    bundle = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    before = p.controls["temperature"].value
    p.close()
    session.set_defaults(temperature=1.5)  # a closed panel no longer follows the session
    assert p.controls["temperature"].value == before
