"""Human ratings: gm.rate() builds a real ipywidgets rater; clicks and programmatic ratings
are stored as scores of kind human; blind mode hides and shuffles; agreement with checks."""

from __future__ import annotations

import json

import pytest

import gemma_magics as gm
from gemma_magics.errors import ValidationError
from gemma_magics.records.log import Record
from gemma_magics.records.scores import scores_of

PAYLOAD = '<img src=x onerror="window.__pwned = 1">'


@pytest.fixture
def cmp(session):
    records = []
    for prompt in ("Capital of France?", "Capital of Italy?", "2 + 2 ="):
        records.append(Record(provider="local", model="m", prompt=prompt, variant="small",
                              response=f"small answer to {prompt}"))
        records.append(Record(provider="local", model="m", prompt=prompt, variant="large",
                              response=f"large answer {PAYLOAD}"))
    session.log.append_many(records)
    return gm.history()


def test_clicks_are_stored_as_human_scores(session, cmp):
    r = gm.rate(cmp, rater="ana", display=False)
    r.show(True)  # the real widget
    assert len(r.pages) == 3 and r.progress == (0, 6)
    first_box = r.body.children[0]
    thumbs_up = first_box.children[1].children[0]
    thumbs_up.click()  # a real button click through ipywidgets' handlers
    assert r.progress == (1, 6)
    (score,) = scores_of(session.log).scores()
    assert (score.kind, score.scorer, score.rater, score.passed, score.value) == (
        "human", "human", "ana", True, 1.0)
    assert score.run_id == cmp.iloc[0]["run_id"]
    assert "1 of 6 answers rated" in r.status.value
    # model text on the page is escaped, never live HTML
    html = first_box.children[0].value + r.body.children[1].children[0].value
    assert "<img" not in html and "&lt;img" in html


def test_blind_mode_hides_names_shuffles_and_records_the_order(session, cmp):
    r = gm.rate(cmp, blind=True, rater="bo", seed=1, display=False)
    labels = {r.label(p, i) for p in range(3) for i in range(2)}
    assert labels == {"A", "B"}
    assert any(r.order[p] == [1, 0] for p in range(3))  # some page shows them swapped
    r.rate(0, "B", "👎")
    (score,) = scores_of(session.log).scores()
    detail = json.loads(score.detail)
    assert detail["shown_as"] == "B" and detail["blind"] is True
    shown = r.pages[0][r.order[0][1]]
    assert score.run_id == shown["run_id"] and score.passed is False


def test_one_to_five_scale_and_rerating_replaces(session, cmp):
    r = gm.rate(cmp, scale="1-5", rater="ana", display=False)
    r.rate(0, "small", 2)
    r.rate(0, "small", 5)
    (score,) = scores_of(session.log).scores()
    assert score.value == 1.0 and score.passed is True
    assert json.loads(score.detail)["rating"] == 5
    with pytest.raises(ValidationError, match="not a rating from 1 to 5"):
        r.rate(0, "small", 6)
    with pytest.raises(ValidationError, match="has no answer 'medium'"):
        r.rate(0, "medium", 3)
    assert list(r.ratings()["rating"]) == [5]


def test_ratings_join_history_and_agree_with_a_check(session, cmp):
    gm.score(cmp, checks="icontains:small")
    r = gm.rate(cmp, rater="ana", display=False)
    for page in range(3):
        r.rate(page, "small", "👍")
        r.rate(page, "large", "👎")
    table = gm.history()
    assert table["pass[human@ana]"].tolist() == table["pass[icontains:small]"].tolist()
    assert table["passed"].tolist() == table["pass[icontains:small]"].tolist()  # humans apart
    agree = gm.agreement(table)
    assert agree.loc[0, "kappa"] == pytest.approx(1.0)
    assert agree.attrs["krippendorff_alpha"] == pytest.approx(1.0)
