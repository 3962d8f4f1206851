"""%%gemma and %gemma through a real IPython shell."""

from __future__ import annotations

import pytest

from gemma_magics.notebook.interpolate import interpolate


def run(ip, cell):
    result = ip.run_cell(cell)
    return result


def test_interpolate_rules():
    ns = {"topic": "pandas", "n": 3}
    assert interpolate("{n} tips on {topic}", ns) == "3 tips on pandas"
    assert interpolate("{{topic}} stays {unknown}", ns) == "{topic} stays {unknown}"
    assert interpolate('json: {"a": 1}', ns) == 'json: {"a": 1}'


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%gemma --temperature -1\nhi", "temperature=-1.0 is out of range"),
        ("%%gemma --top-k 0\nhi", "top_k=0 is out of range"),
        ("%%gemma -p nosuch\nhi", "unknown provider 'nosuch'"),
        ("%%gemma --bogus\nhi", "unrecognized arguments: --bogus"),
        ("%%gemma --max-tokens lots\nhi", "invalid int value"),
        ("%%gemma\n\n", "the cell is empty"),
        ("%%gemma -p cloudflare\nhi", "set CLOUDFLARE_ACCOUNT_ID"),
        ("%gemma frobnicate", "unknown %gemma command 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_usage_error(ip, capsys, session, cell, expected):
    result = run(ip, cell)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert expected in text
    assert "UsageError" in text
    assert "Traceback" not in text
    assert result.error_in_exec is not None or result.error_before_exec is not None
    assert len(session.log) == 0, "nothing was sent, so nothing is recorded"


def test_providers_lists_credentials_without_secrets(ip, capsys, monkeypatch):
    monkeypatch.setenv("DATAOORTS_API_KEY", "canary-dataoorts-123456")
    run(ip, "%gemma providers")
    out = capsys.readouterr().out
    assert "dataoorts" in out and "ready" in out and "env DATAOORTS_API_KEY" in out
    assert "canary-dataoorts-123456" not in out
    assert "set CLOUDFLARE_API_TOKEN or CLOUDFLARE_AUTH_TOKEN and CLOUDFLARE_ACCOUNT_ID" in out


def test_models_lists_catalog(ip, capsys):
    run(ip, "%gemma models cloudflare")
    out = capsys.readouterr().out
    assert "@cf/google/gemma-4-26b-a4b-it" in out and "0.1" in out and "temperature 0–2" in out
    assert "retired 2026-05-30, use @cf/google/gemma-4-26b-a4b-it" in out  # still listed
    assert "not taken: raw, repetition_penalty, top_k" in out


def test_config_traitlets_become_session_defaults(ip, session, caplog):
    run(ip, "%config GemmaMagics.temperature = 0.3")
    assert session.params.temperature == 0.3
    run(ip, "%gemma reset")
    assert session.params.temperature is None
    run(ip, "%config GemmaMagics.default_provider = 'nosuch'")
    assert "unknown provider 'nosuch'" in caplog.text
    assert session.default_provider() == "local"
    ip.config.GemmaMagics.pop("default_provider")


def test_help_is_the_docstring(ip):
    from gemma_magics.notebook.magics import GemmaMagics

    doc = GemmaMagics.gemma.__doc__
    for flag in ("--max-tokens", "--temperature", "--top-p", "--top-k", "--seed",
                 "--repetition-penalty", "--frequency-penalty", "--presence-penalty", "--stop",
                 "--system", "--no-stream", "--output", "--format", "--no-interpolate",
                 "--provider", "--model"):
        assert flag in doc
    assert "%%gemma" in doc




@pytest.fixture
def needs_model():
    pytest.importorskip("llama_cpp")


def test_cell_streams_prints_footer_and_stores_output(ip, session, capsys, needs_model):
    ip.user_ns["thing"] = "pandas"
    run(ip, "%%gemma --max-tokens 12 --seed 4 -o out\nThe most useful {thing} function is")
    out = capsys.readouterr().out
    completion = ip.user_ns["out"]
    assert completion.record.prompt == "The most useful pandas function is"
    assert completion.text and completion.text in out
    assert "local · gemma-3-270m" in out and "→ 12 tokens" in out and "tok/s" in out
    assert len(session.log) == 1


def test_no_interpolate_keeps_braces(ip, session, needs_model):
    ip.user_ns["thing"] = "pandas"
    run(ip, "%%gemma --max-tokens 2 --no-interpolate -o out\nUse {thing}")
    assert ip.user_ns["out"].record.prompt == "Use {thing}"


def test_history_line_magic(ip, session, capsys, needs_model):
    run(ip, "%%gemma --max-tokens 3\nHello")
    frame = ip.run_line_magic("gemma", "history 5")
    assert len(frame) == 1 and frame.iloc[0]["provider"] == "local"


def test_quoted_flag_values_lose_their_quotes(ip, session):
    pytest.importorskip("llama_cpp")
    run(ip, "%%gemma --max-tokens '2' --temperature \"0.5\" --system 'Be brief.' -o out\nHi")
    record = ip.user_ns["out"].record
    assert record.temperature == 0.5 and record.system == "Be brief."
    assert record.max_tokens == 2
