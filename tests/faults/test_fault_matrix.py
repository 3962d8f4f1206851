"""The fault matrix: every wire format × every fault, through the real ``%%gemma`` magic in a
real IPython shell, over real HTTP to the emulator (or to a refusing, unresolvable or
unaccepting address).

For each combination it checks what the user sees (one line with the provider's own message
and code, and the fix), the retries and their timing, the partial text kept, and that
exactly one record was written with ``status`` and ``error`` filled. Each test adds a row
to the table printed at the end of the run (see ``conftest.py``).

Retries are bounded for speed: ``GEMMA_MAGICS_MAX_RETRIES=1`` and a backoff scaled down to
0.05 s + up to 0.05 s of jitter (the real 0.5 s policy is timed in ``test_retries.py``);
``Retry-After`` headers are real (1 s, and an HTTP date 1 s ahead).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from emulated import ERROR_STYLES, PREFIXES, point_at
from fault_rows import ROWS, Row

import gemma_magics as gm
from gemma_magics.api import CallStream
from gemma_magics.config import Config
from gemma_magics.emulator import Emulator, Fault, retry_after_date
from gemma_magics.events import Done, Retrying
from gemma_magics.providers import retries
from gemma_magics.session import Session, set_session

TEXT = "one two three four five six seven eight nine ten eleven twelve"
BACKOFF = (0.05, 0.05)  # start, jitter (scaled down from 0.5, 0.5)
READ_TIMEOUT = 0.3
CONNECT_TIMEOUT = 0.2


@dataclass(frozen=True)
class Format:
    provider: str
    streams: bool
    style: str  # error body style: cloudflare | openai | openrouter | aimlapi | google
    key_env: str


FORMATS: dict[str, Format] = {
    "workers-ai native": Format("cloudflare", True, "cloudflare", "CLOUDFLARE_API_TOKEN"),
    "workers-ai /ai/v1": Format("cloudflare-openai", True, "cloudflare", "CLOUDFLARE_API_TOKEN"),
    "dataoorts": Format("dataoorts", False, "cloudflare", "DATAOORTS_API_KEY"),
    "openai": Format("openai", True, "openai", "OPENAI_API_KEY"),
    "openrouter": Format("openrouter", True, "openrouter", "OPENROUTER_API_KEY"),
    "aimlapi": Format("aimlapi", True, "aimlapi", "AIMLAPI_API_KEY"),
    "google": Format("google", True, "google", "GEMINI_API_KEY"),
}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}
CF_CODES = {400: 5006, 401: 10000, 403: 5016, 404: 7003, 408: 3007, 413: 3006, 429: 3040,
            500: 3043, 502: 3043, 503: 3043}
CLASSES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
           404: "NotFoundError", 408: "RequestTimeoutError", 413: "PayloadTooLargeError",
           429: "RateLimitError", 500: "InternalServerError", 502: "InternalServerError",
           503: "InternalServerError"}
FIXES = {400: "check the prompt and settings", 403: "no access to this model",
         404: "check the model id", 408: "retry, or lower max_tokens",
         413: "shorten the prompt", 429: "slow down or retry later",
         500: "retry later", 502: "retry later", 503: "retry later"}
CF_FIXES = {403: "accept the model's licence", 404: "check CLOUDFLARE_ACCOUNT_ID",
            429: "retry in a moment"}
HTML_PAGE = ("<!DOCTYPE html><html><head><title>gateway.example | 502: Bad gateway</title>"
             "</head><body><h1>Bad gateway</h1></body></html>")


@dataclass
class Expect:
    """What a fault must produce. ``cls`` None: the call must succeed anyway."""

    cls: str | None
    retried: bool = False
    needles: list[str] = field(default_factory=list)
    partial: str = "none"  # none | some (a non-empty proper prefix) | all
    wait: tuple[float, float] | None = None  # range of each retry wait, seconds


@dataclass
class Case:
    fault: Fault | None = None
    url: str | None = None  # fixture name giving a base URL instead of the emulator
    env: dict[str, str] = field(default_factory=dict)
    expect: Expect | None = None
    skip: str | None = None


def status_case(fmt: Format, status: int, *, code: Any = None, headers: dict | None = None,
                wait: tuple[float, float] | None = None) -> Case:
    message = f"emulated {status} from {fmt.provider}"
    needles = [message, f"HTTP {status}"]
    if fmt.style == "cloudflare":
        code = CF_CODES[status] if code is None else code
        needles.append(f"code {code}")
    elif fmt.style == "openai":
        code = code or f"emulated_{status}"
        needles.append(f"code {code}")
    elif fmt.style == "google":
        needles.append(f"code {GOOGLE_STATUS.get(status, 'UNKNOWN')}")
    cls = CLASSES[status]
    fix = FIXES.get(status)
    if fmt.style == "cloudflare" and fmt.provider != "dataoorts":
        fix = CF_FIXES.get(status, fix)
    if status == 401:
        fix = f"check the API key from env {fmt.key_env}"
    needles.append(fix)
    retried = status in (408, 429) or status >= 500
    if retried and wait is None:
        wait = (BACKOFF[0], sum(BACKOFF) + 0.01)
    fault = Fault(status=status, code=code, message=message, headers=headers or {})
    return Case(fault, expect=Expect(cls, retried, needles, wait=wait if retried else None))


def cases_for(name: str) -> dict[str, Case]:
    fmt = FORMATS[name]
    cf = fmt.style == "cloudflare"
    streamed = fmt.streams
    cases: dict[str, Case] = {}
    for status in (400, 401, 403, 404, 408, 413, 429):
        cases[str(status)] = status_case(fmt, status)
    cases["429 Retry-After: 1"] = status_case(fmt, 429, headers={"Retry-After": "1"},
                                              wait=(0.99, 1.01))
    cases["429 Retry-After: HTTP date"] = status_case(
        fmt, 429, headers={"Retry-After": "<date>"}, wait=(0.0, 1.01))
    if cf:
        cases["429 code 3040 (capacity)"] = status_case(fmt, 429, code=3040)
        quota = Fault(status=429, code=3036, message="You have used up your daily free "
                      "allocation of 10,000 neurons.")
        fix = ("wait until 00:00 UTC" if fmt.provider != "dataoorts"
               else "retrying today will not help")
        cases["429 code 3036 (daily quota)"] = Case(quota, expect=Expect(
            "QuotaExceededError", False, ["daily free allocation", "code 3036", fix]))
    else:
        na = "Cloudflare error codes: not this format"
        cases["429 code 3040 (capacity)"] = Case(skip=na)
        cases["429 code 3036 (daily quota)"] = Case(skip=na)
    for status in (500, 502, 503):
        cases[str(status)] = status_case(fmt, status)
    connection = ["check the base URL and your network"]
    backoff = (BACKOFF[0], sum(BACKOFF) + 0.01)
    cases["connection refused"] = Case(url="refused_url", expect=Expect(
        "APIConnectionError", True, ["cannot reach 127.0.0.1:", "refused", *connection],
        wait=backoff))
    cases["DNS failure"] = Case(url="dns_url", expect=Expect(
        "APIConnectionError", True, ["cannot reach nonexistent.invalid", *connection],
        wait=backoff))
    cases["connect timeout"] = Case(
        url="unaccepting_url", env={"GEMMA_MAGICS_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)},
        expect=Expect("APITimeoutError", True,
                      [f"connect timeout of {CONNECT_TIMEOUT:g} s", "raise the timeout"],
                      wait=backoff))
    timeout_env = {"GEMMA_MAGICS_READ_TIMEOUT": str(READ_TIMEOUT)}
    if streamed:
        cases["read timeout mid-stream"] = Case(
            Fault(token_delay=1.5), env=timeout_env, expect=Expect(
                "StreamError", False, [f"no data for {READ_TIMEOUT:g} s",
                                       "the partial answer was kept"], partial="some"))
        cases["stream cut after 3 frames"] = Case(Fault(cut_after=3), expect=Expect(
            "StreamError", False, ["broke mid-answer", "the partial answer was kept"],
            partial="some"))
        cases["malformed JSON frame"] = Case(Fault(malformed_after=3), expect=Expect(
            "StreamError", False, ["unreadable stream frame", "malformed"], partial="some"))
        frame_code = 3043 if cf else "emulated_frame"
        cases["mid-stream error frame"] = Case(
            Fault(error_frame_after=3, code=frame_code,
                  message=f"emulated mid-stream error from {fmt.provider}"),
            expect=Expect("StreamError", False, [
                f"emulated mid-stream error from {fmt.provider}",
                *([f"code {frame_code}"] if fmt.style in ("cloudflare", "openai") else []),
                "the partial answer was kept"], partial="some"))
    else:  # Dataoorts answers whole: the same faults hit the one JSON body
        cases["read timeout mid-stream"] = Case(
            Fault(token_delay=1.5), env=timeout_env, expect=Expect(
                "APITimeoutError", True, [f"read timeout of {READ_TIMEOUT:g} s"],
                wait=backoff))
        cases["stream cut after 3 frames"] = Case(Fault(cut_after=3), expect=Expect(
            "APIConnectionError", True, ["broke before any answer"], wait=backoff))
        cases["malformed JSON frame"] = Case(Fault(malformed_after=3), expect=Expect(
            "StreamError", False, ["unreadable answer", "malformed"]))
        cases["mid-stream error frame"] = Case(skip="answers whole: no stream to break")
    message = f"emulated success false from {fmt.provider}"
    if cf:
        cases["HTTP 200 success:false"] = Case(
            Fault(success_false=True, code=3040, message=message),
            expect=Expect("RateLimitError", True, [message, "HTTP 200", "code 3040"],
                          wait=backoff))
    else:
        cases["HTTP 200 success:false"] = Case(
            Fault(success_false=True, message=message),
            expect=Expect("APIError", False, [message, "HTTP 200", "provider reported an error"]))
    cases["empty body"] = Case(Fault(empty_body=True), expect=Expect(
        "APIConnectionError", True, ["empty answer"], wait=backoff))
    cases["HTML error page (502)"] = Case(
        Fault(status=502, body=HTML_PAGE, content_type="text/html; charset=UTF-8"),
        expect=Expect("InternalServerError", True,
                      ["HTTP 502", "gateway.example | 502: Bad gateway", "retry later"],
                      wait=backoff))
    # an answer under the wrong Content-Type is still an answer: read it by its shape
    cases["wrong content type"] = Case(
        Fault(content_type="text/plain; charset=utf-8"), expect=Expect(None, partial="all"))
    return cases


MATRIX = [(fmt, fault) for fmt in FORMATS for fault in cases_for(fmt)]


@pytest.fixture(scope="module")
def matrix_emulator():
    with Emulator(error_styles=ERROR_STYLES) as emu:
        yield emu


@pytest.fixture
def dns_url():
    return "http://nonexistent.invalid"


@pytest.fixture
def shell(ip, matrix_emulator, monkeypatch, tmp_path):
    """The IPython shell with every provider pointed at the emulator, canary keys set,
    one retry, a fast backoff and a fresh in-memory log."""
    matrix_emulator.reset()
    matrix_emulator.set_text(TEXT)
    point_at(matrix_emulator, monkeypatch, tmp_path)
    monkeypatch.setenv("GEMMA_MAGICS_MAX_RETRIES", "1")
    monkeypatch.setattr(retries, "BACKOFF_START_S", BACKOFF[0])
    monkeypatch.setattr(retries, "BACKOFF_JITTER_S", BACKOFF[1])
    yield ip
    matrix_emulator.reset()


def arrange(fmt_name: str, fault_name: str, emu: Emulator, monkeypatch, request) -> Case:
    """Point the format's provider at the fault (and skip a combination that has none)."""
    fmt = FORMATS[fmt_name]
    case = cases_for(fmt_name)[fault_name]
    if case.skip:
        pytest.skip(case.skip)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.url:
        base = request.getfixturevalue(case.url)
        var = f"GEMMA_MAGICS_{fmt.provider.upper().replace('-', '_')}_BASE_URL"
        monkeypatch.setenv(var, base + PREFIXES[fmt.provider])
    if case.fault is not None:
        fault = case.fault
        if fault.headers.get("Retry-After") == "<date>":
            fault = Fault(status=fault.status, code=fault.code, message=fault.message,
                          headers={"Retry-After": retry_after_date(1)})
        emu.inject(fault, count=10)  # more than the retries: the fault persists
    return case


