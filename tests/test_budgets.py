"""Dry runs, budgets and billed cost (issue 17), against the emulator over real HTTP and the
real local model."""

from __future__ import annotations

import math

import pytest

from gemma_magics.errors import ValidationError
from gemma_magics.notebook.live_compare import compare

pytest_plugins = ["conftest_providers"]

PROMPTS = ["The capital of France is", "Name three colours of the rainbow."]


def api_requests(emu) -> list:
    return [r for r in emu.requests if not r.path.endswith("/models")]


def totals(df, provider: str) -> dict:
    rows = df[df.provider == provider]
    return {"runs": len(rows), "prompt_tokens": int(rows.prompt_tokens.sum()),
            "completion_tokens": int(rows.completion_tokens.sum()),
            "cost": float(rows.cost_usd.sum())}


def test_dry_run_sends_nothing_and_its_totals_match_the_real_run(hosted, emu):
    """Workers AI (emulated, reporting no usage: the client counts) and the local model
    (llama.cpp's own counts): the dry run's prompt tokens equal the real run's exactly; its
    completion tokens and cost, learnt from an earlier identical sweep, equal them too."""
    emu.configure(cf_usage="none", answer_tokens=6)
    args = dict(providers=["local", "cloudflare"], repeats=2, max_tokens=6, seed=3,
                session=hosted, display=False)
    before = compare(PROMPTS, dry_run=True, **args)
    assert api_requests(emu) == [] and len(hosted.log) == 0
    assert list(before.provider) == ["local", "cloudflare"]
    assert (before.runs == 4).all() and (before.refused == 0).all()
    assert (before.completion_basis == "max_tokens").all()  # nothing in the log yet
    assert (before.completion_tokens == 4 * 6).all()
    assert before.time_expected_s.isna().all()  # no latency to learn from
    assert (before.prompt_count == "exact").all()

    first = compare(PROMPTS, **args)
    assert (first.status == "ok").all(), first[["provider", "error"]]
    dry = compare(PROMPTS, dry_run=True, **args)
    assert len(hosted.log) == 8 and len(api_requests(emu)) == 4  # the dry run sent nothing
    real = compare(PROMPTS, **args)
    assert (real.status == "ok").all()
    for provider in ("local", "cloudflare"):
        row = dry[dry.provider == provider].iloc[0]
        got = totals(real, provider)
        assert row.completion_basis == "log"
        assert row.runs == got["runs"] == 4
        assert row.prompt_tokens == got["prompt_tokens"]  # exact, not estimated
        assert row.completion_tokens == got["completion_tokens"]
        assert row.cost_expected_usd == pytest.approx(got["cost"], rel=1e-9, abs=1e-15)
        assert row.cost_low_usd <= row.cost_expected_usd <= row.cost_high_usd
        assert row.time_low_s <= row.time_expected_s <= row.time_high_s
    cloudflare = dry[dry.provider == "cloudflare"].iloc[0]
    assert cloudflare.cost_expected_usd > 0
    total = dry.attrs["dry_run"]["total"]
    assert total["runs"] == 8 and total["prompt_tokens"] == int(real.prompt_tokens.sum())


def test_a_run_too_long_for_its_context_is_refused_before_anything_is_sent(hosted, emu):
    """@cf/google/gemma-2b-it-lora has an 8,192-token context: a 9,000-word prompt cannot fit.
    The dry run names it; the real run records it as skipped with the reason and sends only
    the other; resume does not count it as done."""
    long_prompt = "word " * 9000
    args = dict(providers="cloudflare", models="@cf/google/gemma-2b-it-lora", max_tokens=8,
                session=hosted, display=False)
    dry = compare(["Hello there.", long_prompt], repeats=2, dry_run=True, **args)
    assert dry.runs.tolist() == [2] and dry.refused.tolist() == [2]
    refused = dry.attrs["dry_run"]["refused"]
    assert [r["run"] for r in refused] == [2, 3]
    assert "8192-token context window" in refused[0]["reason"]
    assert api_requests(emu) == []

    real = compare(["Hello there.", long_prompt], repeats=2, **args)
    assert list(real.status) == ["ok", "ok", "skipped", "skipped"]
    assert real.error.iloc[2].startswith("prompt is ")
    assert len(api_requests(emu)) == 2 == dry.runs.sum()  # the dry run's count of real sends
    logged = {r.status for r in hosted.log.records()}
    assert logged == {"ok", "skipped"}
    again = compare(["Hello there.", long_prompt], repeats=2, resume=True, dry_run=True, **args)
    assert again.attrs["dry_run"]["resumed"] == 2 and again.refused.tolist() == [2]


PRICED = dict(providers="dataoorts", max_tokens=50, display=False)  # $0.11 / $0.12 per M


