"""Canary keys for every provider, and a notebook that does everything a user can do with
them (every magic, panel actions, error paths, ``%gemma providers``), executed by nbclient
in a real kernel. Afterwards no canary may appear anywhere: the saved notebook (outputs,
tracebacks, widget state), the records, the SQLite file's bytes (and its -wal), the logs
(every logger at DEBUG, httpx and httpcore included). Keys come from the environment, a
``.env`` file and the config file; the messages name the variable or the file, never the key.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import textwrap
import traceback

import nbformat
import pytest
from emulated import ACCOUNT, ERROR_STYLES, PREFIXES

from gemma_magics import errors
from gemma_magics.config import Config, Secret
from gemma_magics.emulator import Emulator
from gemma_magics.session import Session

pytest.importorskip("nbclient")
from nbclient import NotebookClient  # noqa: E402

pytestmark = pytest.mark.slow

ENV_CANARIES = {
    "CLOUDFLARE_API_TOKEN": "canary-env-cloudflare-Zq81xT",
    "DATAOORTS_API_KEY": "canary-env-dataoorts-Wm27pL",
    "AIMLAPI_API_KEY": "canary-env-aimlapi-Kd93vB",
    "OPENAI_API_KEY": "canary-env-openai-Hs55rN",
    "OPENROUTER_API_KEY": "canary-env-openrouter-Px40cJ",
    "OLLAMA_API_KEY": "canary-env-ollama-Rb17wQ",
    "LLAMACPP_API_KEY": "canary-env-llamacpp-Ue48mD",
}
DOTENV_CANARIES = {"GEMINI_API_KEY": "canary-dotenv-gemini-Ty62gF"}
FILE_CANARIES = {"vllm": "canary-file-vllm-Qv05", "myvllm": "canary-file-myvllm-Lk29"}
ALL = [*ENV_CANARIES.values(), *DOTENV_CANARIES.values(), *FILE_CANARIES.values()]
HOSTED = ["cloudflare", "cloudflare-openai", "dataoorts", "aimlapi", "openai", "openrouter",
          "google", "ollama", "llamacpp", "vllm", "myvllm"]
PREFIXES = {**PREFIXES, "myvllm": "/myvllm/v1"}
KEY_OF = {"cloudflare": "CLOUDFLARE_API_TOKEN", "cloudflare-openai": "CLOUDFLARE_API_TOKEN",
          "dataoorts": "DATAOORTS_API_KEY", "aimlapi": "AIMLAPI_API_KEY",
          "openai": "OPENAI_API_KEY", "openrouter": "OPENROUTER_API_KEY",
          "google": "GEMINI_API_KEY", "ollama": "OLLAMA_API_KEY",
          "llamacpp": "LLAMACPP_API_KEY"}


def leaks(text: str) -> list[str]:
    return [key for key in ALL if key in text]


def key_for(provider: str) -> str:
    if provider in FILE_CANARIES:
        return FILE_CANARIES[provider]
    name = KEY_OF[provider]
    return {**ENV_CANARIES, **DOTENV_CANARIES}[name]


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A clean machine with canary keys in the environment, a .env and the config file,
    every provider on one emulator, and logs going to a file."""
    for name in list(os.environ):
        if name.startswith(("GEMMA_MAGICS_", "CLOUDFLARE_", "DATAOORTS_", "AIMLAPI_",
                            "OPENAI_", "OPENROUTER_", "GEMINI_", "GOOGLE_", "OLLAMA_",
                            "LLAMACPP_", "VLLM_")) and name != "GEMMA_MAGICS_LOCAL_MODEL":
            monkeypatch.delenv(name)
    with Emulator(error_styles=ERROR_STYLES) as emu:
        for provider, prefix in PREFIXES.items():
            var = f"GEMMA_MAGICS_{provider.upper().replace('-', '_')}_BASE_URL"
            monkeypatch.setenv(var, emu.base_url + prefix)
        for name, value in ENV_CANARIES.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        (tmp_path / ".env").write_text(
            "".join(f"{k}={v}\n" for k, v in DOTENV_CANARIES.items()))
        config = tmp_path / "config.toml"
        config.write_text(textwrap.dedent(f"""
            [settings]
            max_retries = 1

            [providers.vllm]
            api_key = "{FILE_CANARIES['vllm']}"

            [providers.myvllm]
            kind = "openai"
            base_url = "http://unused.invalid/v1"
            default_model = "google/gemma-3-4b-it"
            api_key = "{FILE_CANARIES['myvllm']}"
        """))
        monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(config))
        monkeypatch.setenv("GEMMA_MAGICS_DB", str(tmp_path / "history.sqlite"))
        monkeypatch.setenv("CANARY_LOG", str(tmp_path / "debug.log"))
        monkeypatch.setenv("EMULATOR_URL", emu.base_url)
        monkeypatch.chdir(tmp_path)
        yield tmp_path, emu


