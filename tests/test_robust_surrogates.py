"""Issue 13 item 3: lone UTF-16 surrogates (an emoji's surrogate pair split across two
frames, or a prompt built by slicing a UTF-16 string) never raise UnicodeEncodeError: the
split pair is joined back, a lone one becomes U+FFFD, and the call is recorded."""

from __future__ import annotations

import pytest
from hostile import DONE, SSE_HEADERS, HostileServer, sse

import gemma_magics as gm
from gemma_magics.config import Config
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]


def split_emoji(_body):
    # json.dumps writes "\ud83d" and "\ude00" as escapes: each frame alone decodes to a
    # lone surrogate
    frames = [sse("smile "), sse("\ud83d"), sse("\ude00"), sse(" lone \ud800 end"),
              sse(finish="stop"), DONE]
    return 200, SSE_HEADERS, iter(frames)


@pytest.fixture
def filed(hosted, monkeypatch, tmp_path):
    with HostileServer(split_emoji) as server:
        monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL", server.base_url)
        session = Session(config=Config(), db_path=tmp_path / "history.sqlite")
        yield session
        session.log.close()


def test_an_emoji_split_across_frames_is_joined_and_recorded(filed):
    completion = gm.generate("Hi", "openai", session=filed)
    assert completion.text == "smile \U0001F600 lone \ufffd end"
    stored = filed.log.records()[-1]
    assert stored.status == "ok" and stored.response == completion.text


def test_a_prompt_with_a_lone_surrogate_is_sent_and_recorded(filed):
    completion = gm.generate("half an emoji: \ud83d", "openai", session=filed,
                             system="sys \udc00", stop=["\ud800"])
    assert completion.record.status == "ok"
    stored = filed.log.records()[-1]
    assert stored.prompt == "half an emoji: \ufffd"
    assert stored.system == "sys \ufffd"
