"""Chat sessions (--chat, %gemma chat ...): turns kept across cells over real HTTP, system
folding, save/load, replay on another provider, --template, and the local model's template."""

from __future__ import annotations

import json

import pytest

import gemma_magics as gm
from gemma_magics.emulator import Fault
from gemma_magics.providers.base import gemma_template
from gemma_magics.workflows.chat import Chat, chats, replay

pytest_plugins = ["conftest_providers"]

from emulated import last_body, point_at  # noqa: E402


@pytest.fixture
def shell(ip, emu, monkeypatch, tmp_path):
    point_at(emu, monkeypatch, tmp_path)
    chats().clear()
    yield ip
    chats().clear()


def test_turns_are_kept_across_cells(shell, emu):
    emu.set_text("Lisbon in May.")
    shell.run_cell('%%gemma -p cloudflare --chat trip --system "Be brief."\nBest month?')
    assert last_body(emu)["messages"] == [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "Best month?"}]
    emu.set_text("Porto in June.")
    shell.run_cell("%%gemma -p cloudflare --chat trip\nAnd Porto?")
    assert last_body(emu)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Best month?"},
        {"role": "assistant", "content": "Lisbon in May."},
        {"role": "user", "content": "And Porto?"}]
    chat = chats()["trip"]
    assert chat.user_turns == 2 and chat.turns[-1] == {"role": "assistant",
                                                        "content": "Porto in June."}
    extras = [json.loads(r.extra) for r in gm.get_session().log.records()]
    assert [(e["chat"], e["turn"]) for e in extras] == [("trip", 1), ("trip", 2)]


def test_a_single_turn_chat_is_sent_as_messages(shell, emu):
    shell.run_cell("%%gemma -p cloudflare --chat\nHi")
    body = last_body(emu)
    assert "prompt" not in body and body["messages"] == [{"role": "user", "content": "Hi"}]
    assert chats()["default"].user_turns == 1


def test_a_chat_keeps_gemma_4s_system_turn(shell, emu):
    emu.set_text("Bonjour.")
    shell.run_cell('%%gemma -p google --chat fr --system "Answer in French."\nHello')
    shell.run_cell("%%gemma -p google --chat fr\nThanks")
    assert last_body(emu)["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour."},
        {"role": "user", "content": "Thanks"}]


def test_a_failed_turn_is_not_kept(shell, emu):
    shell.run_cell("%%gemma -p openai --chat c\nOne")
    emu.inject(Fault(status=400))
    shell.run_cell("%%gemma -p openai --chat c\nTwo")
    assert chats()["c"].user_turns == 1
    assert gm.get_session().log.records()[-1].status == "error"


def test_show_save_reset_load(shell, emu, tmp_path, capsys):
    emu.set_text("Sure.")
    shell.run_cell('%%gemma -p openai --chat plan --system "Be kind."\nHelp me plan.')
    capsys.readouterr()
    shell.run_cell("%gemma chat show plan")
    out = capsys.readouterr().out
    assert "chat plan · 1 turns" in out and "system: Be kind." in out
    assert "user: Help me plan.\n\nmodel: Sure." in out
    shell.run_cell("%gemma chat save plan")
    saved = json.loads((tmp_path / "plan.chat.json").read_text())
    assert saved["format"] == "gemma_magics.chat/1" and saved["system"] == "Be kind."
    assert saved["turns"] == [{"role": "user", "content": "Help me plan."},
                              {"role": "assistant", "content": "Sure."}]
    shell.run_cell("%gemma chat reset plan")
    assert chats()["plan"].turns == []
    shell.run_cell("%gemma chat load plan")
    assert chats()["plan"].user_turns == 1 and chats()["plan"].system == "Be kind."
    shell.run_cell("%gemma chat load copy plan.chat.json")
    assert chats()["copy"].turns == chats()["plan"].turns
    shell.run_cell("%gemma chat list")
    assert "plan: 1 turns, system 'Be kind.'" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    shell.run_cell("%gemma chat load bad.json")
    err = capsys.readouterr().err
    assert "UsageError: bad.json is not a chat file" in err and "Traceback" not in err
    shell.run_cell("%gemma chat show nosuch")
    assert "no chat named 'nosuch'" in capsys.readouterr().err


