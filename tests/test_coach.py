"""Coach mode as a team uses it: ``systemic coach`` started as a real process, the app driven in headless Chromium.

The council is Testshire (conftest) with twenty more unclassified housing-repairs contacts, so that two people can
classify at once. One server serves the module (127.0.0.1, a free port, the token it prints); the kill-and-restart
test replaces it. Screenshots (1280x720, a projector) go to ``docs/coach/`` for the README with SYSTEMIC_SCREENSHOTS=1. The unit tests at the top
need no browser. Every server is stopped, its whole process group, when the module ends, also after a failure.
"""

from __future__ import annotations

import io
import os
import re
import signal
import unicodedata
from pathlib import Path

import a11y
import pandas as pd
import pytest
from coach_support import (
    ACT_MS,
    HEADINGS,
    SERVICE,
    STEP_MS,
    Server,
    coach_council,
    decided,
    go,
    join_workshop,
    open_app,
    said,
    shot,
    widget_input,
)
from pypdf import PdfReader

from systemic_lib.coach import STEP_IDS, state
from systemic_lib.coach.activities import mark_steps
from systemic_lib.coach.readiness import check, data_by_step, problem_rows

from conftest import TESTSHIRE, write_council

#: What the walk types into free-text fields that must never reach a coach screen or the managers' PDF.
IDENTIFIERS = ("07700 900123", "jo.bloggs@example.com", "SW1A 1AA")


# ------------------------------------------------------------------------------------------- without a browser
def test_readiness_says_what_each_step_has_and_misses(tmp_path):
    r = check(coach_council(tmp_path / "c"))
    assert r.errors == [] and r.services[SERVICE] == "Housing repairs"
    rows = data_by_step(r.council, SERVICE).set_index("step")
    assert list(rows.index) == ["Purpose", "Demand", "Capability", "Flow", "Experiment"]
    # C01-C09 and C12 (8 classified: C06 blank, C09 "weird") and U01-U20 (blank)
    assert rows.loc["Demand", "what the council has"] == "30 contacts, 8 classified"
    assert "22 contacts to classify" in rows.loc["Demand", "what is missing"]
    assert rows.loc["Capability", "what the council has"] == "4 cases (3 closed)"
    assert "No measures chosen yet" in rows.loc["Purpose", "what is missing"]
    waste = data_by_step(r.council, "waste").set_index("step")
    assert "no contacts for this service" in waste.loc["Demand", "what is missing"]


def test_a_council_with_errors_lists_file_row_column_and_fix(tmp_path):
    folder = coach_council(tmp_path / "c")
    (folder / "cases.csv").write_text("case_id,service,opened_at,closed_at\nR1,housing-repairs,not a date,\n")
    r = check(folder)
    rows = problem_rows(r.errors)
    assert len(rows) >= 1 and (rows["file"] == "cases.csv").all()
    assert rows.iloc[0]["row"] == "2" and rows.iloc[0]["column"] == "opened_at" and rows.iloc[0]["fix"]

    from systemic_lib.coach.app import App

    app = App(folder)
    shown = "".join(getattr(c, "value", "") for c in app.box.children)
    assert "the data need fixing first" in shown and "cases.csv" in shown and "opened_at" in shown
    assert "Traceback" not in shown


def test_state_resumes_and_ignores_a_damaged_file(tmp_path):
    assert state.read(tmp_path) == {"step": "choose", "service": None}
    state.save(tmp_path, step="flow", service=SERVICE)
    assert state.read(tmp_path)["step"] == "flow"
    state.path(tmp_path).write_text("{not json")
    assert state.read(tmp_path)["step"] == STEP_IDS[0]


def test_mark_steps_keeps_other_rows_and_adds_new_ones(tmp_path):
    folder = coach_council(tmp_path / "c")
    mark_steps(folder, SERVICE, {"Inspect": "value", "Chase": "waste"})
    got = pd.read_csv(folder / "activities.csv", dtype=str, keep_default_na=False)
    mine = got[got["service"] == SERVICE].set_index("activity")
    assert mine.loc["Inspect", "step_type"] == "value" and mine.loc["Inspect", "category"] == "check"
    assert mine.loc["Chase", "step_type"] == "waste" and mine.loc["Chase", "category"] == ""
    assert len(got) == 6 and (folder / "activities.csv.prev").exists()
    with pytest.raises(Exception, match="value or waste"):
        mark_steps(folder, SERVICE, {"Fix": "maybe"})