def verify(fmt: Format, fault_name: str, case: Case, completion: Any, records: list,
           retrying: list[Retrying], elapsed: float, shown: str | None, emu: Emulator) -> None:
    """Everything the matrix promises about one fault."""
    expect = case.expect
    waits = [e.wait_s for e in retrying]
    text = completion.text
    # exactly one record, matching what the user saw
    assert len(records) == 1, [r.status for r in records]
    record = records[0]
    assert record.response == text
    assert record.retries == len(waits)
    error_lines = [] if shown is None else [
        line for line in shown.splitlines() if line.startswith("Error: ")]
    if expect.cls is None:
        assert completion.error is None, completion.error
        assert record.status == "ok" and record.error is None
        assert error_lines == []
    else:
        error = completion.error
        message = str(error)
        assert type(error).__name__ == expect.cls, repr(error)
        if shown is not None:
            assert error_lines == [f"Error: {message}"], shown  # shown once, as one line
        assert "\n" not in message
        assert message.startswith(f"{fmt.provider}") and message.endswith(")")  # the fix
        for needle in expect.needles:
            assert needle in message, (needle, message)
        assert record.status == "error"
        assert record.error == message
        assert record.error_type == expect.cls
    # the partial text: kept, shown, and a clean prefix of the answer
    if expect.partial == "none":
        assert text == ""
    elif expect.partial == "some":
        assert text and TEXT.startswith(text) and len(text) < len(TEXT), text
        assert shown is None or text.strip() in shown
    else:
        assert text == TEXT
        assert shown is None or TEXT in shown
    # retries: as many as allowed when retryable, none otherwise, each wait in range
    if expect.retried:
        assert len(waits) == 1, waits
        low, high = expect.wait
        assert low <= waits[0] <= high, waits
        if "Retry-After" in fault_name:  # the server's word, not a backoff
            assert waits[0] == pytest.approx(retrying[0].error.retry_after, abs=0.02)
        assert elapsed >= waits[0]
    else:
        assert waits == []
    if case.fault is not None and not case.url:
        sent = [r for r in emu.requests if "_emulator" not in r.path]
        assert len(sent) == 1 + len(waits)


