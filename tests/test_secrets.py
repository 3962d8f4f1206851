"""Canary API keys must appear nowhere: records, the SQLite file, exceptions and their
tracebacks, reprs, logs. The emulator receives them (that is the point of a key) and one
error body even echoes a key back, as OpenAI's 401 does."""

from __future__ import annotations

import logging
import traceback

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.api import prepare
from gemma_magics.config import Config
from gemma_magics.emulator import Fault
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

from emulated import CANARIES  # noqa: E402

HOSTED = ["cloudflare", "cloudflare-openai", "dataoorts", "aimlapi", "openai", "openrouter",
          "google"]
FILE_KEY = "canary-from-config-file-Qv05"


def leaks(text: str) -> list[str]:
    return [key for key in [*CANARIES.values(), FILE_KEY] if key in text]


@pytest.fixture
def logged(hosted, emu, tmp_path, caplog):
    """The hosted session logging to a real SQLite file, every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    hosted.db_path = tmp_path / "history.sqlite"
    return hosted


def outcomes(session, emu):
    """Run every hosted provider through success and failure paths; collect what a user,
    a log or a shared notebook could ever see."""
    seen: list[str] = []
    for provider in HOSTED:
        completion = gm.generate("Hi", provider, session=session)
        seen += [repr(completion), str(completion.record)]
        key = CANARIES[next(v for v in session.config.catalog.provider(provider).api_key_env
                            if v in CANARIES)]
        # a 401 whose body quotes the key back, then a 500 storm, then a cut stream
        for fault, count in ((Fault(status=401, message=f"Incorrect API key provided: {key}"), 1),
                             (Fault(status=500, headers={"Retry-After": "0"}), 3),
                             (Fault(cut_after=1), 1)):
            emu.inject(fault, count=count)
            try:
                gm.generate("Hi", provider, session=session)
            except errors.GemmaError as err:
                seen += [str(err), repr(err), repr(err.__dict__), repr(err.completion),
                         "".join(traceback.format_exception(err))]
        call = prepare("Hi", provider, session=session)
        seen += [repr(call), repr(call.provider), repr(call.provider.__dict__),
                 repr(call.provider.endpoint), repr(call.provider.wire.build(
                     call.request, call.provider.endpoint.base_url,
                     call.provider.endpoint.api_key))]
    return seen


def test_canaries_appear_nowhere(logged, emu, tmp_path, caplog):
    seen = outcomes(logged, emu)
    assert emu.requests, "the emulator was reached"
    records = logged.log.records()
    assert len(records) == len(HOSTED) * 4
    assert {r.status for r in records} == {"ok", "error"}
    echoed = [r.error for r in records if r.error and "Incorrect API key" in r.error]
    assert len(echoed) == len(HOSTED) and all("<redacted>" in e for e in echoed)
    seen += [repr(r) for r in records]
    seen += [repr(logged), repr(logged.config), caplog.text]
    logged.log.close()
    for path in tmp_path.glob("history.sqlite*"):
        seen.append(path.read_bytes().decode("latin-1"))
    where = [text[:300] for text in seen if leaks(text)]
    assert where == []


def test_key_from_config_file_is_named_by_its_file(emu, monkeypatch, tmp_path):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    monkeypatch.delenv("AIMLAPI_API_KEY")
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.aimlapi]\napi_key = "{FILE_KEY}"\nmax_retries = 0\n')
    session = Session(config=Config(), db_path=":memory:")
    emu.inject(Fault(status=401, message=f"Incorrect API key provided: {FILE_KEY}"))
    with pytest.raises(errors.AuthenticationError) as info:
        gm.generate("Hi", "aimlapi", session=session)
    assert str(info.value).endswith(f"(check the API key from {config})")
    endpoint = session.config.endpoint("aimlapi")
    shown = [str(info.value), repr(info.value.completion.record), repr(endpoint),
             repr(endpoint.settings), repr(endpoint.api_key)]
    assert leaks("\n".join(shown)) == []
    assert endpoint.api_key.reveal() == FILE_KEY  # still usable where it is needed


def test_a_secret_cannot_be_pickled(hosted):
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(hosted.config.endpoint("openai").api_key)
