"""Constants and helpers for the hosted-provider tests (fixtures: conftest_providers.py)."""

from __future__ import annotations

import os

import pytest

from gemma_magics.emulator import Emulator

ACCOUNT = "acct-0123"
#: One recognisable fake key per provider; test_secrets checks none of them leaks.
CANARIES = {
    "CLOUDFLARE_API_TOKEN": "canary-cloudflare-Zq81xT",
    "DATAOORTS_API_KEY": "canary-dataoorts-Wm27pL",
    "AIMLAPI_API_KEY": "canary-aimlapi-Kd93vB",
    "OPENAI_API_KEY": "canary-openai-Hs55rN",
    "OPENROUTER_API_KEY": "canary-openrouter-Px40cJ",
    "GEMINI_API_KEY": "canary-gemini-Ty62gF",
}
#: Path prefix per provider on the emulator, so each gets its own error body style.
PREFIXES = {
    "cloudflare": "",
    "cloudflare-openai": f"/client/v4/accounts/{ACCOUNT}/ai/v1",
    "dataoorts": "/api/v1",
    "aimlapi": "/aimlapi/v1",
    "openai": "/v1",
    "openrouter": "/openrouter/api/v1",
    "google": "/google/v1beta/openai",
    "ollama": "/ollama/v1",
    "llamacpp": "/llamacpp/v1",
    "vllm": "/vllm/v1",
}
ERROR_STYLES = {"/aimlapi/": "aimlapi", "/openrouter/": "openrouter", "/google/": "google"}
_SCRUBBED = ("GEMMA_MAGICS_", "CLOUDFLARE_", "DATAOORTS_", "AIMLAPI_", "OPENAI_", "OPENROUTER_",
             "GEMINI_", "GOOGLE_API_KEY", "OLLAMA_", "LLAMACPP_", "VLLM_")


def point_at(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A clean machine whose providers all live on ``emu``, with canary keys."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED) and name != "GEMMA_MAGICS_LOCAL_MODEL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMMA_MAGICS_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)
    for provider, prefix in PREFIXES.items():
        var = f"GEMMA_MAGICS_{provider.upper().replace('-', '_')}_BASE_URL"
        monkeypatch.setenv(var, emu.base_url + prefix)
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)


def last_body(emu: Emulator) -> dict:
    """The JSON body of the last request the emulator received."""
    return emu.requests[-1].body


def _span(request) -> tuple[float, float | None]:
    if isinstance(request, dict):
        return request["time"], request.get("finished")
    return request.time, request.finished


def peak_overlap(requests) -> int:
    """The most requests the emulator held at once, from its own arrival and finish stamps
    (server side, so independent of how fast the client or the machine is). Accepts
    :class:`RecordedRequest` objects or the dicts ``RemoteEmulator.requests`` returns."""
    edges = []
    for request in requests:
        start, end = _span(request)
        assert end is not None, "a request the emulator never finished"
        edges += [(start, 1), (end, -1)]
    level = peak = 0
    for _, step in sorted(edges):  # an end and a start at the same instant: the end first
        level += step
        peak = max(peak, level)
    return peak