def test_join_panel_escapes_and_draws_the_qr_here():
    from systemic_lib.coach.choose import join_panel

    shown = join_panel("http://10.0.0.5:8866/?token=ABCD2345&x=<b>")
    assert "ABCD2345" in shown and "<svg" in shown and "<b>" not in shown
    assert "src=" not in shown and "<script" not in shown  # drawn inline, nothing fetched


# ------------------------------------------------------------------------------------------------------ server


@pytest.fixture(scope="module")
def coach(tmp_path_factory):
    root = tmp_path_factory.mktemp("coach")
    council = coach_council(root / "testshire")
    holder = {"server": Server(council, root / "coach.log")}
    try:
        yield holder
    finally:
        holder["server"].stop()


# -------------------------------------------------------------------------------------------------- the walk
@pytest.mark.slow
@pytest.mark.browser
def test_walk_every_step_and_save_what_the_team_decides(coach, browser):
    server = coach["server"]
    council = server.council
    requests: list[str] = []
    context, page = open_app(browser, server, requests)
    try:
        shot(page, "1-choose")
        assert "4 cases (3 closed)" in page.locator(".coach-body").inner_text()

        go(page, "purpose")
        widget_input(page, "Purpose", "textarea").fill("Fix my home properly, first time, when it suits me")
        page.locator(".coach-measure-one_stop_pct input").check()
        page.locator(".coach-measure-end_to_end_days input").check()
        shot(page, "2-purpose")
        page.locator(".coach-save-purpose").click()
        said(page, "Saved to council.yaml")
        yaml_text = (council / "council.yaml").read_text()
        assert "Fix my home properly, first time, when it suits me" in yaml_text
        assert "one_stop_pct" in yaml_text and "end_to_end_days" in yaml_text and "target" not in yaml_text

        go(page, "demand")
        shot(page, "3-demand")

        go(page, "capability")
        # the date starts at the last date in the service's data (U20, 25 January 2024), not today
        assert widget_input(page, "Date of the change").input_value() == "2024-01-25"
        widget_input(page, "Date of the change").fill("2024-01-10")
        widget_input(page, "What changed").focus()
        page.keyboard.type("Repairs triage: jobs checked before they go out", delay=0)  # machine speed,
        page.locator(".coach-mark-change").click()  # and the button at once: no letter lost
        said(page, "as a system change")
        assert "label: 'Repairs triage: jobs checked before they go out'" in (council / "council.yaml").read_text()
        # a change marked with a slip is corrected in place (the previous council.yaml kept)
        row = page.locator(".coach-change").first  # the only change marked for the service
        assert row.locator(".widget-text input").input_value() == "Repairs triage: jobs checked before they go out"
        row.locator(".widget-text input").fill("New repairs triage")
        row.locator(".coach-change-save").click()
        said(page, "Saved the change as “New repairs triage”")
        yaml_text = (council / "council.yaml").read_text()
        assert "label: New repairs triage" in yaml_text and "before they go out" not in yaml_text
        assert "before they go out" in (council / "council.yaml.prev").read_text()
        shot(page, "4-capability")

        go(page, "flow")
        page.locator(".coach-step-type", has_text="Inspect").locator("select").select_option("value")
        page.locator(".coach-save-steps").click()
        said(page, "steps to activities.csv")
        cat = pd.read_csv(council / "activities.csv", dtype=str, keep_default_na=False)
        assert cat.set_index(["service", "activity"]).loc[(SERVICE, "Inspect"), "step_type"] == "value"
        shot(page, "5-flow")

        # "Why does this happen?" from the flow step: a system condition raised at flow
        page.locator(".coach-why").click()
        form = page.locator(".coach-condition-form")
        assert form.locator("select").first.input_value() == "flow"
        widget_input(page, "Waste we see", "textarea").fill("Inspect before every repair: a second visit")
        widget_input(page, "System condition", "textarea").fill("Pre-inspection rule <b>over 250</b>")
        widget_input(page, "Who can change it").fill("Head of Repairs, 07700 900123")
        form.locator(".coach-add-condition").click()
        said(page, "Added system condition")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False)
        assert rows.iloc[-1]["raised_in"] == "flow" and "Pre-inspection rule" in rows.iloc[-1]["system_condition"]

        go(page, "conditions")
        assert "Pre-inspection rule <b>over 250</b>" in page.locator(".coach-conditions").inner_text()  # escaped
        assert "07700 900123" not in page.locator(".coach-body").inner_text()  # what the team typed, redacted
        shot(page, "6-conditions")

        go(page, "experiment")
        widget_input(page, "What we tried", "textarea").fill("Fix on the first visit, no pre-inspection")
        widget_input(page, "What we learned", "textarea").fill("Ask jo.bloggs@example.com, who lives at SW1A 1AA")
        # the entry links to the condition raised at the flow step (picked, not typed again) and marks it changed
        condition_id = rows.iloc[-1]["id"]
        picker = widget_input(page, "System condition", "select")
        picker.select_option(label=f"{condition_id}: Pre-inspection rule <b>over 250</b>")
        widget_input(page, "Status", "select").select_option(label="changed")
        widget_input(page, "Changed on").fill("2024-01-15")
        page.locator("button", has_text="Add to the learning log").click()
        entries = page.locator(".coach-learning-log", has_text="Fix on the first visit")
        entries.wait_for(timeout=ACT_MS)
        assert "Pre-inspection rule <b>over 250</b>" in entries.inner_text()  # its words, by its id, escaped
        assert not [i for i in IDENTIFIERS if i in page.locator(".coach-body").inner_text()]
        log = pd.read_csv(council / "learning_log.csv", dtype=str, keep_default_na=False)
        assert (log.iloc[-1]["condition_id"], log.iloc[-1]["system_condition"]) == (condition_id, "")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
        assert tuple(rows.loc[condition_id, ["status", "changed_at"]]) == ("changed", "2024-01-15")
        shot(page, "7-experiment")

        # step 6 corrects the condition: what changed names its phase
        go(page, "conditions")
        correct = page.locator(".coach-correct")
        pick = correct.locator(".coach-correct-pick select")
        pick.select_option(label=pick.locator("option", has_text=f"{condition_id}:").inner_text())
        assert widget_input(correct, "Status", "select").input_value() == "changed"
        widget_input(correct, "What changed").fill("pre-inspection over 250 pounds removed")
        correct.locator(".coach-correct-save").click()
        said(page, f"Saved {condition_id} (changed)")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
        assert rows.loc[condition_id, "what_changed"] == "pre-inspection over 250 pounds removed"
        assert rows.loc[condition_id, "system_condition"] == "Pre-inspection rule <b>over 250</b>"  # untouched

        # the changed condition is a phase on the capability charts, named by what changed; it can be turned off
        go(page, "capability")
        phase = page.locator(
            ".coach-condition-phase", has_text="Since 15 Jan 2024: pre-inspection over 250 pounds removed"
        )
        assert phase.locator("input").is_checked()
        phase.locator("input").uncheck()
        said(page, "no longer shown as a phase")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
        assert rows.loc[condition_id, "phase"] == "no"

        go(page, "managers")
        shot(page, "8-managers")
        sections = page.locator(".coach-summary section").count()
        assert sections == 7  # with the council's measures at a glance
        assert not [i for i in IDENTIFIERS if i in page.locator(".coach-summary").inner_text()]
        page.emulate_media(media="print")
        shown_controls = page.evaluate("""() => [...document.querySelectorAll(
              'button, input, select, textarea, .widget-slider, .coach-steps')]
            .filter(e => e.getClientRects().length > 0).map(e => e.outerHTML.slice(0, 80))""")
        assert shown_controls == [], shown_controls
        charts = page.locator(".coach-summary img[alt]").count()
        assert charts >= 2  # failure demand by type, end-to-end time per case (too few weeks for a measure here)
        pdf = page.pdf(format="A4", print_background=True)
        if os.environ.get("SYSTEMIC_COACH_PDF"):  # to look at by eye
            Path(os.environ["SYSTEMIC_COACH_PDF"]).write_bytes(pdf)
        printed = PdfReader(io.BytesIO(pdf))
        texts = [p.extract_text() or "" for p in printed.pages]
        images = sum(len(p.images) for p in printed.pages)
        assert images == charts, f"{images} images printed for {charts} charts"
        pages = [(len(t.split()), len(p.images)) for t, p in zip(texts, printed.pages)]  # (words, charts) a page
        # sections flow on: no page nearly blank (the last may be short), none before the summary
        assert all(n > 30 or k for n, k in pages[:-1]) and pages[-1][0] > 5 and pages[0][0] > 30, pages
        text = " ".join(unicodedata.normalize("NFKC", " ".join(texts)).split())  # "ﬁ" ligatures as "fi"
        assert "What failed, most often first" in text
        found = [i for i in IDENTIFIERS if i in text or i.replace(" ", "") in text.replace(" ", "")]
        assert not found, f"identifiers in the managers' PDF: {found}"
        page.emulate_media(media="screen")

        assert state.read(council)["step"] == "managers"
        assert page.errors == []
        local = server.url.split("/?")[0]
        outside = [u for u in requests if not (u.startswith(local) or u.startswith(("data:", "blob:")))]
        assert outside == [], f"assets from outside the machine: {outside[:5]}"
    finally:
        context.close()


