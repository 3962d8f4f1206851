"""Issue 13 item 1: a key with surrounding whitespace (``open("key.txt").read()``) is stripped
where it is read, said once, and never leaks; redaction matches every escaped form; a key
with a character no HTTP header can carry is refused naming where it came from."""

from __future__ import annotations

import json
import logging
import traceback
import urllib.parse

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.config import Config, scrub
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

CORE = "canary-openai-Hs55rN"
#: Every whitespace a key file or a copy-paste can add, at either end.
VARIANTS = [CORE + "\n", CORE + "\r\n", CORE + "\r", CORE + "\t", CORE + " ", " " + CORE,
            "\n" + CORE, "\t" + CORE + "\n", "  " + CORE + "  \n", CORE + "\n\n"]


def escaped_forms(value: str) -> list[str]:
    return [value, repr(value), repr(value.encode()), f"b'Bearer {value}'",
            json.dumps(value), json.dumps({"key": value}), urllib.parse.quote(value, safe=""),
            urllib.parse.quote_plus(value), value.replace("\n", "\\n").replace("\t", "\\t")]


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_scrub_matches_every_escaped_form(variant):
    for form in escaped_forms(variant):
        text = f"header refused: {form} (end)"
        assert CORE not in scrub(text, [variant]), form
        assert CORE not in scrub(text, [CORE]), form


def run_and_collect(session, tmp_path) -> list[str]:
    seen = []
    completion = gm.generate("Hi", "openai", session=session)
    seen += [repr(completion), str(completion.record), completion.text]
    return seen


@pytest.mark.parametrize("where", ["env", "dotenv", "file"])
@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_a_key_with_surrounding_whitespace_works_and_never_leaks(
        variant, where, hosted, emu, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("OPENAI_API_KEY")
    if where == "env":
        monkeypatch.setenv("OPENAI_API_KEY", variant)
    elif where == "dotenv":
        (tmp_path / ".env").write_text(f'OPENAI_API_KEY="{variant}"')
    else:
        (tmp_path / "config.toml").write_text(
            f"[providers.openai]\napi_key = {json.dumps(variant)}\n")
    session = Session(config=Config(), db_path=tmp_path / "history.sqlite")
    seen = []
    try:
        completion = gm.generate("Hi", "openai", session=session)
        seen += [repr(completion), str(completion.record)]
    except errors.GemmaError as err:  # the failure before the fix: the key in the message
        seen += [str(err), "".join(traceback.format_exception(err))]
        completion = None
    session.log.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("history.sqlite*"))
    seen += [r.getMessage() for r in caplog.records]
    leaked = [s for s in seen if CORE in s] + (["sqlite"] if CORE.encode() in stored else [])
    assert not leaked
    assert completion is not None and completion.record.status == "ok"
    stripped = [r.getMessage() for r in caplog.records if "whitespace" in r.getMessage()]
    assert len(stripped) <= 1  # said once (another test may already have said it)


def test_stripping_is_said_once_naming_the_source(hosted, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", CORE + "\n")
    monkeypatch.setattr("gemma_magics.config._warned", set())
    caplog.set_level(logging.WARNING, "gemma_magics")
    for _ in range(3):
        gm.generate("Hi", "openai", session=hosted)
    lines = [r.getMessage() for r in caplog.records if "whitespace" in r.getMessage()]
    assert lines == ["the API key in env OPENAI_API_KEY had surrounding whitespace "
                     "(a newline, say); it was stripped"]


@pytest.mark.parametrize("bad", [CORE[:6] + "é" + CORE[6:], CORE[:6] + "\n" + CORE[6:],
                                 CORE + "\u200b", CORE[:6] + " " + CORE[6:]], ids=repr)
def test_a_key_no_header_can_carry_names_its_variable(bad, hosted, emu, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", bad)
    before = len(emu.requests)
    with pytest.raises(errors.ConfigError) as caught:
        gm.generate("Hi", "openai", session=hosted)
    message = str(caught.value)
    assert "env OPENAI_API_KEY" in message
    assert CORE[6:] not in message and CORE[:6] + "é" not in message
    assert len(emu.requests) == before  # refused before sending
