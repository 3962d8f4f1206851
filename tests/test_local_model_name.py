"""The local provider's records name the GGUF that answered (GEMMA_MAGICS_LOCAL_MODEL), not
the bundled file's catalog id, and claim none of the bundled file's catalog facts for it.

The second GGUF is the bundled file under another name (a hard link, or a copy where /tmp
is another file system): a real file, loaded for real by llama.cpp, once in this process.
"""

from __future__ import annotations

import math
import os
import shutil

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra is not installed")

from gemma_magics.api import generate, prepare  # noqa: E402
from gemma_magics.config import Config  # noqa: E402
from gemma_magics.errors import ValidationError  # noqa: E402
from gemma_magics.providers.local import is_loaded  # noqa: E402
from gemma_magics.providers.local_model import BUNDLED_NAME, model_path  # noqa: E402
from gemma_magics.session import Session  # noqa: E402


@pytest.fixture(scope="module")
def other_gguf(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GEMMA_MAGICS_LOCAL_MODEL", raising=False)
        bundled = model_path()
    target = tmp_path_factory.mktemp("gguf") / "my-gemma-copy.Q4_K_M.gguf"
    try:
        os.link(bundled, target)
    except OSError:
        shutil.copyfile(bundled, target)
    return target


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    s = Session(config=Config(), db_path=":memory:")
    yield s
    s.log.close()


def test_the_bundled_file_keeps_its_catalog_entry(session, monkeypatch):
    monkeypatch.delenv("GEMMA_MAGICS_LOCAL_MODEL", raising=False)
    call = prepare("The sky is", "local", session=session)
    assert call.record.model == BUNDLED_NAME
    assert call.request.model.context == 32768 and call.request.model.price_in == 0
    assert any("pretrained" in n.message for n in call.notices)


def test_a_record_names_the_gguf_that_answered(session, monkeypatch, other_gguf):
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_MODEL", str(other_gguf))
    done = generate("The sky is", provider="local", max_tokens=4, seed=1, session=session)
    assert is_loaded(str(other_gguf))  # the other path was really loaded and answered
    record = done.record
    assert record.status == "ok", record.error
    assert record.model == "my-gemma-copy.Q4_K_M"
    assert session.log.records()[-1].model == "my-gemma-copy.Q4_K_M"
    assert record.cost_usd == 0  # still a local run: nobody bills it
    # the bundled file's facts are not claimed: no "pretrained" hint, no context of its own
    call = prepare("Write a haiku about the sea.", "local", session=session)
    assert call.request.model.context is None and call.request.model.instruction_tuned is None
    assert not any("pretrained" in n.message or "not in the catalog" in n.message
                   for n in call.notices)
    # a default naming the bundled id (the panel's picker, %config) still means this file
    assert prepare("Hi", "local", model=BUNDLED_NAME, session=session).record.model == \
        "my-gemma-copy.Q4_K_M"
    with pytest.raises(ValidationError, match="runs one GGUF, my-gemma-copy.Q4_K_M"):
        prepare("Hi", "local", model="gemma-3-1b", session=session)


def test_a_dry_run_prices_the_other_gguf_at_zero_not_unknown(session, monkeypatch, other_gguf):
    from gemma_magics.comparisons.run import compare

    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_MODEL", str(other_gguf))
    dry = compare("The sky is", "local", max_tokens=4, dry_run=True, budget=0.0, session=session)
    assert list(dry.model) == ["my-gemma-copy.Q4_K_M"]
    assert dry.cost_high_usd.iloc[0] == 0 and not math.isnan(dry.cost_high_usd.iloc[0])


def test_the_listing_shows_the_configured_gguf(session, monkeypatch, other_gguf):
    from gemma_magics.notebook.listing import models_table, providers_table

    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_MODEL", str(other_gguf))
    rows = models_table(session, "local").rows
    assert [r[1] for r in rows] == ["my-gemma-copy.Q4_K_M"]
    assert rows[0][2] == "" and rows[0][3] == rows[0][4] == "0"  # context unknown, $0
    local = [r for r in providers_table(session).rows if r[0] == "local"]
    assert local[0][2] == "my-gemma-copy.Q4_K_M"


def test_a_config_entry_gives_the_gguf_its_own_facts(tmp_path, monkeypatch, other_gguf):
    config = tmp_path / "config.toml"
    config.write_text('[[providers.local.models]]\nid = "my-gemma-copy.Q4_K_M"\n'
                      "context = 4096\nprice_in = 0\nprice_out = 0\n"
                      'capabilities = ["stream", "json", "system"]\n'
                      "instruction_tuned = false\n")
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(config))
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_MODEL", str(other_gguf))
    s = Session(config=Config(), db_path=":memory:")
    try:
        call = prepare("The sky is", "local", session=s)
        assert call.record.model == "my-gemma-copy.Q4_K_M"
        assert call.request.model.context == 4096
        assert any("pretrained" in n.message for n in call.notices)  # as its entry says
    finally:
        s.log.close()
