"""%%gemma and %gemma through a real IPython shell."""

from __future__ import annotations

import json

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


def test_providers_says_when_a_base_url_variable_redirects_the_calls(ip, capsys, monkeypatch):
    """emulate_missing() sets a stand-in key and a base URL: "ready" alone read as the real
    service (the quickstart's openrouter row)."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "canary-openrouter-77")
    monkeypatch.delenv("GEMMA_MAGICS_OPENROUTER_BASE_URL", raising=False)
    assert "base URL" not in provider_row(ip, capsys, "openrouter")
    monkeypatch.setenv("GEMMA_MAGICS_OPENROUTER_BASE_URL", "http://user:pw@127.0.0.1:9/api/v1")
    row = provider_row(ip, capsys, "openrouter")
    assert "ready" in row and "base URL from GEMMA_MAGICS_OPENROUTER_BASE_URL" in row, row
    assert "pw@" not in row and "canary-openrouter-77" not in row


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


def config_rows(ip, capsys) -> dict[str, tuple[str, str]]:
    run(ip, "%gemma config")
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("setting"))
    cols = [lines[header].index(h) for h in ("setting", "next cell sends", "from")]
    rows = {}
    for line in lines[header + 2:]:
        cells = [line[a:b].strip() for a, b in zip(cols, [*cols[1:], None])]
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_config_shows_what_the_next_cell_sends_and_from_where(ip, capsys, session,
                                                               isolated_env, monkeypatch):
    """Issue 18 item 7: every setting the next cell sends, not only the ones set."""
    (isolated_env / "config.toml").write_text('[settings]\nprovider = "local"\n')
    session.config.reload()
    run(ip, "%config GemmaMagics.temperature = 0.3")
    rows = config_rows(ip, capsys)
    assert rows["provider"][0] == "local" and "config file" in rows["provider"][1]
    assert rows["model"] == ("gemma-3-270m", "local's default model (catalog)")
    assert rows["temperature"] == ("0.3", "session setting")
    assert rows["max_tokens"][1].startswith("model default") and rows["top_k"][0] == "64"
    assert rows["seed"] == ("not sent", "random")

    run(ip, "%%gemma --seed 1\nThe sky is")  # a seed for a reproducible record; rest as shown
    (record,) = session.log.records()
    for name in ("max_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
                 "frequency_penalty", "presence_penalty"):
        shown = rows[name][0]
        sent = getattr(record, name)
        assert (shown == "not sent" and sent is None) or float(shown) == sent, name

    monkeypatch.setenv("GEMMA_MAGICS_PROVIDER", "cloudflare")
    rows = config_rows(ip, capsys)
    assert rows["provider"] == ("cloudflare", "env GEMMA_MAGICS_PROVIDER")
    # Gemma 4 on Workers AI takes no top_k: said, not sent
    assert rows["top_k"] == ("not sent", "the provider's own default; ignored by cloudflare")
    run(ip, "%config GemmaMagics.temperature = 3")  # beyond Gemma 4's published 0–2
    rows = config_rows(ip, capsys)
    assert "out of range" in rows["error"][0] and "fails" in rows["error"][1]
    # the shell (and its traitlets) outlive this test: leave no bad default behind
    run(ip, "%config GemmaMagics.temperature = None")
    assert "error" not in config_rows(ip, capsys)


def provider_row(ip, capsys, name: str) -> str:
    run(ip, "%gemma providers")
    return next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith(name + " "))


def test_local_servers_say_whether_they_run_and_how_to_start_them(ip, capsys, session,
                                                                   monkeypatch):
    """Issue 18 item 15: ollama/llamacpp/vllm said "ready" when nothing listened."""
    import socket

    from gemma_magics.emulator import Emulator

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GEMMA_MAGICS_OLLAMA_BASE_URL", f"http://127.0.0.1:{port}/v1")
    row = provider_row(ip, capsys, "ollama")
    assert "not running" in row and "ollama serve" in row, row
    assert "GEMMA_MAGICS_OLLAMA_BASE_URL" in row and " ready " not in row

    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "0")
    run(ip, "%%gemma -p ollama --max-tokens 4\nHi")
    out = capsys.readouterr().out
    assert f"cannot reach 127.0.0.1:{port}" in out, out
    assert "start the server (ollama serve" in out and "GEMMA_MAGICS_OLLAMA_BASE_URL" in out

    monkeypatch.setenv("GEMMA_MAGICS_OLLAMA_BASE_URL", "http://gpu-box.example:11434/v1")
    assert "not checked" in provider_row(ip, capsys, "ollama")
    with Emulator() as emu:
        monkeypatch.setenv("GEMMA_MAGICS_OLLAMA_BASE_URL", emu.openai_base_url)
        row = provider_row(ip, capsys, "ollama")
    assert " ready " in row and "listening at 127.0.0.1:" in row, row


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%gemma --temprature 0.5\nhi", "did you mean --temperature?"),
        ("%%gemma -p openia\nhi", "did you mean 'openai'?"),
        ("%%gemma_compare -p local --max-tokns 4\nhi", "did you mean --max-tokens?"),
        ("%%gemma_compare -p local,openia\nhi", "did you mean 'openai'?"),
    ],
)
def test_misspellings_get_a_did_you_mean(ip, capsys, session, cell, expected):
    run(ip, cell)
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err
    assert len(session.log) == 0


def test_every_bad_value_is_reported_at_once(ip, capsys, session):
    run(ip, "%%gemma --temperature 9 --top-k 0 --top-p 3\nhi")
    text = "".join(capsys.readouterr())
    assert "3 settings are wrong" in text
    for part in ("temperature=9.0 is out of range", "top_k=0 is out of range",
                 "top_p=3.0 is out of range"):
        assert part in text
    assert len(session.log) == 0


def test_help_is_plain_text_and_both_magics_point_to_it_alike(ip, capsys, session):
    from gemma_magics.notebook.compare_magics import CompareMagics
    from gemma_magics.notebook.magics import GemmaMagics

    for doc in (GemmaMagics.gemma.__doc__, CompareMagics.gemma_compare.__doc__):
        assert "``" not in doc and "::" not in doc, doc[:200]
    run(ip, "%%gemma --bogus\nhi")
    run(ip, "%%gemma_compare --bogus\nhi")
    text = "".join(capsys.readouterr())
    assert "(see %%gemma? for the flags)" in text
    assert "(see %%gemma_compare? for the flags)" in text


def test_footer_says_why_generation_stopped(ip, capsys, session):
    run(ip, "%%gemma --max-tokens 3 --seed 1\nOnce upon a time")
    (record,) = session.log.records()
    out = capsys.readouterr().out
    assert record.finish_reason == "length" and "cut at max_tokens 3" in out, out


def test_stop_flag_reads_backslash_n_as_a_newline(ip, session):
    """`--stop "\\n"` is the only way to put a newline stop on a magic's line; sent as a
    backslash and an n it never matched, and the answer ran on past the line."""
    run(ip, '%%gemma --stop "\\n" --stop "a\\\\b" --max-tokens 1 --seed 1\nThe sky is')
    run(ip, '%%gemma_compare --stop "\\n" --max-tokens 1 --seed 1 -p local\nThe sky is')
    first, second = session.log.records()
    assert json.loads(first.stop) == ["\n", "a\\b"]  # the record keeps them as JSON
    assert json.loads(second.stop) == ["\n"]