SETUP = """
import logging, os
logging.basicConfig(filename=os.environ["CANARY_LOG"], level=logging.DEBUG, force=True,
                    format="%(name)s %(levelname)s %(message)s")
for name in ("httpx", "httpcore", "gemma_magics", "asyncio", "urllib3", "traitlets"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from gemma_magics.emulator import RemoteEmulator
emu = RemoteEmulator(os.environ["EMULATOR_URL"])
import gemma_magics.providers.retries
gemma_magics.providers.retries.BACKOFF_START_S = gemma_magics.providers.retries.BACKOFF_JITTER_S = 0.05
FAULTS = [({"status": 500}, 3), ({"cut_after": 1}, 1),
          ({"error_frame_after": 1, "message": "upstream died"}, 1),
          ({"body": "<html><title>Bad gateway</title></html>", "status": 502,
            "content_type": "text/html"}, 3)]
%load_ext gemma_magics
%xmode Verbose
"""


def cells() -> list[tuple[str, bool | str]]:
    """(code, raises) for every cell: False, True (an exception) or "usage" (a one-line
    UsageError, which IPython prints rather than raises)."""
    out: list[tuple[str, bool | str]] = [
        (SETUP, False),
        ("%gemma providers", False),
        ("%gemma models", False),
        ("%gemma config", False),
    ]
    for provider in HOSTED:
        out.append((f"%%gemma -p {provider} --max-tokens 8 -o ok_{provider.replace('-', '_')}\n"
                    "Say hello.", False))
        out.append((f"ok_{provider.replace('-', '_')}", False))
    for provider in HOSTED:
        var = provider.replace("-", "_")
        key_expr = (f"os.environ[{KEY_OF[provider]!r}]" if provider in KEY_OF
                    and KEY_OF[provider] in ENV_CANARIES
                    else "get_session().config.endpoint(" + repr(provider) + ").api_key.reveal()")
        # a 401 whose body quotes the refused key back (as OpenAI's does), a 500 storm, a
        # stream cut mid-answer, an error frame, an HTML error page: each through %%gemma
        out.append((textwrap.dedent(f"""
            from gemma_magics.session import get_session
            run = get_ipython().run_cell_magic
            emu.inject({{"status": 401, "message": "Incorrect API key provided: " + {key_expr}}})
            run("gemma", "-p {provider} --max-tokens 8 -o bad_{var}", "Say hello.")
            print(repr(bad_{var}), bad_{var}.record, bad_{var}.error)
            key = {key_expr}  # the key quoted in a retried 429, an error frame, a 200 body
            for fault, count in [({{"status": 429, "message": "slow down, " + key,
                                   "headers": {{"Retry-After": "0"}}}}, 2),
                                 ({{"error_frame_after": 1, "message": "bad key " + key}}, 1),
                                 ({{"success_false": True, "code": 3040,
                                   "message": "busy for " + key}}, 2)]:
                emu.inject(fault, count=count)
                run("gemma", "-p {provider} --max-tokens 8", "Say hello.")
            for fault, count in FAULTS:
                emu.inject(fault, count=count)
                run("gemma", "-p {provider} --max-tokens 8", "Say hello.")
            """), False))
    out += [
        # raised errors, with verbose tracebacks (every frame's locals)
        ("%config GemmaMagics.raise_errors = True", False),
        ('emu.inject({"status": 401, "message": "Incorrect API key provided: "'
         ' + os.environ["OPENAI_API_KEY"]})', False),
        ("%%gemma -p openai --max-tokens 8\nSay hello.", True),
        ('emu.inject({"status": 403, "message": "key " + get_session().config.endpoint('
         '"myvllm").api_key.reveal() + " is not allowed"})', False),
        ("import gemma_magics\ngemma_magics.generate('Hi', 'myvllm')", True),
        ("%config GemmaMagics.raise_errors = False", False),
        # missing credentials, unknown provider, bad settings
        ("_saved = os.environ.pop('OPENAI_API_KEY')", False),
        ("%%gemma -p openai\nSay hello.", "usage"),
        ("os.environ['OPENAI_API_KEY'] = _saved", False),
        ("%%gemma -p nosuchprovider\nSay hello.", "usage"),
        ("%%gemma -p openai --temperature 9\nSay hello.", "usage"),
        # comparisons, with a fault in the middle
        ('emu.inject({"status": 401, "message": "Incorrect API key provided: "'
         ' + os.environ["DATAOORTS_API_KEY"]})', False),
        ("%%gemma_compare -p cloudflare,dataoorts,openai,google,myvllm --max-tokens 8 "
         "--temperature 0.2,0.9 -o cmp\nSay hello.", False),
        ("cmp[['provider', 'status', 'error']]", False),
        # the panel: run, compare, switch, reset, an error
        (textwrap.dedent("""
            p = gemma_magics.panel()
            p.provider.value = "openai"
            p.prompt.value = "Say hello."
            p.run()
            emu.inject({"status": 401, "message": "Incorrect API key provided: "
                        + os.environ["OPENAI_API_KEY"]})
            p.run()
            print(p.stats.value)
            p.compare_with.value = ("openai", "aimlapi", "google")
            p.compare()
            p.provider.value = "myvllm"
            p.controls["temperature"].value = 0.3
            p.reset_button.click()
            p
            """), False),
        ("%gemma panel", False),
        # what a curious user might print
        (textwrap.dedent("""
            from gemma_magics.session import get_session
            s = get_session()
            print(repr(s), repr(s.config))
            for name in """ + repr(HOSTED) + """:
                e = s.config.endpoint(name)
                print(repr(e), repr(e.api_key), str(e.api_key), e.settings, e.provider)
            print(s.config.provider_settings("vllm"), s.config.credentials_found(
                s.config.catalog.provider("myvllm")))
            """), False),
        ("%gemma history 200", False),
        ("print(gemma_magics.history().to_csv())", False),
        ("gemma_magics.history()", False),
    ]
    return out


