"""Coach mode as a team uses it: ``systemic coach`` started as a real process, the app driven in headless Chromium.

The council is Testshire (conftest) with twenty more unclassified housing-repairs contacts, so that two people can
classify at once. One server serves the module (127.0.0.1, a free port, the token it prints); the kill-and-restart
test replaces it. Screenshots (1280x720, a projector) go to ``docs/coach/`` for the README with SYSTEMIC_SCREENSHOTS=1. The unit tests at the top
need no browser. Every server is stopped, its whole process group, when the module ends, also after a failure.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from systemic_lib import config
from systemic_lib.coach import STEP_IDS, state
from systemic_lib.coach.activities import mark_steps
from systemic_lib.coach.readiness import check, data_by_step, problem_rows

from conftest import TESTSHIRE, free_port, write_council

SERVICE = "housing-repairs"
#: The README's screenshots are refreshed with SYSTEMIC_SCREENSHOTS=1 (the room's access code changes every run, so an
#: ordinary test run keeps its screenshots out of the tree).
SHOTS = (
    config.PROJECT_ROOT / "docs" / "coach"
    if os.environ.get("SYSTEMIC_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "systemic-coach-screenshots"
)
START_S = 90  # the server answering
STEP_MS = 120_000  # a step built (the first one includes the kernel starting; slow on a busy machine)
ACT_MS = 30_000  # one action answered
VIEW = {"width": 1280, "height": 720}
HEADINGS = {
    "choose": "Choose the service",
    "purpose": "Purpose",
    "demand": "Demand workshop",
    "capability": "Capability",
    "flow": "Flow",
    "conditions": "System conditions and thinking",
    "experiment": "Experiment and learning",
    "managers": None,
}


def coach_council(folder: Path) -> Path:
    """Testshire plus U01-U20: unclassified housing-repairs contacts for the workshop."""
    extra = "".join(
        f"U{i:02d},housing-repairs,2024-01-{i + 5:02d} 10:00,phone,Contact number {i} about my repair,fix boiler,,,,\n"
        for i in range(1, 21)
    )
    return write_council(folder, {**TESTSHIRE, "demand.csv": TESTSHIRE["demand.csv"] + extra})


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


class Server:
    """``systemic coach`` as a subprocess (its own process group); ``url`` is the one it printed."""

    def __init__(self, council: Path, log: Path, *extra: str):
        self.council, self.log, self.port = council, log, free_port()
        env = {k: v for k, v in os.environ.items() if k != "SYSTEMIC_BATCH"}
        env["PYTHONPATH"] = os.pathsep.join([str(config.PROJECT_ROOT), env.get("PYTHONPATH", "")])
        env["SYSTEMIC_ROOT"] = str(config.PROJECT_ROOT)
        self.started = time.monotonic()
        self.out = open(log, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "systemic_lib.cli",
                "coach",
                str(council),
                "--port",
                str(self.port),
                "--no-browser",
                *extra,
            ],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.url = self._printed(r"Coach app for \S+: (\S+)")
        self.code = self._printed(r"Access code: (\S+)") if "--room" in extra else None
        self.join = self._printed(r"join at: (\S+)") if "--room" in extra else None

    def _printed(self, pattern: str) -> str:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log.read_text(errors="replace"))
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                pytest.fail(f"systemic coach exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"systemic coach printed no {pattern!r}:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            for s, wait in ((sig, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, s)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.out.close()


@pytest.fixture(scope="module")
def coach(tmp_path_factory):
    root = tmp_path_factory.mktemp("coach")
    council = coach_council(root / "testshire")
    holder = {"server": Server(council, root / "coach.log")}
    try:
        yield holder
    finally:
        holder["server"].stop()


def open_app(browser, server: Server, requests: list | None = None):
    context = browser.new_context(viewport=VIEW, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(ACT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(server.url, timeout=STEP_MS)
    page.locator(".coach-steps").wait_for(timeout=STEP_MS)
    return context, page


def go(page, step: str) -> None:
    page.locator(f".coach-step-{step}").click()
    if HEADINGS[step]:
        page.locator(".coach-body h2", has_text=re.compile(rf"^{re.escape(HEADINGS[step])}$")).wait_for(timeout=STEP_MS)
    else:
        page.locator(".coach-summary").wait_for(timeout=STEP_MS)
    page.wait_for_timeout(300)


def said(page, text: str):
    """Wait for a saved/problem message containing ``text``; return its text."""
    loc = page.locator("[role=status], [role=alert]", has_text=text).first
    loc.wait_for(timeout=ACT_MS)
    return loc.inner_text()


def decided(page, person: str, before: str) -> str:
    """Wait for the workshop's message to change from ``before`` to a decision by ``person``; return the contact id."""
    handle = page.wait_for_function(
        """([person, before]) => { const m = document.querySelector('.coach-said [role=status]');
             return m && m.innerText !== before && m.innerText.endsWith('by ' + person + '.') ? m.innerText : false; }""",
        arg=[person, before],
        timeout=ACT_MS,
    )
    return handle.json_value()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png")


