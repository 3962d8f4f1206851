"""gm.verify with a budget and a dry run, as gm.compare has them: hosts emulated over real
HTTP, Cloudflare's /ai/v1 route priced by the catalog ($0.10 / $0.30 per M), Ollama free, and
OpenRouter's Gemma 4 26B without a catalog price. The probes come in two groups of settings
(two comparisons one after the other): the budget holds over both, the dry run prices both."""

from __future__ import annotations

import pytest
from emulated import PREFIXES

pytest.importorskip("scipy")

from gemma_magics.errors import ValidationError  # noqa: E402
from gemma_magics.notebook.live_verify import verify  # noqa: E402
from gemma_magics.verification.probes import answer_book, load_probes  # noqa: E402

pytest_plugins = ["conftest_providers"]

MODEL = "google/gemma-4-26b-a4b-it"
HOSTS = ["cloudflare-openai", "ollama"]
PROBES = [
    {"id": "two", "prompt": "What is 1 + 1? Answer with the number.", "check": "number:2",
     "answer": "The answer is 2, the sum of one and one."},
    {"id": "ten", "prompt": "What is 5 + 5? Answer with the number.", "check": "number:10",
     "answer": "The answer is 10, the sum of five and five."},
    {"id": "paris", "prompt": "What is the capital of France?", "check": "icontains:paris",
     "answer": "The capital of France is Paris, on the Seine."},
    # temperature 1: a second group of settings, hence a second comparison
    {"id": "sea", "prompt": "One line on the sea.", "temperature": 1.0,
     "answers": ["Waves fold over the grey stones all night long.",
                 "Salt and wind and the long slow breathing of the tide."]},
    {"id": "wood", "prompt": "One line on a forest.", "temperature": 1.0,
     "answers": ["Pines hold the snow until the thaw comes in March.",
                 "Moss on the north side, light through the birches."]},
]
REPEATS = 3


def api_requests(emu, host: str | None = None) -> list:
    return [r for r in emu.requests if not r.path.endswith("/models")
            and (host is None or r.path.startswith(PREFIXES[host] + "/"))]


@pytest.fixture
def book(emu, hosted):
    emu.configure(answer_book=answer_book(load_probes(PROBES)), require_auth=False)
    return emu


def run(session, **kwargs):
    kwargs.setdefault("display", False)
    return verify(MODEL, HOSTS, prompts=PROBES, repeats=REPEATS, reference="ollama",
                  session=session, **kwargs)


def test_a_dry_run_sends_nothing_and_prices_every_group_of_probes(book, hosted, capsys):
    dry = run(hosted, dry_run=True, display=True)
    assert api_requests(book) == [] and len(hosted.log) == 0
    assert capsys.readouterr().out.startswith("dry run: nothing was sent")
    assert list(dry.provider) == HOSTS  # one row per host, both groups of probes in it
    assert (dry.runs == len(PROBES) * REPEATS).all()
    assert (dry.completion_basis == "max_tokens").all()
    cloudflare, ollama = (dry[dry.provider == h].iloc[0] for h in HOSTS)
    assert 0 < cloudflare.cost_low_usd <= cloudflare.cost_expected_usd <= cloudflare.cost_high_usd
    assert ollama.cost_high_usd == 0
    total = dry.attrs["dry_run"]["total"]
    assert total["runs"] == 2 * len(PROBES) * REPEATS

    real = run(hosted)
    assert len(api_requests(book)) == total["runs"] == len(real.runs)
    again = run(hosted, dry_run=True, budget=cloudflare.cost_high_usd)
    # learnt from the log across both groups: every run's settings were seen
    assert (again.completion_basis == "log").all()
    assert again.cost_high_usd.iloc[0] <= cloudflare.cost_high_usd
    assert any("fits the budget" in n for n in again.attrs["dry_run"]["notes"])
    assert len(api_requests(book)) == total["runs"]  # the second dry run sent nothing either


