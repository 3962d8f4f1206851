"""Fixtures for the hosted-provider tests: one emulator per module, every provider pointed at
it through ``GEMMA_MAGICS_<PROVIDER>_BASE_URL``, canary keys, a fresh in-memory session.

Use with ``pytest_plugins = ["conftest_providers"]``; constants live in ``emulated.py``.
"""

from __future__ import annotations

import pytest
from emulated import ERROR_STYLES, point_at

from gemma_magics.config import Config
from gemma_magics.emulator import Emulator
from gemma_magics.session import Session


@pytest.fixture(scope="module")
def emulator():
    with Emulator(error_styles=ERROR_STYLES) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The module's emulator with its settings, faults and request log reset."""
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def hosted(emu, monkeypatch, tmp_path) -> Session:
    """A fresh session (in-memory log) whose providers all point at the emulator."""
    point_at(emu, monkeypatch, tmp_path)
    session = Session(config=Config(), db_path=":memory:")
    yield session
    session.log.close()