@pytest.mark.parametrize(("fmt_name", "fault_name"), MATRIX,
                         ids=[f"{f}-{c}" for f, c in MATRIX])
def test_fault(fmt_name, fault_name, shell, matrix_emulator, monkeypatch, request, capsys):
    """Through ``%%gemma`` in a real IPython shell: what the user sees, as they see it."""
    fmt = FORMATS[fmt_name]
    skip = cases_for(fmt_name)[fault_name].skip
    if skip:
        ROWS.append(Row(fmt_name, fault_name, "n/a", skip, "-", 0.0, 0, "-"))
    case = arrange(fmt_name, fault_name, matrix_emulator, monkeypatch, request)
    session = set_session(Session(config=Config(), db_path=":memory:"))
    events: list[Any] = []
    original = CallStream.__iter__

    def spy(self):
        for event in original(self):
            events.append(event)
            yield event

    monkeypatch.setattr(CallStream, "__iter__", spy)
    capsys.readouterr()
    started = time.perf_counter()
    shell.run_cell_magic("gemma", f"-p {fmt.provider} --max-tokens 64 -o out", "Say hi")
    elapsed = time.perf_counter() - started
    shown = capsys.readouterr().out
    completion = shell.user_ns["out"]
    records = session.log.records()
    retrying = [e for e in events if isinstance(e, Retrying)]
    text = completion.text
    clean = text == TEXT or TEXT.startswith(text)
    ROWS.append(Row(
        fmt_name, fault_name,
        type(completion.error).__name__ if completion.error else "ok",
        str(completion.error) if completion.error else "(answered in full)",
        f"{len(retrying)}" + (f" ({', '.join(f'{e.wait_s:.2f} s' for e in retrying)})"
                              if retrying else ""),
        elapsed, len(text),
        f"{len(records)} {'/'.join(r.status for r in records)}{'' if clean else ' LOST'}",
    ))
    verify(fmt, fault_name, case, completion, records, retrying, elapsed, shown,
           matrix_emulator)


SLOW = ("Retry-After", "timeout")
ASYNC_MATRIX = [(f, c) for f, c in MATRIX if not any(s in c for s in SLOW)]


@pytest.mark.parametrize(("fmt_name", "fault_name"), ASYNC_MATRIX,
                         ids=[f"{f}-{c}" for f, c in ASYNC_MATRIX])
def test_fault_async(fmt_name, fault_name, shell, matrix_emulator, monkeypatch, request):
    """The same faults on the async path ``compare()`` runs on (the waits are the same
    code: the slow cases are left to the sync test)."""
    fmt = FORMATS[fmt_name]
    case = arrange(fmt_name, fault_name, matrix_emulator, monkeypatch, request)
    session = Session(config=Config(), db_path=":memory:")

    async def go() -> list[Any]:
        return [e async for e in gm.stream("Say hi", fmt.provider, session=session,
                                           max_tokens=64)]

    started = time.perf_counter()
    events = asyncio.run(go())
    elapsed = time.perf_counter() - started
    assert isinstance(events[-1], Done)
    completion = events[-1].completion
    retrying = [e for e in events if isinstance(e, Retrying)]
    verify(fmt, fault_name, case, completion, session.log.records(), retrying, elapsed, None,
           matrix_emulator)