def test_a_sweep_stops_at_its_budget_and_resume_finishes_it(hosted, emu):
    emu.configure(answer_tokens=40)
    prompts = [f"Question {i}: what is {i} plus {i}?" for i in range(10)]
    worst = compare(prompts, dry_run=True, session=hosted, **PRICED)
    per_run = worst.cost_high_usd.iloc[0] / 10
    budget = per_run * 3.5  # room for three worst cases, not four
    notes = compare(prompts, dry_run=True, budget=budget, session=hosted, **PRICED)
    assert any("passes the budget" in n for n in notes.attrs["dry_run"]["notes"])
    df = compare(prompts, budget=budget, concurrency=2, session=hosted, **PRICED)

    ok, skipped = df[df.status == "ok"], df[df.status == "skipped"]
    spent = ok.cost_usd.sum()
    assert spent <= budget
    assert df.attrs["compare"]["budget"]["spent"] == pytest.approx(spent)
    # each run cost less than its worst case (40 of 50 tokens), so more than three fit
    assert 3 <= len(ok) < 10 and len(ok) + len(skipped) == 10
    assert len(api_requests(emu)) == len(ok)  # a skipped run was never sent
    assert skipped.error.str.startswith("budget: ").all()
    logged = [r for r in hosted.log.records() if r.status == "skipped"]
    assert len(logged) == len(skipped) and all("would pass it" in r.error for r in logged)

    rest = compare(prompts, budget=1.0, resume=True, session=hosted, **PRICED)
    assert (rest.status == "ok").all() and len(rest) == 10
    assert rest.attrs["compare"]["resumed"] == len(ok)
    assert len(api_requests(emu)) == 10  # each prompt sent once in all


def test_a_zero_budget_sends_nothing_priced_but_free_runs_go(hosted, emu):
    emu.configure(require_auth=False)  # Ollama takes no key
    df = compare("Hi.", providers=["dataoorts", "ollama"], budget=0.0, session=hosted,
                 max_tokens=8, display=False)
    assert dict(zip(df.provider, df.status)) == {"dataoorts": "skipped", "ollama": "ok"}, \
        df.error.tolist()
    assert [r.path for r in api_requests(emu)] == ["/ollama/v1/chat/completions"]


def test_hosts_without_a_price_make_a_budget_refuse_to_start(hosted, emu):
    with pytest.raises(ValidationError, match=r"no price for aimlapi google/gemma-4-26b-a4b-it-maas"):
        compare("Hi.", providers=["dataoorts", "aimlapi"], budget=1.0, session=hosted,
                display=False)
    assert api_requests(emu) == [] and len(hosted.log) == 0
    with pytest.raises(ValidationError, match="budget_unknown"):
        compare("Hi.", providers="aimlapi", budget=1.0, budget_unknown="maybe",
                session=hosted, display=False)
    with pytest.raises(ValidationError, match="budget=-1"):
        compare("Hi.", providers="aimlapi", budget=-1, session=hosted, display=False)
    df = compare("Hi.", providers=["dataoorts", "aimlapi"], budget=1.0,
                 budget_unknown="allow", session=hosted, max_tokens=8, display=False)
    assert (df.status == "ok").all()
    assert math.isnan(df.loc[df.provider == "aimlapi", "cost_usd"].iloc[0])


@pytest.fixture
def shell(hosted, monkeypatch):
    """A real IPython shell with %%gemma_compare, its session the emulated one."""
    from IPython.testing import globalipapp

    from gemma_magics import session as session_module
    from gemma_magics.notebook.compare_magics import CompareMagics

    monkeypatch.setattr(session_module, "_session", hosted)
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    ip.register_magics(CompareMagics)
    yield ip
    for name in ("est", "cmp"):
        ip.user_ns.pop(name, None)


def test_magic_dry_run_and_budget(shell, emu, capsys):
    from IPython.core.error import UsageError

    shell.run_cell_magic("gemma_compare", "-p dataoorts,cloudflare --max-tokens 20 --repeat 3 "
                         "--dry-run -o est", "Hi.")
    out = capsys.readouterr().out
    assert out.startswith("dry run: nothing was sent")
    assert "max_tokens bound" in out and "60 (max_tokens bound)" in out
    est = shell.user_ns["est"]
    assert list(est.runs) == [3, 3] and api_requests(emu) == []

    shell.run_cell_magic("gemma_compare", "-p dataoorts --max-tokens 20 --repeat 3 --budget 0 "
                         "--quiet -o cmp", "Hi.")
    assert (shell.user_ns["cmp"].status == "skipped").all() and api_requests(emu) == []
    with pytest.raises(UsageError, match="budget-unknown allow"):
        shell.run_cell_magic("gemma_compare", "-p aimlapi --budget 1", "Hi.")
    shell.run_cell_magic("gemma_compare", "-p aimlapi --budget 1 --budget-unknown allow "
                         "--max-tokens 8 --quiet -o cmp", "Hi.")
    assert (shell.user_ns["cmp"].status == "ok").all()


