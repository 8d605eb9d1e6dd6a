"""Rebase suggestions a person confirms (issue 24, item 3): the rule (``analysis.rebase``), what measure.json and the
pages say, and the decision written to council.yaml with who and when (``council_edit.accept_phase`` /
``decline_phase``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml

from systemic_lib.analysis import measure, rebase, spc
from systemic_lib.data import council_edit, sample
from systemic_lib.data.council import load_council
from systemic_lib.data.stages import Stage
from systemic_lib.display.sections.measure import rebase_sentences
from systemic_lib.site.measures import measures_page

#: 20 weeks around 10, then 14 weeks around 6: a shift from the week of 20 May 2024 (lower is better).
MONDAYS = pd.date_range("2024-01-01", periods=34, freq="W-MON")
SHIFT_FROM = MONDAYS[20]
_NOISE = np.array([0.6, -0.4, 0.2, -0.7, 0.5, -0.1, 0.3, -0.5, 0.1, -0.3, 0.4, -0.6, 0.2, 0.0, -0.2, 0.7, -0.4])


def _result() -> spc.XmrResult:
    values = np.r_[10 + np.resize(_NOISE, 20), 6 + np.resize(_NOISE, 14)]
    return spc.xmr(values, dates=MONDAYS, improvement="decrease", floor=0)


def _signals():
    """The shift down from week 20 (the weeks before it, above the mean, are a shift too, from the first week)."""
    found = rebase.signals(_result(), measure="end_to_end_days", name="end-to-end time")
    return [s for s in found if s.first >= MONDAYS[15]]


def _tried(date, **kw) -> rebase.Recorded:
    return rebase.Recorded(pd.Timestamp(date), "Tried: diagnose on the first call", "learning log", **kw)


def test_the_chart_shifts_above_the_mean_then_below_it_from_the_week_the_series_drops():
    found = rebase.signals(_result(), measure="end_to_end_days", name="end-to-end time")
    assert [(s.kind, s.side, s.meaning) for s in found] == [
        ("shift", "above", "concern"),
        ("shift", "below", "improvement"),
    ]
    assert found[0].first == MONDAYS[0] and SHIFT_FROM <= found[1].first <= SHIFT_FROM + pd.Timedelta(weeks=1)


def test_a_shift_two_weeks_after_a_learning_log_entry_is_suggested_as_a_new_phase_from_the_entry():
    first = _signals()[0].first
    change = _tried(first - pd.Timedelta(weeks=2))
    out = rebase.suggest(_signals(), [change])
    assert [s.status for s in out] == ["suggested"]
    s = out[0]
    assert s.phase_date == change.date and s.weeks == 2
    assert s.question == f"A new phase from {change.date.day} {change.date:%b %Y}?"
    assert "2 weeks after a recorded change" in s.sentence and "Tried: diagnose on the first call" in s.sentence
    assert "only if a person accepts" in s.sentence
    figure = s.figure()
    assert figure["phase_date"] == change.date.date().isoformat() and figure["weeks_apart"] == 2
    assert figure["signal"]["first"] == first.date().isoformat() and figure["change"]["source"] == "learning log"


def test_a_shift_twenty_weeks_after_a_change_is_not_suggested_it_says_find_out():
    first = _signals()[0].first
    out = rebase.suggest(_signals(), [_tried(first - pd.Timedelta(weeks=20))])
    assert out and {s.status for s in out} == {"find out"} and all(s.change is None for s in out)


def test_no_recorded_change_says_find_out_what_happened_never_a_phase():
    out = rebase.suggest(_signals(), [])
    assert out and all(s.status == "find out" and s.phase_date is None for s in out)
    assert "find out what happened" in out[0].sentence and "never a new phase by itself" in out[0].sentence
    assert f"within {rebase.REBASE_WINDOW_WEEKS} weeks" in out[0].sentence


def test_a_change_already_a_phase_or_declined_is_not_offered_again():
    first = _signals()[0].first
    assert rebase.suggest(_signals(), [_tried(first - pd.Timedelta(weeks=1), is_phase=True)]) == []
    declined = _tried(first - pd.Timedelta(weeks=1), declined="declined by JB on 8 Dec 2026")
    assert rebase.suggest(_signals(), [declined]) == []


def test_the_window_is_a_named_constant_and_the_page_states_it():
    first = _signals()[0].first
    edge = rebase.REBASE_WINDOW_WEEKS
    assert rebase.suggest(_signals(), [_tried(first - pd.Timedelta(weeks=edge))])[0].status == "suggested"
    assert rebase.suggest(_signals(), [_tried(first - pd.Timedelta(weeks=edge + 1))])[0].status == "find out"
    assert f"within {edge} weeks of a recorded change" in rebase.window_sentence()


def test_a_single_point_beyond_a_limit_is_not_a_signal_to_rebase_on():
    values = np.r_[10 + np.resize(_NOISE, 30)]
    values[25] = 14
    result = spc.xmr(values, dates=MONDAYS[:30], improvement="decrease")
    assert result.points["outside_limits"].sum() == 1
    assert [s for s in rebase.signals(result, measure="x", name="x") if s.kind == "beyond"] == []
    values[26] = 14  # two in a row are
    result = spc.xmr(values, dates=MONDAYS[:30], improvement="decrease")
    beyond = [s for s in rebase.signals(result, measure="x", name="x") if s.kind == "beyond"]
    assert [(s.first, s.n, s.side) for s in beyond] == [(MONDAYS[25], 2, "above")]


# ------------------------------------------------------------------------------------- a sample council, end to end
@pytest.fixture(scope="module")
def northshire(tmp_path_factory):
    plan = next(p for p in sample.COUNCILS if p.slug == "northshire")
    return sample.write_council(plan, tmp_path_factory.mktemp("rebase") / "northshire")


def _e2e(folder):
    data = measure.load(Stage(folder, "council-tax", "measure"))
    return data, next(r for r in data.results if r.id == "end_to_end_days")


def test_the_sample_offers_its_council_tax_team_s_learning_log_entry_and_decides_only_when_a_person_does(
    northshire, tmp_path
):
    import shutil

    folder = tmp_path / "northshire"
    shutil.copytree(northshire, folder)
    data, e2e = _e2e(folder)
    offered = [s for s in e2e.suggestions if s.status == "suggested"]
    assert len(offered) == 1
    s = offered[0]
    assert s.phase_date == pd.Timestamp("2024-07-22") and s.weeks == 2 and s.change.source == "learning log"
    # in measure.json, and on the measures page cell, as the same sentence
    figure = measure.figures(data)["measures"]["end_to_end_days"]["phase_suggestions"]
    assert [f["status"] for f in figure] == ["suggested"] and figure[0]["sentence"] == s.sentence
    page = measures_page("northshire", "Northshire", [("council-tax", "Council tax", measure.figures(data), "ok")])
    cell = next(c for c in page.rows[0].cells if c.column == "end_to_end_days")
    assert cell.suggestions == [("suggested", s.sentence)]
    assert any("A new phase from 22 Jul 2024?" in said for said in rebase_sentences(e2e))
    # never applied without acceptance: one phase, as before
    assert len(e2e.result.phases) == 1 and load_council(folder).system_changes("council-tax") == []

    council_edit.accept_phase(
        folder, "council-tax", s.phase_date, s.change.words, "Jo Bloggs", now=dt.datetime(2026, 12, 8, 3, 0)
    )
    written = yaml.safe_load((folder / "council.yaml").read_text())
    entry = next(c for c in written["system_changes"] if c.get("services") == ["council-tax"])
    assert str(entry["date"]) == "2024-07-22" and entry["accepted_by"] == "Jo Bloggs"
    assert str(entry["accepted_at"]).startswith("2026-12-08")
    assert (folder / "council.yaml.prev").exists()
    _, after = _e2e(folder)
    assert [p["start"] for p in after.result.phases][-1] == pd.Timestamp("2024-07-22")  # the recomputed chart
    assert [x for x in after.suggestions if x.status == "suggested"] == []  # never offered again
    with pytest.raises(council_edit.AlreadyDecided, match="already a phase by Jo Bloggs"):
        council_edit.decline_phase(folder, "council-tax", s.phase_date, s.change.words, "Someone else")


def test_a_declined_suggestion_is_recorded_with_who_and_when_and_not_offered_again(northshire, tmp_path):
    import shutil

    folder = tmp_path / "northshire"
    shutil.copytree(northshire, folder)
    _, e2e = _e2e(folder)
    s = next(x for x in e2e.suggestions if x.status == "suggested")
    with pytest.raises(Exception, match="say who decides"):
        council_edit.decline_phase(folder, "council-tax", s.phase_date, s.change.words, "  ")
    council_edit.decline_phase(folder, "council-tax", s.phase_date, s.change.words, "JB")
    declined = load_council(folder).declined_phases("council-tax")
    assert [(d.date.isoformat(), d.declined_by) for d in declined] == [("2024-07-22", "JB")]
    _, after = _e2e(folder)
    assert len(after.result.phases) == 1  # the limits stay
    assert [x for x in after.suggestions if x.status == "suggested"] == []
    assert not any(x.status == "find out" and x.signal.first == s.signal.first for x in after.suggestions)
    with pytest.raises(council_edit.AlreadyDecided, match="was declined by JB"):
        council_edit.accept_phase(folder, "council-tax", s.phase_date, s.change.words, "Jo")


# ------------------------------------------------------------------------------------------------------ Chromium
@pytest.mark.browser
def test_the_measures_page_shows_the_suggestion_and_the_rule_in_chromium(northshire, browser, tmp_path):
    import json

    from systemic_lib.site.pages import build_index_pages

    data, _ = _e2e(northshire)
    root = tmp_path / "reports"
    folder = root / "northshire" / "council-tax"
    folder.mkdir(parents=True)
    (folder / "measure.html").write_text("<html>report</html>")
    meta = {"council": "Northshire Council", "council_slug": "northshire", "service": "council-tax"}
    meta |= {"service_name": "Council tax", "stage": "measure", "period": {"start": "2024-01-01", "end": "2025-03-02"}}
    (folder / "measure.json").write_text(json.dumps(meta | measure.figures(data), default=str))
    build_index_pages(root)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto((root / "northshire" / "measures.html").as_uri())
        cell = page.locator('tr[data-service="council-tax"] td[data-measure="end_to_end_days"]')
        suggestion = cell.locator(".suggestion")
        assert suggestion.is_visible()
        assert suggestion.inner_text().startswith("A new phase from 22 Jul 2024? End-to-end time")
        assert "2 weeks after a recorded change" in suggestion.inner_text()
        rule = page.locator("#rebase-rule").inner_text()
        assert f"within {rebase.REBASE_WINDOW_WEEKS} weeks of a recorded change" in rule
        find_out = page.locator('td[data-measure="failure_demand_pct"] .find-out').inner_text()
        assert "find out what happened" in find_out
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.browser
def test_a_person_accepts_a_suggested_phase_in_the_coach_capability_step(northshire, browser, tmp_path):
    import shutil

    from coach_support import STEP_MS, Server, open_app, said

    from systemic_lib.coach import state

    folder = tmp_path / "northshire"
    shutil.copytree(northshire, folder)
    state.save(folder, step="capability", service="council-tax")
    server = Server(folder, tmp_path / "coach.log")
    context = None
    try:
        context, page = open_app(browser, server, ready=".coach-suggestion")
        row = page.locator(".coach-suggestion")
        assert row.count() == 1 and "A new phase from 22 Jul 2024?" in row.inner_text()
        assert "2 weeks after a recorded change" in row.inner_text()
        shown = page.locator(".coach-capability")
        assert "A new phase from 22 Jul 2024?" in shown.locator(".coach-suggested").inner_text()
        assert "find out what happened" in shown.locator(".coach-find-out").first.inner_text()
        before = (folder / "council.yaml").read_text()
        row.locator(".coach-phase-accept").click()
        said(page, "say who decides")
        assert (folder / "council.yaml").read_text() == before  # nothing changes without a person
        page.locator(".coach-phase-who input").fill("Jo Bloggs")
        row.locator(".coach-phase-accept").click()
        said(page, "Accepted by Jo Bloggs: a new phase from 22 Jul 2024")
        written = yaml.safe_load((folder / "council.yaml").read_text())
        entry = next(c for c in written["system_changes"] if c.get("services") == ["council-tax"])
        assert str(entry["date"]) == "2024-07-22" and entry["accepted_by"] == "Jo Bloggs"
        assert dt.datetime.fromisoformat(str(entry["accepted_at"]).replace("Z", "+00:00")).year >= 2025
        # the step is redrawn: the chart starts its new phase there, and the suggestion is not offered again
        page.locator(".coach-suggestions", has_text="No new phase is suggested").wait_for(timeout=STEP_MS)
        alt = page.locator(".coach-capability img").first.get_attribute("alt")
        assert "Since the change" in alt and "22 July 2024" in alt
        assert page.locator(".coach-capability .coach-suggested").count() == 0
        marked = page.locator(".coach-change .widget-text input").evaluate_all("els => els.map(e => e.value)")
        assert [v for v in marked if v.startswith("Tried: Answered questions about a bill")] == [marked[0]]
    finally:
        if context is not None:
            context.close()
        server.stop()


def test_the_managers_summary_shows_the_councils_measures_from_the_same_result(northshire):
    import re

    from systemic_lib.coach import stagedata
    from systemic_lib.coach.managers import measures_html
    from systemic_lib.site.measures import icon_of

    council = load_council(northshire)
    kept = stagedata.of(northshire)
    shown = measures_html(council, kept)
    rows = re.findall(r"<tr><th scope='row'>([^<]+)</th>(.*?)</tr>", shown, flags=re.S)
    assert [name for name, _ in rows] == [s.name for s in council.services.values()]  # the council's order
    for sid, (_, body) in zip(council.services, rows):
        figures = measure.figures(kept.data("measure", sid))["measures"]
        for mid, m in figures.items():
            cell = re.search(rf"<td data-measure='{mid}'>(.*?)</td>", body, flags=re.S)
            icon = icon_of(m)
            if icon is not None:  # the icon the chart draws, from the same result measure.json holds
                assert cell and f">{icon.words}</span>" in cell.group(1), (sid, mid)
    tax = dict(rows)["Council tax"]
    assert "A new phase from 22 Jul 2024?" in tax