def test_the_budget_holds_over_the_whole_check_and_resume_finishes_it(book, hosted):
    dry = run(hosted, dry_run=True)
    per_run = dry[dry.provider == "cloudflare-openai"].cost_high_usd.iloc[0] / (
        len(PROBES) * REPEATS)
    budget = per_run * 2.5  # two worst cases fit, not three; each group alone could fill it
    result = run(hosted, budget=budget)

    rows = result.runs[result.runs.provider == "cloudflare-openai"]
    ok, skipped = rows[rows.status == "ok"], rows[rows.status == "skipped"]
    spent = ok.cost_usd.sum()
    assert spent <= budget  # over both comparisons, not per group
    assert result.budget == {"limit": budget, "spent": pytest.approx(spent)}
    assert 2 <= len(ok) < len(rows) and len(ok) + len(skipped) == len(rows)
    assert len(api_requests(book, "cloudflare-openai")) == len(ok)  # skipped: never sent
    assert skipped.error.str.startswith("budget: ").all()
    logged = [r for r in hosted.log.records() if r.status == "skipped"]
    assert len(logged) == len(skipped) and all("would pass it" in r.error for r in logged)
    assert (result.runs[result.runs.provider == "ollama"].status == "ok").all()  # free runs go

    host = result.host("cloudflare-openai")
    assert host.errors == 0 and host.not_sent == len(skipped)  # not sent is not a failure
    assert f"{len(skipped)} runs not sent (first: budget: " in host.verdict
    assert "runs failed" not in host.verdict
    assert f"{len(skipped)} runs over it or too long were not sent" in result.closing_note()

    rest = run(hosted, budget=1.0, resume=True)
    assert (rest.runs.status == "ok").all()
    assert len(api_requests(book, "cloudflare-openai")) == len(rows)  # each run sent once
    assert rest.host("cloudflare-openai").not_sent == 0


def test_a_host_without_a_price_stops_the_check_before_anything_is_sent(book, hosted):
    hosts = ["cloudflare-openai", "openrouter"]
    with pytest.raises(ValidationError, match=r"cannot be enforced: the catalog has no price "
                                              r"for openrouter google/gemma-4-26b-a4b-it"):
        verify(MODEL, hosts, prompts=PROBES, repeats=1, budget=1.0, display=False,
               session=hosted)
    assert api_requests(book) == [] and len(hosted.log) == 0
    with pytest.raises(ValidationError, match="budget=-1"):
        verify(MODEL, hosts, prompts=PROBES, budget=-1, display=False, session=hosted)
    result = verify(MODEL, hosts, prompts=PROBES, repeats=1, budget=1.0,
                    budget_unknown="allow", display=False, session=hosted)
    assert (result.runs.status == "ok").all()


def test_the_magic_line_takes_budget_and_dry_run(book, hosted, monkeypatch, capsys):
    from IPython.testing import globalipapp

    from gemma_magics import session as session_module
    from gemma_magics.notebook.magics import GemmaMagics

    monkeypatch.setattr(session_module, "_session", hosted)
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    ip.register_magics(GemmaMagics)
    try:
        ip.run_line_magic("gemma", f"verify {MODEL} hosts=cloudflare-openai,ollama repeats=2 "
                                   "budget=0.5 dry-run -o est")
        out = capsys.readouterr().out
        assert out.startswith("dry run: nothing was sent")
        assert "the worst case $" in out and "fits the budget of $0.5" in out
        # the shipped suite: 25 probes, twice each, on each host
        assert list(ip.user_ns["est"].runs) == [50, 50] and api_requests(book) == []
    finally:
        ip.user_ns.pop("est", None)


def test_groups_run_one_after_another_so_their_times_add_up():
    from gemma_magics.comparisons.estimate import Estimate, RunEstimate, in_sequence

    def part(seconds: list[float]) -> Estimate:
        runs = [RunEstimate(index=i, provider="p", model="m", variant="p", prompt_tokens=10,
                            prompt_count="exact", max_tokens=8, completion_tokens=8.0,
                            completion_low=8, completion_basis="log", context=None,
                            refused=None, cost_low=1e-6, cost_expected=1e-6, cost_high=2e-6,
                            latency=(s, s, s)) for i, s in enumerate(seconds)]
        return Estimate(runs, 0, {k: list(seconds) for k in ("low", "expected", "high")})

    whole = in_sequence([part([1.0, 2.0]), part([3.0])], budget=5e-6)
    total = whole.total()
    assert [r.index for r in whole.runs] == [0, 1, 2]
    assert total["runs"] == 3 and total["time_expected_s"] == 2.0 + 3.0
    assert total["cost_high_usd"] == pytest.approx(6e-6)
    assert any("passes the budget" in n for n in whole.notes)
