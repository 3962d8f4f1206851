"""Shared fixtures: a fresh in-memory session per test, and a real IPython shell."""

from __future__ import annotations

import pytest

from gemma_magics.config import Config
from gemma_magics.session import Session, set_session


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No provider credentials, no user config, no .env: a clean machine."""
    import os

    for name in list(os.environ):
        if name.startswith("GEMMA_MAGICS_") and name != "GEMMA_MAGICS_LOCAL_MODEL":
            monkeypatch.delenv(name)
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_AUTH_TOKEN",
                 "DATAOORTS_API_KEY", "AIMLAPI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                 "OPENROUTER_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def session(isolated_env):
    """A process-wide session logging to memory, replaced after the test."""
    fresh = set_session(Session(config=Config(), db_path=":memory:"))
    yield fresh
    set_session(Session())


@pytest.fixture
def ip(session):
    """A real IPython InteractiveShell with the extension loaded."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "gemma_magics")
    shell.run_line_magic("reload_ext", "gemma_magics")
    yield shell
    shell.user_ns.pop("out", None)