def test_canaries_appear_nowhere(machine):
    tmp_path, emu = machine
    nb = nbformat.v4.new_notebook()
    for code, raises in cells():
        cell = nbformat.v4.new_code_cell(code)
        if raises:
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    saved = tmp_path / "canaries.ipynb"
    nbformat.write(nb, saved)

    # the notebook really exercised what it claims
    for cell, (_, raises) in zip(nb.cells, cells(), strict=True):
        kinds = [o["output_type"] for o in cell.outputs]
        stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        assert ("error" in kinds) == (raises is True), (cell.source, kinds)
        assert ("UsageError: " in stderr) == (raises == "usage"), (cell.source, stderr)
    text = saved.read_text()
    assert text.count("Incorrect API key provided: <redacted>") >= len(HOSTED)
    assert "check the API key from env OPENAI_API_KEY" in text
    assert f"check the API key from {tmp_path / '.env'} (GEMINI_API_KEY)" in text
    assert f"check the API key from {tmp_path / 'config.toml'}" in text  # the file, not key
    assert "openai needs an API key (set OPENAI_API_KEY)" in text
    assert "Secret(<hidden>" in text and "ready" in text
    chat = [r for r in emu.requests if "_emulator" not in r.path]
    assert len(chat) > 100

    where: list[str] = []
    db = tmp_path / "history.sqlite"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM calls").fetchall()
        assert len(rows) >= len(HOSTED) * 9 + 10  # every call of the notebook
        where += [f"record {row[0]}" for row in rows if leaks(repr(row))]
    for path in sorted(tmp_path.iterdir()):
        if path.name in (".env", "config.toml"):
            continue  # where the user keeps them
        if path.is_file():
            content = path.read_bytes().decode("latin-1")
            where += [f"{path.name}: {k}" for k in leaks(content)]
    log = (tmp_path / "debug.log").read_text()
    assert "httpx" in log and "httpcore" in log and "POST" in log  # it did log, at DEBUG
    assert (tmp_path / "history.sqlite-wal").exists() or db.stat().st_size > 0
    assert where == [], where
    print(f"\n{len(ALL)} canary keys, {len(nb.cells)} notebook cells, {len(chat)} requests, "
          f"{len(rows)} records, {len(log.splitlines())} DEBUG log lines: keys leaked: 0")


def test_reprs_errors_and_logs_in_process(machine, caplog):
    """The same objects in this process: reprs of Config, Endpoint, Session and Secret,
    every error's message, repr, attributes and traceback, at DEBUG logging."""
    import gemma_magics as gm

    tmp_path, emu = machine
    caplog.set_level(logging.DEBUG)
    session = Session(config=Config(), db_path=tmp_path / "inproc.sqlite")
    seen = [repr(session), repr(session.config), repr(Secret("x", "y"))]
    for provider in HOSTED:
        endpoint = session.config.endpoint(provider)
        seen += [repr(endpoint), str(endpoint.api_key), repr(endpoint.api_key),
                 repr(endpoint.settings), repr(endpoint.provider)]
        emu.inject({"status": 401, "message": f"Incorrect API key provided: {key_for(provider)}"})
        try:
            gm.generate("Hi", provider, session=session)
        except errors.GemmaError as err:
            seen += [str(err), repr(err), repr(vars(err)), repr(err.completion),
                     "".join(traceback.format_exception(err))]
        assert endpoint.api_key.reveal() == key_for(provider)  # and still usable
    session.log.close()
    seen.append(caplog.text)
    for path in tmp_path.glob("inproc.sqlite*"):
        seen.append(path.read_bytes().decode("latin-1"))
    assert [s[:200] for s in seen if leaks(s)] == []
    assert json.dumps(seen).count("<redacted>") >= len(HOSTED)
