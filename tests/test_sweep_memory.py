"""What a sweep keeps once a run is done (B8: 10,000 runs must fit in +100 MiB): the record
in its cell, not the request it was sent with, and the answer as one string."""

from __future__ import annotations

import asyncio

import pytest

from gemma_magics.comparisons.gridstate import GridState
from gemma_magics.comparisons.plan import plan
from gemma_magics.comparisons.run import _cell
from gemma_magics.comparisons.scheduler import Scheduler
from gemma_magics.emulator import Emulator


@pytest.fixture
def emu(session, monkeypatch):
    with Emulator(answer_tokens=8) as server:
        monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield server


def test_a_sent_run_keeps_its_record_and_text_but_not_its_request(session, emu):
    runs = plan(["Name a colour."], "openai", None, {"temperature": [0.1, 0.9]}, 3,
                {"max_tokens": 16}, session)
    records = [run.call.record for run in runs]
    state = GridState([_cell(run) for run in runs], [])
    asyncio.run(Scheduler(runs, state, 4, None, None).main())

    assert [run.call for run in runs] == [None] * 6
    for cell, record in zip(state.cells, records, strict=True):
        assert cell.record is record and record.status == "ok"
        assert record.completion_tokens == 8
        assert len(cell.parts) == 1 and cell.text == record.response  # was 8 pieces
    assert len(session.log) == 6
