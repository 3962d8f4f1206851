"""gm.verify end to end: hosts emulated over real HTTP, answering the probe suite from the
emulator's answer book, one of them as a degraded host (issue 16)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("scipy")

from gemma_magics.errors import ValidationError  # noqa: E402
from gemma_magics.notebook.live_verify import verify  # noqa: E402
from gemma_magics.verification.probes import answer_book, load_probes  # noqa: E402
from gemma_magics.verification.report import report  # noqa: E402

pytest_plugins = ["conftest_providers"]

MODEL = "google/gemma-4-26b-a4b-it"
HOSTS = ["openai", "cloudflare-openai", "vllm"]  # all three offer tool calls and JSON mode


@pytest.fixture
def book(emu, hosted, monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "canary-vllm")
    emu.configure(answer_book=answer_book())
    return emu


def test_identical_hosts_pass_and_a_degraded_host_is_flagged(book, hosted):
    book.configure(degrade={"/vllm/": 0.2})  # one damaged answer in five, on vLLM only
    result = verify(MODEL, HOSTS, reference="openai", repeats=5, display=False, session=hosted)
    same, degraded = result.host("cloudflare-openai"), result.host("vllm")
    assert not same.different
    assert "indistinguishable from the reference at this sample size" in same.verdict
    assert same.accuracy == result.host("openai").accuracy == 1.0
    assert degraded.different and "different — accuracy −" in degraded.verdict
    assert degraded.paired.reference_only > 0 and degraded.paired.host_only == 0
    ok, n = degraded.tool_valid
    assert n == 10 and ok < n  # broken tool-call arguments counted
    assert "never that a host serves the same model" in result.closing_note()
    # each host was asked for its own id of the same weights
    models = {r.path.split("/")[1]: r.body["model"] for r in book.requests if r.body}
    assert models["client"] == "@cf/google/gemma-4-26b-a4b-it"


def test_runs_go_through_the_comparison_engine_recorded_and_resumable(book, hosted):
    first = verify(MODEL, ["openai", "vllm"], repeats=2, display=False, session=hosted)
    sent = len(book.requests)
    assert sent == len(first.runs) == 2 * 2 * 25
    assert len(hosted.log.records()) == sent
    again = verify(MODEL, ["openai", "vllm"], repeats=2, resume=True, display=False,
                   session=hosted)
    assert len(book.requests) == sent  # every run came from the log
    assert again.verdicts() == first.verdicts()


def test_report_is_one_self_contained_file_with_model_text_escaped(book, hosted, tmp_path):
    hostile = '<img src=x onerror="alert(1)"> $x^2$ <script>alert(2)</script> hi'
    probes = [{"id": "greet", "prompt": "Say hi.", "check": "icontains:hi", "answer": hostile},
              {"id": "sea", "prompt": "One line on the sea.", "temperature": 1.0,
               "answers": ["Waves.", "Salt and wind."]}]
    book.configure(answer_book=answer_book(load_probes(probes)))
    result = verify(MODEL, ["openai", "vllm"], prompts=probes, repeats=3, display=False,
                    session=hosted)
    assert result.host("vllm").accuracy == 1.0
    html = report(result, tmp_path / "verify.html").read_text()
    assert "&lt;img src=x onerror=" in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "<script" not in html
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)  # nothing fetched
    assert "data:image/png;base64," in html  # the charts are inline
    assert "tex2jax_ignore" in html


def test_a_host_without_the_model_family_is_one_clear_error(hosted):
    with pytest.raises(ValidationError, match="cloudflare serves no model of the family"):
        verify("gemma-3-270m", ["cloudflare"], display=False, session=hosted)
    with pytest.raises(ValidationError, match="gemma-3-12b-it was retired .*use @cf/google/gemma-4-26b-a4b-it"):
        verify("gemma3:12b", ["cloudflare-openai"], display=False, session=hosted)


def test_the_magic_line_runs_verify_and_writes_the_report(ip, book, hosted, tmp_path):
    from gemma_magics.session import set_session

    set_session(hosted)
    ip.run_line_magic("gemma", f"verify {MODEL} hosts=openai,vllm repeats=1 "
                               f"report={tmp_path / 'v.html'} -o checked")
    result = ip.user_ns.pop("checked")
    assert [h.host for h in result.hosts] == ["openai", "vllm"]
    assert (tmp_path / "v.html").exists()


def test_report_also_writes_a_comparison_frame(emu, hosted, tmp_path):
    from gemma_magics.notebook.live_compare import compare

    emu.configure(text='<b onmouseover="x()">bold</b> costs $3 and $4')
    frame = compare(["Price?", "Again?"], providers=["openai", "aimlapi"], display=False,
                    session=hosted)
    html = report(frame, tmp_path / "compare.html", title="<i>prices</i>").read_text()
    assert "&lt;b onmouseover=" in html and "<b onmouseover" not in html
    assert "&lt;i&gt;prices&lt;/i&gt;" in html and "cost_per_1k_calls" in html
    assert "data:image/png;base64," in html and "<script" not in html
    with pytest.raises(TypeError, match="gm.verify"):
        report({"not": "a result"}, tmp_path / "x.html")