def test_panel_compare_keeps_to_its_budget(hosted, emu):
    from gemma_magics.notebook.panel import Panel

    p = Panel(session=hosted)
    p.compare_with.value = ("dataoorts", "aimlapi")
    p.prompt.value = "Write a haiku."
    p.budget.value = "cheap"
    p.compare_button.click()
    assert p.last is None and "not an amount in USD" in p.stats.value
    p.budget.value = "$1"
    p.compare_button.click()
    assert p.last is None and "no price for aimlapi" in p.stats.value
    assert api_requests(emu) == []
    p.budget.value = "0"
    p.budget_allow_unknown.value = True
    p.compare_button.click()
    assert dict(zip(p.last.provider, p.last.status)) == {"dataoorts": "skipped",
                                                         "aimlapi": "ok"}
    assert "1 not sent" in p.stats.value
    p.close()


RATE = 2e-6  # the emulator's billed USD per token


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(("provider", "field"), [("openrouter", "usage.cost"),
                                                  ("aimlapi", "meta.usage.usd_spent")])
def test_the_billed_cost_is_recorded_beside_the_computed_one(hosted, emu, provider, field,
                                                            stream):
    from gemma_magics import api
    from gemma_magics.notebook.footer import footer_text

    emu.configure(billed_cost_per_token=RATE, answer_tokens=5)
    done = api.generate("Say hi.", provider, session=hosted, max_tokens=8, stream=stream)
    body = emu.requests[-1]
    assert body.path.startswith(f"/{provider}/")
    usage = done.record.prompt_tokens, done.record.completion_tokens
    billed = round((usage[0] + usage[1]) * RATE, 12)  # what the emulator sent in `field`
    assert done.record.billed_cost_usd == pytest.approx(billed)
    assert math.isnan(done.record.cost_usd)  # no catalog price: computed is unknown
    assert f"billed ${billed:.6f}" in footer_text(done.record)  # shown: they disagree
    logged = hosted.log.dataframe()
    assert logged.billed_cost_usd.iloc[-1] == pytest.approx(billed)


def test_no_billed_cost_when_the_provider_reports_none(hosted, emu):
    from gemma_magics import api
    from gemma_magics.notebook.footer import billed_disagrees, footer_text

    done = api.generate("Say hi.", "openrouter", session=hosted, max_tokens=8)
    assert done.record.billed_cost_usd is None and "billed" not in footer_text(done.record)
    assert not billed_disagrees(0.00100, 0.001005) and billed_disagrees(0.001, 0.0012)
    assert billed_disagrees(float("nan"), 0.001) and not billed_disagrees(0.001, None)


def test_a_budget_counts_what_was_billed(hosted, emu):
    emu.configure(billed_cost_per_token=RATE, answer_tokens=5)
    df = compare(["One.", "Two.", "Three."], providers="openrouter", budget=1.0,
                 budget_unknown="allow", max_tokens=8, session=hosted, display=False)
    assert (df.status == "ok").all()
    assert df.attrs["compare"]["budget"]["spent"] == pytest.approx(df.billed_cost_usd.sum())
    assert df.billed_cost_usd.sum() > 0


class HeaderLog:
    """A view that keeps the grid's header line at every refresh (the live grid's text)."""

    def __init__(self, state):
        from gemma_magics.notebook.grid import grid_html, grid_text

        self.state, self.text, self.html = state, grid_text, grid_html
        self.lines: list[str] = []

    def refresh(self, force: bool = False) -> None:
        self.lines.append(self.text(self.state).splitlines()[0])

    def finish(self, frame) -> None:
        self.refresh(force=True)
        self.last_html = self.html(self.state)


def test_the_live_header_carries_spent_budget_and_time_left(hosted, emu):
    from gemma_magics.comparisons import run

    emu.configure(first_byte_latency=0.2, answer_tokens=20, billed_cost_per_token=RATE)
    views = []

    def view(state):
        views.append(HeaderLog(state))
        return views[-1]

    budget = 0.001
    df = run.compare([f"Question {i}." for i in range(4)], providers="dataoorts",
                     concurrency=1, max_tokens=30, budget=budget, view=view, session=hosted)
    lines = views[0].lines
    assert (df.status == "ok").all()
    assert all(f"/ budget ${budget:.4f}" in line for line in lines)
    assert lines[0].startswith("0/4 done") and "spent $0 /" in lines[0]
    midway = [line for line in lines if line.startswith(("1/4", "2/4", "3/4"))]
    assert midway and all(" s left" in line for line in midway)  # learnt from the pace
    final = lines[-1]
    assert final.startswith("4/4 done") and " s left" not in final
    spent = df.cost_usd.sum()
    assert f"spent ${spent:.6f} / budget" in final
    assert "spent $" in views[0].last_html and "budget" in views[0].last_html

    # OpenRouter bills without a catalog price: the header shows the billed total beside
    df = run.compare(["One.", "Two."], providers="openrouter", max_tokens=8, view=view,
                     budget=budget, budget_unknown="allow", session=hosted)
    billed = df.billed_cost_usd.sum()
    assert f"spent ${billed:.6f} / budget" in views[1].lines[-1]
    assert f"billed ${billed:.6f} vs computed cost n/a" in views[1].lines[-1]
