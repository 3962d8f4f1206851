"""Issue 13 items 9-11: a misbehaving user object is named in one line (no traceback wall);
what no provider would take is refused before sending; no credential shows in httpx's log
or in ``vars(session.config)``."""

from __future__ import annotations

import logging

import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.api import prepare
from gemma_magics.config import Config
from gemma_magics.features import images as images_mod
from gemma_magics.notebook.interpolate import interpolate
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]


class Hostile:
    def __str__(self):
        raise RuntimeError("no text for you\nsecond line")

    def __getattr__(self, name):
        raise RuntimeError(f"hostile attribute {name}")

    def __call__(self, x: int) -> int:
        return x


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    assert error.__cause__ is None and error.__suppress_context__  # no chained wall
    return message


def test_a_variable_whose_str_raises_is_named():
    with pytest.raises(errors.ValidationError) as caught:
        interpolate("Summarise {doc} please", {"doc": Hostile()})
    message = one_line(caught.value)
    assert "{doc}" in message and "Hostile" in message and "no text for you" in message


def test_a_hostile_tool_object_is_named(hosted):
    with pytest.raises(errors.ValidationError) as caught:
        prepare("Hi", "openai", session=hosted, tools=[Hostile()])
    message = one_line(caught.value)
    assert "tool 1 (a Hostile)" in message


def test_a_hostile_image_object_is_named(hosted):
    with pytest.raises(errors.ValidationError) as caught:
        prepare("Hi", "openai", session=hosted, images=[Hostile()])
    assert "image 1 (a Hostile)" in one_line(caught.value)


def test_a_lambda_tool_is_refused_before_sending(hosted, emu):
    with pytest.raises(errors.ValidationError, match="'<lambda>' is not allowed"):
        gm.generate("Hi", "openai", session=hosted, tools=[lambda x: x])
    assert emu.requests == []


def test_300_stop_strings_are_refused_before_sending(hosted, emu):
    with pytest.raises(errors.ValidationError, match="300 stop sequences"):
        gm.generate("Hi", "openai", session=hosted, stop=[f"s{i}" for i in range(300)])
    assert emu.requests == []


def test_a_prompt_no_context_can_hold_is_refused_before_sending(hosted, emu):
    with pytest.raises(errors.ValidationError, match="MB, more than"):
        gm.generate("x" * (50 << 20), "openai", session=hosted)
    assert emu.requests == []


def test_a_big_image_is_not_read_for_a_model_that_refuses_images(session, tmp_path,
                                                                   monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * 1024)
    read = []
    monkeypatch.setattr(images_mod, "to_data_url", lambda image: read.append(image))
    with pytest.raises(errors.CapabilityError):
        prepare("Hi", "local", session=session, images=[big])
    assert read == []


def test_an_image_file_over_the_cap_is_refused_before_reading(hosted, tmp_path, monkeypatch):
    monkeypatch.setattr(images_mod, "MAX_IMAGE_BYTES", 1024)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * 4096)
    with pytest.raises(errors.ValidationError, match="more than the"):
        images_mod.to_data_url(big)


def test_httpx_info_log_shows_no_password_nor_account_id(hosted, emu, monkeypatch, caplog):
    from emulated import ACCOUNT

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GEMMA_MAGICS_OPENAI_BASE_URL",
                       emu.base_url.replace("://", "://user:hunter2-pass@") + "/v1")
    session = Session(config=Config(), db_path=":memory:")
    with pytest.raises(errors.AuthenticationError):  # httpx sends the URL's user as Basic auth
        gm.generate("Hi", "openai", session=session)
    gm.generate("Hi", "cloudflare", session=session)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    assert any("HTTP Request" in line for line in lines)  # the log is still there
    assert not [line for line in lines if "hunter2-pass" in line or ACCOUNT in line]


def test_vars_of_the_config_shows_no_key(hosted, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("AIMLAPI_API_KEY")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=canary-dotenv-Ab12cd\n")
    (tmp_path / "config.toml").write_text('[providers.aimlapi]\napi_key = "canary-file-Xy34z"\n')
    config = Config()
    shown = repr(vars(config)) + str(vars(config))
    assert "canary-dotenv-Ab12cd" not in shown and "canary-file-Xy34z" not in shown
    info = config.catalog.provider
    assert config.api_key(info("openai")).reveal() == "canary-dotenv-Ab12cd"
    assert config.api_key(info("aimlapi")).reveal() == "canary-file-Xy34z"


def test_the_magic_names_a_variable_whose_str_raises_in_one_line(ip):
    from IPython.core.error import UsageError

    ip.user_ns["doc"] = Hostile()
    with pytest.raises(UsageError, match=r"\{doc\}: str\(\) of its Hostile object raised"):
        ip.run_cell_magic("gemma", "", "Summarise {doc}")