def test_replay_against_another_provider(hosted, emu):
    emu.set_text("First answer.")
    chat = Chat("trip", system="Be brief.")
    chat.ask("Best month?", "cloudflare", session=hosted)
    chat.ask("And Porto?", "cloudflare", session=hosted)
    emu.reset()
    emu.set_text("Other answer.")
    new = replay(chat, "openai", session=hosted, seed=3)
    assert new.name == "trip@openai" and chats(hosted)["trip@openai"] is new
    first, second = (r.body for r in emu.requests)
    assert first["messages"] == [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Best month?"}]
    assert second["messages"][2:] == [{"role": "assistant", "content": "Other answer."},
                                      {"role": "user", "content": "And Porto?"}]
    assert second["seed"] == 3 and new.provider == "openai"
    assert [t["content"] for t in new.turns if t["role"] == "user"] == ["Best month?",
                                                                       "And Porto?"]


def test_replay_from_the_magic(shell, emu, capsys):
    shell.run_cell("%%gemma -p cloudflare --chat t\nQ1")
    shell.run_cell("%%gemma -p cloudflare --chat t\nQ2")
    capsys.readouterr()
    shell.run_cell("%gemma chat replay t -p aimlapi --max-tokens 5")
    out = capsys.readouterr().out
    assert "user: Q1" in out and "user: Q2" in out
    assert "replayed 2 turns into chat 't@aimlapi'" in out
    assert emu.requests[-1].path == "/aimlapi/v1/chat/completions"
    assert last_body(emu)["max_tokens"] == 5
    shell.run_cell("%gemma chat replay t")
    assert "needs -p PROVIDER" in capsys.readouterr().err


def test_template_shows_the_exact_prompt_and_sends_nothing(shell, emu, capsys):
    emu.set_text("Lisbon.")
    shell.run_cell('%%gemma -p cloudflare --chat trip --system "Be brief."\nBest city?')
    sent = len(emu.requests)
    records = len(gm.get_session().log)
    capsys.readouterr()
    shell.run_cell("%%gemma --chat trip --template -o prompt\nWhy?")
    expected = ("<bos><start_of_turn>user\nBe brief.\n\nBest city?<end_of_turn>\n"
                "<start_of_turn>model\nLisbon.<end_of_turn>\n"
                "<start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n")
    assert shell.user_ns["prompt"] == expected
    assert expected in capsys.readouterr().out
    shell.run_cell("%%gemma --template --system S\nHi")
    assert "<bos><start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n" in \
        capsys.readouterr().out
    assert len(emu.requests) == sent and len(gm.get_session().log) == records
    assert chats()["trip"].user_turns == 1


@pytest.mark.slow
def test_local_chat_uses_the_gemma_template(session):
    pytest.importorskip("llama_cpp")
    from gemma_magics.providers import local_model
    from gemma_magics.providers.local import load_model

    chat = Chat("local")
    llm = load_model(str(local_model.model_path()))

    def template_tokens(text: str) -> int:  # the template carries <bos> itself
        return len(llm.tokenize(text.encode(), add_bos=True, special=True)) - 1

    expected = template_tokens(chat.template("Hi"))
    first = chat.ask("Hi", "local", max_tokens=4, seed=1)
    assert first.record.prompt_tokens == expected, "the first turn is templated too"
    expected = template_tokens(chat.template("Again"))
    assert chat.template("Again") == gemma_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": first.text},
         {"role": "user", "content": "Again"}], None)
    second = chat.ask("Again", "local", max_tokens=4, seed=1)
    assert second.record.prompt_tokens == expected and chat.user_turns == 2