def widget_input(page, label: str, kind: str = "input"):
    return (
        page.locator(
            ".widget-inline-hbox, .widget-textarea, .widget-text",
            has=page.locator("label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")),
        )
        .locator(kind)
        .first
    )


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
        widget_input(page, "What changed").fill("New repairs triage")
        widget_input(page, "Date of the change").fill("2024-01-10")
        page.locator(".coach-mark-change").click()
        said(page, "as a system change")
        assert "New repairs triage" in (council / "council.yaml").read_text()
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
        widget_input(page, "Who can change it").fill("Head of Repairs")
        form.locator(".coach-add-condition").click()
        said(page, "Added system condition")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False)
        assert rows.iloc[-1]["raised_in"] == "flow" and "Pre-inspection rule" in rows.iloc[-1]["system_condition"]

        go(page, "conditions")
        assert "Pre-inspection rule <b>over 250</b>" in page.locator(".coach-conditions").inner_text()  # escaped
        shot(page, "6-conditions")

        go(page, "experiment")
        widget_input(page, "What we tried", "textarea").fill("Fix on the first visit, no pre-inspection")
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
        log = pd.read_csv(council / "learning_log.csv", dtype=str, keep_default_na=False)
        assert (log.iloc[-1]["condition_id"], log.iloc[-1]["system_condition"]) == (condition_id, "")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
        assert tuple(rows.loc[condition_id, ["status", "changed_at"]]) == ("changed", "2024-01-15")
        shot(page, "7-experiment")

        # the changed condition is a phase on the capability charts; the team can turn it off
        go(page, "capability")
        phase = page.locator(".coach-condition-phase", has_text="Pre-inspection rule <b>over 250</b>")
        assert phase.locator("input").is_checked()
        phase.locator("input").uncheck()
        said(page, "no longer shown as a phase")
        rows = pd.read_csv(council / "system_conditions.csv", dtype=str, keep_default_na=False).set_index("id")
        assert rows.loc[condition_id, "phase"] == "no"

        go(page, "managers")
        shot(page, "8-managers")
        sections = page.locator(".coach-summary section").count()
        assert sections == 6
        page.emulate_media(media="print")
        shown_controls = page.evaluate("""() => [...document.querySelectorAll(
              'button, input, select, textarea, .widget-slider, .coach-steps')]
            .filter(e => e.getClientRects().length > 0).map(e => e.outerHTML.slice(0, 80))""")
        assert shown_controls == [], shown_controls
        pdf = page.pdf(format="A4", print_background=True)
        if os.environ.get("SYSTEMIC_COACH_PDF"):  # to look at by eye
            Path(os.environ["SYSTEMIC_COACH_PDF"]).write_bytes(pdf)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        assert pages == sections, f"{pages} pages for {sections} sections"
        page.emulate_media(media="screen")

        assert state.read(council)["step"] == "managers"
        assert page.errors == []
        local = server.url.split("/?")[0]
        outside = [u for u in requests if not (u.startswith(local) or u.startswith(("data:", "blob:")))]
        assert outside == [], f"assets from outside the machine: {outside[:5]}"
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_two_people_classify_at_once_and_every_decision_lands_once(coach, browser):
    server = coach["server"]
    people = []
    try:
        for name in ("AB", "CD"):
            context, page = open_app(browser, server)
            people.append((name, context, page))
            go(page, "demand")
            page.locator(".coach-person input").fill(name)
            page.locator(".coach-start").click()
            page.locator(".coach-verbatim").wait_for(timeout=ACT_MS)
        got: dict[str, list[str]] = {"AB": [], "CD": []}
        last = {"AB": "", "CD": ""}
        for turn in range(5):
            for name, _, page in people:  # both press their keys before either waits: the kernels work at once
                if name == "AB":
                    page.keyboard.press("v")
                else:
                    page.keyboard.press("f")
                    page.locator(".coach-key-1").wait_for(state="visible")
                    page.keyboard.press("1")
            for name, _, page in people:
                last[name] = decided(page, name, last[name])
                got[name].append(re.match(r"(\S+): ", last[name]).group(1))
                if turn == 0:
                    shot(page, f"3-demand-workshop-{name}")
        ab, cd = got["AB"], got["CD"]
        assert len(set(ab)) == 5 and len(set(cd)) == 5 and not set(ab) & set(cd), got
        for _, _, page in people:  # each browser's tally follows the room, not only its own decisions
            page.locator(".coach-tally", has_text="10 decided in this workshop").wait_for(timeout=ACT_MS)
        _, _, page = people[0]
        page.locator(".coach-fold").click()
        said(page, "written into demand.csv")
        demand = pd.read_csv(server.council / "demand.csv", dtype=str, keep_default_na=False)
        for name, ids in got.items():
            rows = demand[demand["contact_id"].isin(ids)]
            assert len(rows) == len(ids) == rows["contact_id"].nunique()
            assert (rows["classified_by"] == f"coach:{name}").all()
            assert (rows["classification"] == ("value" if name == "AB" else "failure")).all()
        assert demand["contact_id"].is_unique
    finally:
        for _, context, _ in people:
            context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_killed_mid_save_the_restarted_app_loses_nothing(coach, browser, tmp_path):
    server = coach["server"]
    context, page = open_app(browser, server)
    go(page, "demand")
    page.locator(".coach-person input").fill("EF")
    page.locator(".coach-start").click()
    page.locator(".coach-verbatim").wait_for(timeout=ACT_MS)
    ids, last = [], ""
    for _ in range(3):
        page.keyboard.press("v")
        last = decided(page, "EF", last)
        ids.append(re.match(r"(\S+): ", last).group(1))
    page.keyboard.press("u")  # undo the third: it comes back, and is decided again
    last = said(page, f"Undid your decision on {ids[-1]}.")
    page.locator(".coach-verbatim", has_text=f"{ids[-1]} ").wait_for(timeout=ACT_MS)
    page.keyboard.press("v")
    last = decided(page, "EF", last)
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


