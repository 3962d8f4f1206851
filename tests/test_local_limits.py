"""The local model's limits agree: `%gemma models local` shows the context a call can use,
the one the too-long error names (issue 18, item 16)."""

from __future__ import annotations

import re

import pytest

import gemma_magics as gm
from gemma_magics.errors import ValidationError
from gemma_magics.notebook.listing import models


def _local_context(table) -> str:
    column = table.header.index("context")
    return next(row[column] for row in table.rows if row[0] == "local")


def test_listed_context_is_the_window_the_error_names(monkeypatch):
    monkeypatch.delenv("GEMMA_MAGICS_LOCAL_N_CTX", raising=False)
    listed = _local_context(models("local"))
    assert listed == "8192 (of 32768)"  # the window in use, and the trained context beside it
    with pytest.raises(ValidationError) as refused:
        gm.generate("Hi", provider="local", max_tokens=8193, seed=1)
    assert re.search(r"\b8192-token context", str(refused.value))


def test_listed_context_follows_the_variable(monkeypatch):
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_N_CTX", "4096")
    assert _local_context(models("local")) == "4096 (of 32768)"
    monkeypatch.setenv("GEMMA_MAGICS_LOCAL_N_CTX", "65536")  # never more than it was trained for
    assert _local_context(models("local")) == "32768"


def test_panel_bounds_max_tokens_by_the_window_in_use(monkeypatch, session):
    from gemma_magics.notebook.panel import panel

    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-for-tests")
    monkeypatch.delenv("GEMMA_MAGICS_LOCAL_N_CTX", raising=False)
    p = panel()
    assert p.provider.value == "local"
    assert p.controls["max_tokens"].max == 8191  # a 1-token prompt and the rest answer
    p.provider.value = "cloudflare"  # a hosted model keeps its own range
    assert p.controls["max_tokens"].max > 8191