FOCUS_RING = """(el) => { el.focus(); const s = getComputedStyle(el);
    return [document.activeElement === el, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""


@pytest.mark.slow
@pytest.mark.browser
def test_every_step_passes_axe_with_a_visible_focus_and_the_current_step_not_by_colour_alone(coach, browser):
    """axe-core 4 (WCAG 2.0, 2.1 and 2.2 A and AA rules) on each step of the app, with data on every step."""
    context, page = open_app(browser, coach["server"])
    try:
        for step in HEADINGS:
            go(page, step)
            if step == "flow":
                page.locator(".coach-map img, .coach-journey img").nth(1).wait_for(timeout=ACT_MS)
            found = a11y.violations(page)
            assert found == [], f"{step}:\n{a11y.describe(found)}"
            current = page.locator(".coach-steps .coach-current")
            assert current.get_attribute("aria-current") == "step"
            look = current.evaluate(
                "(el) => { const s = getComputedStyle(el); const b = getComputedStyle(el, '::before');"
                " return [s.fontWeight, parseFloat(s.borderBottomWidth), b.content]; }"
            )
            assert int(look[0]) >= 700 and look[1] >= 3 and "\u25b6" in look[2], look  # not colour alone
        # a visible focus ring (3 px or more) on every kind of control, text boxes included
        go(page, "purpose")
        controls = {
            "text box": page.locator(".coach-purpose-text textarea"),
            "check box": page.locator(".coach-measure-one_stop_pct input"),
            "drop-down": page.locator(".coach-app select").first,
            "button": page.locator(".coach-save-purpose"),
            "step": page.locator(".coach-step-demand"),
        }
        for what, loc in controls.items():
            focused, style, width = loc.first.evaluate(FOCUS_RING)
            assert focused and style != "none" and width >= 3, (what, style, width)
        go(page, "demand")
        focused, style, width = page.locator(".coach-join-form input").evaluate(FOCUS_RING)
        assert focused and style != "none" and width >= 3, ("name box", style, width)
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_killed_mid_save_the_restarted_app_loses_nothing(coach, browser, tmp_path):
    server = coach["server"]
    context, page = open_app(browser, server)
    go(page, "demand")
    join_workshop(page, "EF")
    ids, last = [], ""
    # The desk drops a key pressed before the next contact is drawn (by design): each press here waits for it, as
    # the message of a decision arrives just before the next contact does.
    ready = page.locator(".coach-desk:not(.coach-waiting)")
    for _ in range(3):
        ready.wait_for(timeout=ACT_MS)
        page.keyboard.press("v")
        last = decided(page, "EF", last)
        ids.append(re.match(r"(\S+): ", last).group(1))
    ready.wait_for(timeout=ACT_MS)
    page.keyboard.press("u")  # undo the third: it comes back, and is decided again
    last = said(page, f"Undid your decision on {ids[-1]}.")
    page.locator(f".coach-verbatim[data-contact='{ids[-1]}']").wait_for(timeout=ACT_MS)
    ready.wait_for(timeout=ACT_MS)
    page.keyboard.press("v")
    last = decided(page, "EF", last)
    ready.wait_for(timeout=ACT_MS)
    assert last.startswith(f"{ids[-1]}: value")
    page.keyboard.press("v")  # a fourth decision in flight when the server dies
    server.stop(signal.SIGKILL)
    context.close()

    restarted = Server(server.council, tmp_path / "restarted.log")
    coach["server"] = restarted
    context, page = open_app(browser, restarted)
    try:
        # resumes on the step the team was on, and every decision made before the kill is there
        page.locator(".coach-body h2", has_text="Demand workshop").wait_for(timeout=STEP_MS)
        page.locator(".coach-fold").click()
        said(page, "written into demand.csv")
        demand = pd.read_csv(server.council / "demand.csv", dtype=str, keep_default_na=False).set_index("contact_id")
        for cid in ids:
            assert demand.loc[cid, "classified_by"] == "coach:EF" and demand.loc[cid, "classification"] == "value"
    finally:
        context.close()


def test_the_coach_command_is_registered_and_says_what_it_does():
    from click.testing import CliRunner

    from systemic_lib.cli import main

    result = CliRunner().invoke(main, ["coach", "--help"])
    assert result.exit_code == 0
    for option in ("--service", "--port", "--no-browser", "--room"):
        assert option in result.output
    top = CliRunner().invoke(main, ["--help"])
    assert top.exit_code == 0 and "coach" in top.output


@pytest.mark.slow
def test_capability_draws_each_measure_with_its_narration_as_alt_text(tmp_path):
    from systemic_lib.coach.capability import charts_html
    from systemic_lib.data.sample import write_sample_councils

    northshire = next(f for f in write_sample_councils(tmp_path) if f.name == "northshire")
    shown = charts_html(northshire, SERVICE)
    images = re.findall(r'<img class="coach-chart" alt="([^"]+)"[^>]*src="data:image/png;base64,', shown)
    # every measure charted, described in words: the five built-in ones and the service's own ("fixed for good")
    assert len(images) == 6 and all(len(alt) > 40 for alt in images)


def test_the_condition_form_asks_when_a_changed_condition_was_changed(tmp_path):
    import datetime as dt

    from systemic_lib.coach.condition_form import ConditionForm

    council = coach_council(tmp_path / "testshire")
    form = ConditionForm(council, "housing-repairs", raised_in="capability")
    assert form.changed_at.layout.display == "none"
    form.waste_seen.value, form.system_condition.value = "A second visit", "Pre-inspection rule"
    form.status.value = "changed"
    assert form.changed_at.layout.display is None
    form.changed_at.value = dt.date(2024, 1, 15)
    new_id = form.submit()
    rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
    assert tuple(rows.loc[new_id, ["raised_in", "status", "changed_at"]]) == ("capability", "changed", "2024-01-15")
    form.waste_seen.value, form.status.value = "Waiting", "open"  # not changed: no date written
    second = form.submit()
    rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
    assert rows.loc[second, "changed_at"] == ""


def test_opening_a_council_moves_its_learning_log_conditions_into_system_conditions(tmp_path):
    """A council that kept its conditions in the learning log: the app turns them into system_conditions rows once
    and links each entry by id, so every step reads the one record."""
    from systemic_lib.coach.app import App

    log = (
        "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status\n"
        "2024-01-10,housing-repairs,Diagnose on the first call,,Pre-inspection rule,A second visit,Head of "
        "Repairs,open\n"
    )
    council = write_council(tmp_path / "testshire", {**TESTSHIRE, "learning_log.csv": log})
    App(council)
    rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False)
    assert rows[["id", "system_condition", "raised_in"]].values.tolist() == [
        ["SC-001", "Pre-inspection rule", "experiment"]
    ]
    entry = pd.read_csv(council / "learning_log.csv", dtype=str, keep_default_na=False).iloc[0]
    assert (entry["condition_id"], entry["system_condition"]) == ("SC-001", "")
    App(council)  # again: nothing more
    assert len(pd.read_csv(council / "system_conditions.csv")) == 1


# ------------------------------------------------------------------------------- the workshop's kernel side
def _desk(council, person: str, *, coach: bool = False):
    from systemic_lib.coach.workshop import Workshop

    ws = Workshop(council, SERVICE, live=None, coach=coach)
    ws._on_msg(None, {"do": "start", "person": person})
    return ws


def test_the_desk_decides_only_the_contact_it_shows_and_a_locked_store_keeps_what_was_typed(tmp_path):
    import sqlite3

    from systemic_lib.data.decisions import store_path

    council = coach_council(tmp_path / "c", extra=3)
    ab, cd = _desk(council, "AB"), _desk(council, "CD")
    shown = ab.desk.contact["id"]
    assert ab.desk.view == "contact" and cd.desk.contact["id"] != shown
    drawn = cd.desk.drawn
    cd._on_msg(
        None, {"do": "decide", "contact": shown, "classification": "value"}
    )  # a stale or forged id: AB's contact
    assert cd.desk.said["kind"] == "problem" and "not on your screen" in cd.desk.said["text"]
    assert cd.desk.drawn == drawn + 1  # redrawn: the browser takes key presses again
    other = sqlite3.connect(store_path(council), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        drawn = ab.desk.drawn
        ab._on_msg(None, {"do": "decide", "contact": shown, "classification": "value", "demand_type": "typed here"})
        assert ab.desk.said["kind"] == "problem" and "locked by another program" in ab.desk.said["text"]
        assert ab.desk.drawn == drawn and ab.desk.contact["id"] == shown  # not redrawn: what was typed stays
    finally:
        other.execute("ROLLBACK")
        other.close()
    ab._on_msg(None, {"do": "decide", "contact": shown, "classification": "value", "demand_type": "typed here"})
    assert ab.desk.said["text"] == f"{shown}: value, by AB."
    assert ab.store.live().set_index("contact_id").loc[shown, "demand_type"] == "typed here"


def test_a_calibration_round_shows_how_far_the_room_agrees(tmp_path):
    council = coach_council(tmp_path / "c", extra=30)
    coach = _desk(council, "Coach", coach=True)
    coach.calibration.begin()
    people = {"AB": coach, "CD": _desk(council, "CD"), "EF": _desk(council, "EF")}
    people["AB"].person = "AB"
    people["AB"].next_one()
    for person, ws in people.items():
        n = 0
        while ws.desk.view == "contact":
            assert ws.desk.contact["note"].startswith("Calibration round: contact")
            if person == "EF" and n % 2:
                ws._on_msg(
                    None,
                    {
                        "do": "decide",
                        "contact": ws.desk.contact["id"],
                        "classification": "failure",
                        "failure_type": "not done",
                    },
                )
            else:
                ws._on_msg(None, {"do": "decide", "contact": ws.desk.contact["id"], "classification": "value"})
            n += 1
        assert n == 20 and ws.desk.view == "wait" and "calibration round" in ws.desk.end
    coach.calibration.refresh()
    shown = coach.calibration.view.value
    assert "On value or failure the room agrees" in shown and "20 contacts classified by 3 people" in shown
    assert "10 contacts to discuss" in shown and "EF: not done" in shown
    coach.calibration.finish()
    coach.refresh()
    assert people["CD"].store.round(SERVICE) is None