@pytest.mark.slow
@pytest.mark.browser
def test_room_shows_a_join_code_and_refuses_requests_without_it(tmp_path, browser):
    council = coach_council(tmp_path / "room")
    server = Server(council, tmp_path / "room.log", "--room")
    try:
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", server.code)
        assert server.join.endswith(f"?token={server.code}") and "127.0.0.1" not in server.join
        base = f"http://127.0.0.1:{server.port}"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        deadline = time.monotonic() + START_S
        while True:
            try:
                opener.open(base + "/", timeout=10)
                status = 200
            except urllib.error.HTTPError as exc:
                status, location = exc.code, exc.headers.get("Location", "")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the room server did not answer"
                time.sleep(0.3)
                continue
            break
        assert status in (302, 403) and (status == 403 or "login" in location), status
        for path in ("/api/kernels", "/?token=WRONG123", "/api/kernels?token=WRONG123"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                opener.open(base + path, timeout=10)
            assert refused.value.code in (302, 403), path

        context, page = open_app(browser, server)
        try:
            assert page.locator(".coach-access-code").inner_text() == server.code
            assert page.locator(".coach-qr svg").count() == 1
            shot(page, "0-room-join")
        finally:
            context.close()
    finally:
        server.stop()


def test_the_coach_command_is_registered_and_says_what_it_does():
    from click.testing import CliRunner

    from systemic_lib.cli import main

    result = CliRunner().invoke(main, ["coach", "--help"])
    assert result.exit_code == 0
    for option in ("--service", "--port", "--no-browser", "--room"):
        assert option in result.output
    assert "coach" in CliRunner().invoke(main, ["--help"]).output


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
