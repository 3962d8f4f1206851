"""The host verifier's statistics (issue 16): known values, and the false-positive rate of
the whole verdict on synthetic runs of two hosts that serve the same model."""

from __future__ import annotations

import math
import random

import pytest

pytest.importorskip("scipy")
pd = pytest.importorskip("pandas")

from gemma_magics.verification import stats  # noqa: E402
from gemma_magics.verification.analysis import analyze  # noqa: E402
from gemma_magics.verification.checks import run_check  # noqa: E402
from gemma_magics.verification.families import family_of  # noqa: E402
from gemma_magics.verification.probes import Probe, answer_book, default_suite  # noqa: E402


def test_wilson_known_values():
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert stats.wilson(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert stats.wilson(3, 4) == pytest.approx((0.30064, 0.95441), abs=1e-5)
    assert all(math.isnan(x) for x in stats.wilson(0, 0))


def test_exact_mcnemar_on_discordant_pairs_only():
    # 6 pairs only the reference passed, ties (both pass / both fail) do not count
    host = [False] * 6 + [True] * 10 + [False] * 4
    ref = [True] * 6 + [True] * 10 + [False] * 4
    result = stats.mcnemar(host, ref)
    assert (result.host_only, result.reference_only, result.n) == (0, 6, 20)
    assert result.p_value == pytest.approx(2 * 0.5 ** 6)
    assert result.difference == pytest.approx(-0.3)
    assert stats.mcnemar([True, False], [False, True]).p_value == 1.0


def test_detectable_gap_and_pairs_needed_invert_each_other():
    gap = stats.detectable_gap(200, 0.025)
    assert 0 < gap < 1
    assert stats.pairs_needed(gap, 0.025) in (200, 201)


def test_mmd_tells_different_texts_apart_and_not_the_same():
    rng = random.Random(1)
    pool = ["The sea is wide.", "Waves fold over sand.", "Salt wind blows.", "Grey sky, calm."]
    same_a = [("p", rng.choice(pool)) for _ in range(30)]
    same_b = [("p", rng.choice(pool)) for _ in range(30)]
    short = [("p", rng.choice(pool)[:6]) for _ in range(30)]
    assert stats.mmd_test(same_a, same_b, seed=0).p_value > 0.05
    assert stats.mmd_test(same_a, short, seed=0).p_value < 0.01


def test_mmd_only_compares_answers_to_the_same_prompt():
    # host answers prompt p like the reference answers q and vice versa: a kernel that
    # ignored the prompt would see one distribution
    host = [("p", "alpha")] * 10 + [("q", "omega")] * 10
    ref = [("p", "omega")] * 10 + [("q", "alpha")] * 10
    assert stats.mmd_test(host, ref, seed=0).p_value < 0.01


@pytest.mark.parametrize("model_id", [
    "@cf/google/gemma-4-26b-a4b-it", "google/gemma-4-26b-a4b-it", "gemma-4-26b-a4b-it",
    "gemma4:26b", "google/gemma-4-26b-a4b-it:free", "gemma-4-26b-a4b-it-maas"])
def test_host_ids_map_to_one_family(model_id):
    assert family_of(model_id) == "gemma-4-26b-it"


def test_families_keep_different_weights_apart():
    assert family_of("gemma-3-12b-it") != family_of("gemma-3-27b-it")
    assert family_of("gemma-3-270m") != family_of("gemma3:270m")  # base vs instruction-tuned
    assert family_of("@cf/google/gemma-2b-it-lora") is None
    assert family_of("llama-3-8b") is None


def test_checks_on_the_shipped_suite_pass_its_own_answers_and_fail_the_wrong_ones():
    for probe in default_suite():
        if not probe.check or probe.tool:
            continue
        assert run_check(probe.check, probe.answer, probe=probe).passed, probe.id
        assert not run_check(probe.check, probe.wrong, probe=probe).passed, probe.id


def test_tool_check_needs_parsed_arguments_of_the_schema():
    probe = next(p for p in default_suite() if p.id == "tool-convert")
    good = '[{"name": "convert_length", "arguments": {"value": 12, "from_unit": "in", "to_unit": "cm"}}]'
    broken = '[{"name": "convert_length", "arguments": {"_raw": "{\\"value\\": 12, \\"fr"}}]'
    assert run_check(probe.check, "", good, probe).passed
    outcome = run_check(probe.check, "", broken, probe)
    assert (outcome.passed, outcome.valid) == (False, False)


# -- the false-positive rate of the verdict -------------------------------------------------


def synthetic_runs(probes: list[Probe], hosts: list[str], repeats: int, seed: int,
                   wrong_rate: dict[str, float] | None = None) -> pd.DataFrame:
    """Runs as the comparison engine records them, for hosts that answer from one model:
    each checked probe has its own chance of a right answer (some prompts are flaky), free
    prompts draw from their alternatives. ``wrong_rate`` adds extra wrong answers."""
    rng = random.Random(seed)
    skill = {p.id: rng.choice([1.0, 1.0, 0.95, 0.8, 0.5]) for p in probes}
    rows = []
    for probe in probes:
        for repeat in range(repeats):
            for host in hosts:
                if probe.check:
                    right = rng.random() < skill[probe.id] * (1 - (wrong_rate or {}).get(host, 0))
                    text = probe.answer if right else probe.wrong
                else:
                    text = rng.choice(probe.answers)
                rows.append({"variant": host, "provider": host, "model": "gemma-3-12b-it",
                             "prompt": probe.prompt, "probe_id": probe.id, "repeat": repeat,
                             "response": text, "status": "ok", "error": None,
                             "error_type": None, "finish_reason": "stop", "tool_calls": None,
                             "ttft_s": 0.1, "tokens_per_s": 50.0, "latency_s": 0.3,
                             "cost_usd": 0.0})
    return pd.DataFrame(rows)


TEXT_PROBES = [p for p in default_suite() if not p.tool]
RUNS = 60


def flagged(seed: int, wrong_rate: dict[str, float] | None = None, alpha: float = 0.05) -> bool:
    runs = synthetic_runs(TEXT_PROBES, ["ref", "host"], 5, seed, wrong_rate)
    result = analyze(runs, TEXT_PROBES, model="gemma-3-12b-it", reference="ref", seed=seed,
                     alpha=alpha)
    return result.host("host").different


def test_identical_hosts_are_called_different_at_most_alpha_of_the_time():
    rate = sum(flagged(seed) for seed in range(RUNS)) / RUNS
    print(f"\nfalse-positive rate over {RUNS} synthetic verify runs at alpha 0.05: {rate:.3f}")
    # at a true rate of 5 %, 60 runs exceed 8 false alarms with probability < 2 %
    assert rate <= 8 / RUNS


def test_a_host_with_extra_wrong_answers_is_flagged_more_often_the_more_it_errs():
    # beside a reference whose own answers are flaky (some probes right half the time)
    one_in_five = sum(flagged(seed, {"host": 0.2}) for seed in range(10))
    two_in_five = sum(flagged(seed, {"host": 0.4}) for seed in range(10))
    assert one_in_five >= 5
    assert two_in_five == 10


def test_answer_book_knows_every_probe():
    book = answer_book()
    assert len(book) == len(default_suite())
    tool = book["What is the weather in Paris right now? Use the get_weather tool."]
    assert tool["tool_calls"][0]["arguments"] == {"city": "Paris"}


def test_a_host_whose_sampled_repeats_are_copies_is_told_so():
    runs = synthetic_runs(TEXT_PROBES, ["ref", "host"], 3, seed=5)
    free = runs["probe_id"].str.startswith("free-") & (runs["variant"] == "host")
    first = runs[free].groupby("probe_id")["response"].transform("first")
    runs.loc[free, "response"] = first
    result = analyze(runs, TEXT_PROBES, model="gemma-3-12b-it", reference="ref")
    assert result.host("host").copies and "a fixed seed?" in result.host("host").verdict
    assert not result.host("ref").copies
