"""Scoring inside a comparison (on the emulator): each cell scored as it finishes, verdicts
in the grid (✓/✗, reasons on hover, escaped), in the frame, in the log, in the views."""

from __future__ import annotations

import json

import pytest

import gemma_magics as gm
from gemma_magics.comparisons import views
from gemma_magics.comparisons.gridstate import Cell, GridState
from gemma_magics.notebook.grid import grid_html, grid_text
from gemma_magics.records.scores import scores_of

pytest_plugins = ["conftest_providers"]

QUESTIONS = ["Capital of France?", "Capital of Italy?", "Largest planet?"]
ANSWERS = ["Paris", "Rome", "Jupiter"]


def run(hosted, **kwargs):
    return gm.compare(QUESTIONS, providers=["openai", "openrouter"], display=False,
                      session=hosted, max_tokens=32, **kwargs)


def test_compare_with_checks_and_expected(hosted, emu):
    emu.set_text("I believe it is Paris or Jupiter.")
    states = []

    def view(state):
        states.append(state)
        return views_none()

    from gemma_magics.comparisons.run import compare as engine

    df = engine(QUESTIONS, ["openai", "openrouter"], view=view, session=hosted,
                checks=["icontains:{expected}", "max-chars:200"], expected=ANSWERS,
                max_tokens=32)
    assert dict(zip(df["prompt"], df["expected"])) == dict(zip(QUESTIONS, ANSWERS))
    by_prompt = df.groupby("prompt")["passed"].agg(list).to_dict()
    assert by_prompt == {"Capital of France?": [True, True], "Capital of Italy?": [False, False],
                         "Largest planet?": [True, True]}
    assert (df["pass[max-chars:200]"]).all()
    # every cell got its verdict (the live grid's ✓/✗), with the reasons for the hover
    cells = states[0].cells
    assert all(c.verdict is not None for c in cells)
    italy = next(c for c in cells if c.prompt == "Capital of Italy?")
    assert italy.verdict[0] is False and "does not contain 'Rome'" in italy.verdict[2]
    # stored: history() has the same verdicts
    stored = gm.history(hosted)
    stored = stored[stored["run_id"].isin(df["run_id"])]
    assert sorted(stored["passed"].tolist()) == sorted(df["passed"].tolist())
    assert len(scores_of(hosted.log)) == 12


class views_none:  # noqa: N801 (a view that draws nothing, keeps the state)
    def refresh(self, force=False):
        pass

    def finish(self, frame):
        pass


def test_summary_side_by_side_and_plot_show_the_quality(hosted, emu):
    emu.set_text("Paris, Rome and Jupiter.")
    df = run(hosted, checks="icontains:{expected}", expected=ANSWERS)
    table = gm.summary(df)
    assert list(table["pass_rate"]) == [1.0, 1.0]
    assert table["pass_low"].iloc[0] == pytest.approx(0.4385, abs=1e-3)  # Wilson 3/3
    assert table["verdict"].iloc[0] == "baseline"
    assert "too few prompts" in table["verdict"].iloc[1]  # 3 prompts can never tell
    html = views.side_by_side(df).to_html()
    assert "pass rate [95 % CI]" in html and "100% [44%, 100%] of 3" in html
    assert "[✓ 1.00]" in html
    fig = gm.plot(df, metric="pass_rate")
    assert fig.axes[0].get_xlabel().startswith("pass rate")
    assert "too few prompts" in views.quality_line(df)


def test_compare_with_a_judge_on_the_emulator(hosted, emu):
    emu.set_text(None)  # scripted paragraph for answers: judges get the judge format
    df = run(hosted, judge="mentions Gemma", judge_provider="openai",
             expected=["Gemma", "Gemma", "Saturn"])
    verdicts = df.groupby("prompt")["pass[judge:mentions Gemma]"].agg(list).to_dict()
    assert verdicts == {"Capital of France?": [True, True], "Capital of Italy?": [True, True],
                        "Largest planet?": [False, False]}
    judged = [r for r in hosted.log.records() if r.variant == "judge:mentions Gemma"]
    assert len(judged) == 6
    assert {json.loads(r.extra)["judged_run"] for r in judged} == set(df["run_id"])


