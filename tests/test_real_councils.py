"""Real public data end to end: councils imported from a BPIC 2015 municipality log, the WABO receipt log and the
Boston 311 extract, every stage rendered by the batch, and the reports checked against the raw files.

The expected figures are read from the raw files here (XES text, the Boston CSV), not from systemic_lib, so an
import or flow bug shows up as a mismatch. One import and one batch per module; about a minute and a half on 2 cores.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from systemic_lib import config, words
from systemic_lib.cli import main as systemic
from systemic_lib.data.council import load_council
from systemic_lib.run.batch import run_batch

pytestmark = pytest.mark.slow

BPIC1 = Path("bpic2015-building-permits/BPIC15_1.xes.gz")
RECEIPT = Path("wabo-receipt/receipt.xes.gz")
BOSTON = Path("boston-311-2015/boston311_2015.csv.gz")
# Every stage of these services (the largest and a small one of each council) plus each council's organisation scan,
# which covers every service; all of the receipt log's single service.
BPIC_SERVICES = ("building-permits", "environmental-permits", "demolition")
BOSTON_SERVICES = ("public-works", "veterans")
STAFF_SOURCES = {"Employee Generated", "City Worker App", "Maximo Integration"}
MAX_BYTES = 500_000
_EVENT_TS = re.compile(r'<date key="time:timestamp" value="([^"]+)"')


def _raw_xes(path: Path) -> dict:
    """Counts, steps and local dates of a log, read straight from the XES text (no XML library, no systemic_lib)."""
    text = gzip.open(path, "rt", encoding="utf-8").read()
    body = text[text.index("<trace>") :]  # the log's global defaults carry a placeholder timestamp: skip them
    stamps = _EVENT_TS.findall(body)
    events_per_case, steps = {}, set()
    for trace in body.split("<trace>")[1:]:
        head, *events = trace.split("<event>")
        case = html.unescape(re.search(r'<string key="concept:name" value="([^"]*)"', head).group(1))
        events_per_case[case] = len(events)
        for ev in events:
            name = re.search(r'key="activityNameEN" value="([^"]*)"', ev)
            code = re.search(r'key="concept:name" value="([^"]*)"', ev)
            steps.add((name and html.unescape(name.group(1)), code and html.unescape(code.group(1))))
    return {
        "cases": len(events_per_case),
        "events": len(stamps),
        "stamps": stamps,
        "steps": steps,
        "events_per_case": events_per_case,
        "local_dates": sorted({s[:10] for s in stamps}),
        "midnight": [s for s in stamps if s[10:19] == "T00:00:00" and s[-6:] in ("+01:00", "+02:00")],
    }


@pytest.fixture(scope="module")
def bpic_raw(real_data):
    return _raw_xes(real_data / BPIC1)


def _run(args: list[str]) -> str:
    res = CliRunner().invoke(systemic, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def real(real_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    bpic, wabo, boston = root / "bpic15-1", root / "wabo-receipt", root / "boston"
    outputs = {
        "bpic": _run(["import", "events", str(real_data / BPIC1), "--council", str(bpic), "--mapping", "bpic2015"]),
        "wabo": _run(
            ["import", "events", str(real_data / RECEIPT), "--council", str(wabo), "--mapping", "wabo_receipt"]
        ),
        "boston": _run(
            ["import", "demand", str(real_data / BOSTON), "--council", str(boston), "--mapping", "boston311"]
        ),
    }
    out = root / "reports"
    quiet = dict(jobs=2, progress=False, echo=lambda _: None)
    results = [
        run_batch([bpic, boston], out, services=BPIC_SERVICES + BOSTON_SERVICES, **quiet),
        run_batch([wabo], out, **quiet),
        run_batch([bpic, boston], out, stages=[config.COUNCIL_STAGE], **quiet),
    ]
    return {
        "root": root,
        "out": out,
        "bpic": bpic,
        "wabo": wabo,
        "boston": boston,
        "import": outputs,
        "results": results,
        "raw": real_data,
    }


def _visible(html: str) -> str:
    html = re.sub(r'src="data:[^"]+"', "", html)
    return re.sub(r"<style.*?</style>", "", html, flags=re.S)


def _figures(real, council: str, service: str | None, stage: str) -> dict:
    base = real["out"] / council
    path = base / f"{stage}.json" if service is None else base / service / f"{stage}.json"
    return json.loads(path.read_text())


def _html(real, council: str, service: str | None, stage: str) -> str:
    base = real["out"] / council
    path = base / f"{stage}.html" if service is None else base / service / f"{stage}.html"
    return path.read_text()


def _words(day: str) -> str:
    d = pd.Timestamp(day)
    return f"{d.day} {d:%B %Y}"


# --------------------------------------------------------------------------------------------------- the batch
def test_every_stage_renders_for_every_real_council(real):
    jobs = [r for res in real["results"] for r in res.results]
    failed = [r for r in jobs if r.status != "ok"]
    assert not failed, "\n".join(f"{r.label()}: {r.error}" for r in failed)
    done = {(r.council, r.service, r.stage) for r in jobs}
    for council, services in (
        ("bpic15-1", BPIC_SERVICES),
        ("boston", BOSTON_SERVICES),
        ("wabo-receipt", tuple(load_council(real["wabo"]).services)),
    ):
        for sid in services:
            assert {(council, sid, s) for s in config.STAGES} <= done
        assert (council, None, config.COUNCIL_STAGE) in done


def test_reports_are_small_and_show_no_code(real):
    reports = sorted(real["out"].glob("*/**/*.html"))
    reports = [p for p in reports if p.name != "index.html"]
    # four stages per service, and per council its organisation scan and its measures on one page
    assert len(reports) == 4 * (len(BPIC_SERVICES) + 1 + len(BOSTON_SERVICES)) + 3 + 3
    for path in reports:
        size = path.stat().st_size
        assert size < MAX_BYTES, f"{path.relative_to(real['out'])} is {size:,} bytes"
        text = _visible(path.read_text())
        for needle in ("from systemic_lib", "import ", "stage = report.start", "Traceback", "Error:"):
            assert needle not in text, f"{path.relative_to(real['out'])} shows code or an error: {needle!r}"


# ------------------------------------------------------------------------------------------ BPIC 2015, log 1
def test_bpic_import_keeps_every_event_and_case_and_the_local_dates(real, bpic_raw):
    raw = bpic_raw
    assert raw["cases"] == 1199 and raw["events"] == 52217  # as SOURCE.md states
    assert f"Imported {raw['events']:,} events of {raw['cases']:,} cases" in real["import"]["bpic"]
    events = pd.read_csv(real["bpic"] / "events.csv", dtype=str)
    assert len(events) == raw["events"] and events["case_id"].nunique() == raw["cases"]
    # A Dutch date-only event (midnight +01:00/+02:00; 22:00 or 23:00 the day before in UTC) keeps its date,
    # and every event keeps the local date written in the file.
    assert len(raw["midnight"]) > 0.4 * raw["events"]
    ts = pd.to_datetime(events["timestamp"])
    assert sorted(ts.dt.strftime("%Y-%m-%d").unique()) == raw["local_dates"]
    assert (ts.dt.strftime("%H:%M:%S") == "00:00:00").sum() == len(raw["midnight"])
    assert list(ts.dt.strftime("%Y-%m-%dT%H:%M:%S")) == [s[:19] for s in raw["stamps"]]


def test_bpic_activities_are_steps_not_merged_names(real, bpic_raw):
    """91 English names are shared by several BPIC step codes (and 21 codes carry several names): merging them by
    name would fake rework and duplicates, splitting a code by its names would split one step. One activity per step
    code, named in English."""
    events = pd.read_csv(real["bpic"] / "events.csv", dtype=str)
    assert events["activity"].nunique() == len({code for _, code in bpic_raw["steps"]})
    assert not events["activity"].str.fullmatch(r"\d\d_[A-Z]+_\w+").any()  # every step has its English name
    assert "activity names are used by several activity codes" in real["import"]["bpic"]


def test_bpic_flow_counts_add_up_to_the_log(real, bpic_raw):
    raw = bpic_raw
    cases = pd.read_csv(real["bpic"] / "cases.csv", dtype=str)
    scan = _figures(real, "bpic15-1", None, config.COUNCIL_STAGE)
    assert sum(s["cases"] for s in scan["services"]) == raw["cases"]  # every case in one service, none dropped
    assert len(scan["services"]) == len(load_council(real["bpic"]).services)
    for sid in BPIC_SERVICES:
        f = _figures(real, "bpic15-1", sid, "flow")
        mine = cases.loc[cases["service"] == sid]
        assert f["cases"] == len(mine) == next(s["cases"] for s in scan["services"] if s["service"] == sid)
        p = f["problems"]
        assert p["Events with no case id"] == 0 and p["Events with no date/time"] == 0
        # every event of the service's cases, as counted in the raw file, is in the flow or counted as a duplicate
        assert f["events"] + p["Exact duplicate events"] == sum(raw["events_per_case"][c] for c in mine["case_id"])
        assert p["Exact duplicate events"] < 0.002 * f["events"]  # true repeats only, not merged steps
        assert f["open_cases"] == mine["closed_at"].isna().sum() < f["cases"]
        assert f["median_days"] is not None and 0 < f["median_days"] <= f["p85_days"]
        assert sum(v["cases"] for v in f["variants"]) <= f["cases"] and 1 <= f["variants_total"] <= f["cases"]
    # Status O is not "open": a case with an end date has ended (most O cases ended years before the extract).
    assert cases["closed_at"].isna().sum() < 0.2 * len(cases)

    bp = _figures(real, "bpic15-1", "building-permits", "flow")
    html = _visible(_html(real, "bpic15-1", "building-permits", "flow"))
    assert f"half take {words.duration(bp['median_days'])} or less" in html
    closed = bp["cases"] - bp["open_cases"]
    # open cases count as still waiting (Kaplan-Meier), never as finished at their last step so far
    assert (
        f"Counting the {bp['open_cases']:,} open cases as still waiting (Kaplan–Meier; {bp['cases']:,} cases, "
        f"{closed:,} finished)" in html
    )
    assert f"{bp['open_cases']:,} cases are still open" in html
    assert f"Checks on {bp['events'] + bp['problems']['Exact duplicate events']:,} events as recorded" in html
    assert f"({bp['cases']:,} cases, {bp['variants_total']:,} different paths)" in html
    assert "Almost every case took a path of its own" in html  # 1 case in 100 shares a path: said plainly
    # a regular permit takes 8 weeks by law: the median building-permit case must be of that order, not hours or years
    assert 30 < bp["median_days"] < 200
    assert bp["rework_share"] < 0.6  # merged step names made 90% of cases look like rework


def test_bpic_reports_name_their_period_in_local_dates(real, bpic_raw):
    raw = bpic_raw
    cases = pd.read_csv(real["bpic"] / "cases.csv", dtype=str)
    events = pd.read_csv(real["bpic"] / "events.csv", dtype=str)
    flows = {sid: _figures(real, "bpic15-1", sid, "flow") for sid in BPIC_SERVICES}
    for sid, f in flows.items():  # each service's first and last local date, as written in the file
        mine = set(cases.loc[cases["service"] == sid, "case_id"])
        days = sorted({s[:10] for s, c in zip(raw["stamps"], events["case_id"]) if c in mine})
        assert (f["period"]["start"], f["period"]["end"]) == (days[0], days[-1])
    assert raw["local_dates"][-1] == "2015-08-01"  # SOURCE.md, through UTC: 2015-07-31
    for sid, f in flows.items():
        html = _html(real, "bpic15-1", sid, "flow")
        assert f"Data period: {_words(f['period']['start'])} to {_words(f['period']['end'])}" in html


def test_bpic_without_demand_renders_plain_notes(real):
    """A council with events but no contacts: the demand stage says so plainly and saves zeros."""
    for sid in BPIC_SERVICES:
        d = _figures(real, "bpic15-1", sid, "demand")
        assert d["contacts"] == 0 and d["failure_pct"] is None
        html = _visible(_html(real, "bpic15-1", sid, "demand"))
        assert "No contacts are recorded for" in html
        assert "<figure" not in html, f"{sid}: the demand report of a service with no contacts draws empty charts"
    scan = _figures(real, "bpic15-1", None, config.COUNCIL_STAGE)
    assert scan["contacts"] == 0


def test_bpic_measure_charts_end_to_end_time_only(real):
    m = _figures(real, "bpic15-1", "building-permits", "measure")["measures"]
    assert set(m) == {"end_to_end_days"}
    e2e = m["end_to_end_days"]
    # about 3 cases a week: charted by calendar month (47 months, Oct 2010 to Sep 2014), not by week
    assert e2e["grain"] == "month" and e2e["n_points"] >= 40 and e2e["phases"] and e2e["phases"][0]["mean"] > 0


# ----------------------------------------------------------------------------------------------- WABO receipt
def test_receipt_flow_matches_the_log(real):
    raw = _raw_xes(real["raw"] / RECEIPT)
    f = _figures(real, "wabo-receipt", "permit-receipt", "flow")
    assert f["cases"] == raw["cases"] == 1434
    assert f["events"] + f["problems"]["Exact duplicate events"] == raw["events"] == 8577
    assert f["variants_total"] == 116  # pm4py's count on the sorted log (SOURCE.md)


# ----------------------------------------------------------------------------------------------------- Boston
def test_boston_rows_balance_and_demand_adds_up(real):
    raw = pd.read_csv(real["raw"] / BOSTON, dtype=str, usecols=["CASE_ENQUIRY_ID", "Source", "SUBJECT"])
    staff = raw["Source"].isin(STAFF_SOURCES)
    assert (
        f"Read {len(raw):,} rows from boston311_2015.csv.gz: wrote {(~staff).sum():,} contacts"
        in real["import"]["boston"]
    )
    scan = _figures(real, "boston", None, config.COUNCIL_STAGE)
    assert scan["contacts"] == (~staff).sum()
    pw = _figures(real, "boston", "public-works", "demand")
    assert pw["contacts"] == ((raw["SUBJECT"] == "Public Works Department") & ~staff).sum()
    assert pw["contacts"] == pw["value"] + pw["failure"] + pw["unclassified"]
    assert sum(t["count"] for t in pw["types"]) == pw["contacts"]
    assert sum(c["contacts"] for c in pw["channels"]) == pw["contacts"]
    html = _visible(_html(real, "boston", "public-works", "demand"))
    assert "Data period: 1 January 2015 to 31 December 2015" in html
    assert f"{pw['contacts']:,} contacts" in html


def test_boston_names_no_service_below_the_minimums_where_to_start(real):
    """Issue 19: where to start never names a service too small to judge. In the Boston 311 extract, Veterans (5
    contacts), Consumer Affairs & Licensing (12), the Police (16) and Neighborhood Services (22) have too few
    classified contacts; they are listed with why, and every service named has at least 30."""
    scan = _figures(real, "boston", None, config.COUNCIL_STAGE)
    where = scan["where_to_start"]
    small = {e["service"] for e in where["excluded"] if e["kind"] == "too small"}
    assert {"veterans", "consumer-affairs-and-licensing", "boston-police-department", "neighborhood-services"} <= small
    by_id = {s["service"]: s for s in scan["services"]}
    assert where["services"] and not set(where["services"]) & small
    for sid in where["services"]:
        assert by_id[sid]["value"] + by_id[sid]["failure"] >= 30
    assert where["sentence"].startswith("From 1 Jan 2015 to 31 Dec 2015, ")


def test_boston_without_events_renders_plain_notes(real):
    """A council with contacts but no events: flow and experiment say so, measure charts the demand measures."""
    for sid in BOSTON_SERVICES:
        flow = _figures(real, "boston", sid, "flow")
        assert flow["cases"] == 0 and flow["median_days"] is None
        html = _visible(_html(real, "boston", sid, "flow"))
        assert "No events are recorded for" in html
        assert "<figure" not in html, f"{sid}: the flow report of a service with no events draws empty charts"
        weekly = _figures(real, "boston", sid, "measure")["measures"]["weekly_demand"]
        contacts = _figures(real, "boston", sid, "demand")["contacts"]
        if contacts > 1000:
            assert weekly["n_points"] >= 50  # a year of whole weeks
        else:  # Veterans: 5 contacts in part weeks; no chart of whole weeks of 0 contacts
            assert weekly["n_points"] == 0 and f"its {contacts:,} contacts" in weekly["note"]


def test_boston_examples_say_more_than_the_request_type(real):
    """Boston's 'verbatim' is the case title, which mostly repeats the request type: examples must add words."""
    html = _html(real, "boston", "public-works", "demand")
    table = html[html.index("Example verbatims") :]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>.*?</td>\s*<td>(.*?)</td>", table, flags=re.S)
    assert rows
    assert all(said.strip().lower() != kind.strip().lower() for kind, said in rows), rows


# ---------------------------------------------------------------------------------------------- in a browser
@pytest.mark.browser
def test_real_reports_fit_the_page_in_a_browser(real, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        for council, sid, stage in [
            ("bpic15-1", "building-permits", "flow"),
            ("bpic15-1", None, "organisation_scan"),
            ("wabo-receipt", "permit-receipt", "flow"),
            ("boston", "public-works", "demand"),
            ("boston", "public-works", "measure"),
        ]:
            base = real["out"] / council
            path = base / f"{stage}.html" if sid is None else base / sid / f"{stage}.html"
            page.goto(path.as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1200, f"{path.name} of {council}/{sid} is {width}px wide: something overflows"
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
            assert broken == 0
    finally:
        page.close()