def test_compare_rejects_expected_of_the_wrong_length(hosted, emu):
    with pytest.raises(gm.ValidationError, match="2 answers for 3 prompts"):
        run(hosted, checks="icontains:{expected}", expected=["a", "b"])
    with pytest.raises(gm.ValidationError, match="unknown check"):
        run(hosted, checks="includes:x")
    assert len(hosted.log) == 0  # nothing was sent


def test_grid_verdict_is_escaped_text_with_reasons_on_hover():
    cell = Cell(index=0, variant="A", prompt_index=0, prompt="p", repeat=0, provider="x",
                model="m", status="ok", parts=["<b>hi</b>"])
    cell.verdict = (False, 0.0, '✗ judge:x: "<img src=x onerror=alert(1)>" is wrong')
    html = grid_html(GridState([cell]))
    assert "✗ fail</span>" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'title="score 0.00\n✗ judge:x: &quot;&lt;img' in html
    assert "✗ fail" in grid_text(GridState([cell]))


def test_the_magic_scores_with_check_expected_and_judge(ip, emu, monkeypatch, tmp_path):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    gm.get_session().config.reload()
    emu.set_text(None)
    ip.user_ns["qs"] = ["Who made Gemma?", "Who made Llama?"]
    ip.user_ns["answers"] = ["Gemini", "Meta"]
    ip.run_cell_magic(
        "gemma_compare",
        '-p openai,openrouter --max-tokens 30 --prompts qs --expected answers '
        '--check "icontains:{expected}" --check max-chars:500 --judge "names the maker" '
        "--judge-provider openai --quiet -o scored", "\n")  # IPython refuses an empty body
    df = ip.user_ns.pop("scored")
    assert df.groupby("prompt")["pass[icontains:{expected}]"].all().to_dict() == {
        "Who made Gemma?": True, "Who made Llama?": False}
    assert df["pass[judge:names the maker]"].notna().sum() == 2  # only where checks passed
    with pytest.raises(Exception, match="need --judge RUBRIC"):
        ip.run_cell_magic("gemma_compare", "-p openai --judge-provider openai", "Hi")


@pytest.mark.slow
def test_identical_emulated_variants_are_rarely_called_different(hosted, emu):
    """Two identical variants on the emulator, each run failing at random (seeded, 35 %),
    30 prompts x 12 repeats: each repeat is one experiment of 30 paired prompts. The
    McNemar test should call them different about 5 % of the time, or less (exact is
    conservative); sequential runs keep the seeded faults in a fixed order."""
    from gemma_magics.emulator import Fault
    from gemma_magics.scoring import stats

    emu.set_text("Paris")
    emu.fault_rate(0.35, seed=11, faults=[Fault(status=400)])
    prompts = [f"Question {i}" for i in range(30)]
    df = gm.compare(prompts, providers=["openai", "openrouter"], repeats=12, concurrency=1,
                    display=False, session=hosted, max_tokens=4, checks="contains:Paris")
    assert len(df) == 720 and 0.55 < df["passed"].mean() < 0.75
    df["repeat"] = df.groupby(["variant", "prompt"]).cumcount()
    significant = 0
    for _, one in df.groupby("repeat"):
        a = one[one["variant"] == "openai"].set_index("prompt")["passed"]
        b = one[one["variant"] == "openrouter"].set_index("prompt")["passed"].loc[a.index]
        significant += stats.mcnemar(list(a), list(b)).p_value < 0.05
    print(f"identical emulated variants called different in {significant} of 12 experiments")
    assert significant <= 2
    table = gm.summary(df)
    assert table["p_value"].iloc[1] > 0.05  # over all 360 pairs: no difference either
