"""Index pages built from whatever reports are on disk: grid, headline figures, failures, skips, escaping."""

import json
import os
import re
import time

import pytest

from systemic_lib.site import pages
from systemic_lib.site.pages import build_index_pages, headline_figures, scan_reports


def _write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _report(root, council, service, stage, figures=None, council_name="Northshire Council", service_name=None):
    folder = root / council / service if service else root / council
    _write(folder / f"{stage}.html", "<html>report</html>")
    if figures is not None:
        meta = {
            "council": council_name,
            "council_slug": council,
            "service": service,
            "service_name": service_name,
            "stage": stage,
            "period": {"start": "2024-01-01", "end": "2024-12-31"},
        }
        _write(folder / f"{stage}.json", json.dumps({**meta, **figures}))


def _manifest(root, jobs):
    _write(root / "manifest.json", json.dumps({"jobs": jobs}))


@pytest.fixture
def reports(tmp_path):
    """Two councils on disk: Northshire with two services (one failed flow), Eastvale with one."""
    root = tmp_path / "reports"
    _report(
        root,
        "northshire",
        "housing-repairs",
        "demand",
        {"contacts": 300, "value": 120, "failure": 180, "failure_pct": 60.0},
        service_name="Housing repairs",
    )
    _report(
        root,
        "northshire",
        "housing-repairs",
        "flow",
        {"cases": 40, "median_days": 34.0},
        service_name="Housing repairs",
    )
    _report(
        root,
        "northshire",
        "council-tax",
        "demand",
        {"contacts": 100, "value": 80, "failure": 20, "failure_pct": 20.0},
        service_name="Council tax",
    )
    _write(root / "northshire" / "council-tax" / "flow.ipynb", "{}")
    _report(root, "northshire", None, "organisation_scan", {"services": 2})
    _report(root, "eastvale", "waste", "demand", {"contacts": 5}, council_name="Eastvale", service_name="Waste")
    _manifest(
        root,
        [
            {
                "council": "northshire",
                "council_name": "Northshire Council",
                "service": "council-tax",
                "service_name": "Council tax",
                "stage": "flow",
                "status": "failed",
                "error": {
                    "name": "KeyError",
                    "message": "'timestamp'",
                    "cell": 5,
                    "execution_count": 4,
                    "source": "flow.summary(stage)",
                },
            },
            {
                "council": "northshire",
                "council_name": "Northshire Council",
                "service": "council-tax",
                "service_name": "Council tax",
                "stage": "measure",
                "status": "skipped",
                "error": {"name": "MissingNotebook", "message": "notebooks/measure.ipynb does not exist"},
            },
            {
                "council": "badshire",
                "council_name": "Badshire",
                "service": None,
                "stage": None,
                "status": "skipped",
                "error": {
                    "name": "InvalidCouncil",
                    "message": "1 error(s) in the council's data",
                    "problems": ["ERROR: demand.csv, row 2, column 'received_at': cannot read 'x' as a date"],
                },
            },
        ],
    )
    return root


def test_headline_figures_per_stage():
    assert headline_figures("demand", {"contacts": 12304, "failure_pct": 41.2}) == [
        "12,304 contacts",
        "41% failure demand",
    ]
    assert headline_figures("flow", {"median_days": 34.0, "cases": 1}) == ["median 34 days end to end", "1 case"]
    assert headline_figures("flow", {"median_days": 2.5}) == ["median 2.5 days end to end"]
    assert headline_figures(
        "experiment",
        {"experiment_cases": 20, "baseline_cases": 31, "measures": [{"name": "End-to-end time", "change_pct": -64.2}]},
    ) == ["20 experiment cases vs 31 baseline", "End-to-end time: -64%"]
    # the interval and the reading beside the change, and a warning where the demand mix differs
    assert headline_figures(
        "experiment",
        {
            "experiment_cases": 20,
            "baseline_cases": 31,
            "mix_differs": True,
            "measures": [
                {
                    "name": "End-to-end time",
                    "change_pct": -64.2,
                    "interval": [-80.4, -40.1],
                    "interval_unit": "%",
                    "reading": "clear improvement",
                }
            ],
        },
    ) == [
        "20 experiment cases vs 31 baseline",
        "End-to-end time: -64% (interval -80% to -40%: clear improvement)",
        "demand mix differs between cohorts, unlikely to be chance (tested at the 5% level)",
    ]
    assert (
        headline_figures(
            "experiment",
            {
                "experiment_cases": 6,
                "measures": [
                    {
                        "name": "End-to-end time",
                        "change_pct": -10,
                        "interval": None,
                        "reading": "too few cases to judge",
                    }
                ],
            },
        )[1]
        == "End-to-end time: -10% (too few cases to judge)"
    )
    # every change shown, each with its interval and reading; end-to-end time with each cohort's open cases
    exp = {
        "experiment_cases": 367,
        "baseline_cases": 540,
        "measures": [
            {
                "name": "End-to-end time",
                "change_pct": -75.4,
                "interval": [-77.3, -73.8],
                "interval_unit": "%",
                "reading": "clear improvement",
                "open_baseline": 178,
                "open_experiment": 24,
            },
            {
                "name": "Assessments",
                "change_pct": -3.2,
                "interval": [-9.1, 2.5],
                "interval_unit": "%",
                "reading": "could be noise",
            },
            {
                "name": "Face-to-face time",
                "change_pct": 30.4,
                "change_points": 14.0,
                "interval": [9.4, 18.2],
                "interval_unit": "points",
                "reading": "clear improvement",
            },
        ],
    }
    assert headline_figures("experiment", exp) == [
        "367 experiment cases vs 540 baseline",
        "End-to-end time: -75% (interval -77% to -74%: clear improvement) (178 baseline and 24 experiment cases "
        "still open)",
        "Assessments: -3% (interval -9% to +2%: could be noise)",
        "Face-to-face time: +14 points (interval +9 points to +18 points: clear improvement)",
    ]
    # a median not reached: "more than N days", and no change invented
    assert (
        headline_figures(
            "experiment",
            {
                "experiment_cases": 5,
                "baseline_cases": 6,
                "measures": [
                    {
                        "name": "End-to-end time",
                        "change_pct": None,
                        "interval": None,
                        "reading": "too many cases still open to judge",
                        "open_baseline": 2,
                        "open_experiment": 3,
                        "at_least": {"experiment": 5.0},
                    }
                ],
            },
        )[1]
        == "End-to-end time: experiment more than 5.0 days (2 baseline and 3 experiment cases still open)"
    )
    # flow: the Kaplan–Meier median with its open cases beside it, "more than N" where not reached
    assert headline_figures("flow", {"median_days": 28.1, "cases": 700, "end_to_end": {"open_cases": 12}}) == [
        "median 28 days (12 still open) end to end",
        "700 cases",
    ]
    assert headline_figures(
        "flow", {"median_days": None, "end_to_end": {"median_at_least": 40.0, "open_cases": 90}}
    ) == ["median more than 40 days (90 still open) end to end"]
    assert headline_figures(
        "measure",
        {
            "measures": {
                "a": {"last_point_signal": "improvement"},
                "b": {"last_point_signal": None},
                "c": {"last_point_signal": "common_cause"},
                "d": {"last_point_signal": "concern"},
            }
        },
    ) == ["4 measures", "latest point getting worse on 1 measure, improving on 1 measure"]
    assert headline_figures("measure", {"measures": [{"last_point_signal": "common_cause"}]}) == [
        "1 measure",
        "no special cause at the latest point",
    ]
    assert headline_figures("measure", {"measures": [{"last_point_signal": "neutral"}]}) == [
        "1 measure",
        "latest point unusual on 1 measure",
    ]
    assert headline_figures(
        "experiment",
        {
            "has_experiment": False,
            "experiment_cases": 0,
            "baseline_cases": 0,
            "headline": "No experiment set up for Waste yet: add an experiment "
            "to council.yaml and cohorts to cases.csv.",
        },
    ) == ["no experiment"]  # short: the long sentence would repeat in every row of the grid
    assert headline_figures("experiment", {"experiment_cases": 0}) == ["no experiment"]
    assert headline_figures("organisation_scan", {"services": 4}) == ["4 services"]
    assert headline_figures("organisation_scan", {"services": [{"service": "a"}, {"service": "b"}]}) == ["2 services"]


def test_end_to_end_days_are_whole_from_ten_and_one_decimal_below():
    assert headline_figures("flow", {"median_days": 28.9}) == ["median 29 days end to end"]
    assert headline_figures("flow", {"median_days": 8.06}) == ["median 8.1 days end to end"]


def test_headline_figures_tolerate_missing_and_odd_values():
    assert headline_figures("demand", {}) == []
    assert headline_figures("demand", None) == []
    assert headline_figures("demand", ["not", "a", "dict"]) == []
    assert headline_figures("demand", {"contacts": "many", "failure_pct": float("nan")}) == []
    assert headline_figures("demand", {"contacts": True}) == []
    assert headline_figures("measure", {"measures": "oops"}) == []
    assert headline_figures("flow", {"headline": "Cases took a median 34 days"}) == ["Cases took a median 34 days"]
    assert headline_figures("unknown-stage", {"contacts": 3}) == []


def test_council_grid_links_figures_and_failures(reports):
    build_index_pages(reports)
    page = (reports / "northshire" / "index.html").read_text(encoding="utf-8")
    assert 'href="housing-repairs/demand.html"' in page
    assert "300 contacts" in page and "60% failure demand" in page
    assert "median 34 days end to end" in page
    assert 'failed — see <a href="council-tax/flow.ipynb">flow.ipynb</a>' in page
    assert "cell 5 (In [4]): flow.summary(stage)" in page and "KeyError" in page
    assert "MissingNotebook" in page  # the skipped measure stage says why
    assert 'href="organisation_scan.html"' in page and "2 services" in page
    assert 'href="../index.html"' in page
    # the grid has one row per service and one column per stage
    assert page.count('<th scope="row">') == 2 and "Understand demand" in page and "Measure</th>" in page


def test_top_index_lists_every_council_with_totals_and_skips(reports):
    index = build_index_pages(reports)
    assert index == reports / "index.html"
    top = index.read_text(encoding="utf-8")
    assert 'href="northshire/index.html"' in top and 'href="eastvale/index.html"' in top
    assert "400 contacts" in top  # 300 + 100
    # (180 + 20) / (120 + 180 + 80 + 20), said with what it covers: councils run different services (issue 19)
    assert "50% failure demand across the 2 services below (200 of 400 classified contacts)" in top
    assert "<td>34 days</td>" in top  # median end-to-end days of housing repairs (no open count in its flow.json)
    assert "Badshire" in top and "Skipped by the last batch" in top and "cannot read" in top
    assert "1 report failed" in top
    # a skipped council with no reports gets no council page of its own
    assert not (reports / "badshire").exists()


def test_failure_newer_than_an_old_report_shows_both(reports):
    folder = reports / "northshire" / "housing-repairs"
    old = time.time() - 100
    os.utime(folder / "flow.html", (old, old))
    _write(folder / "flow.ipynb", "{}")
    build_index_pages(reports)
    page = (reports / "northshire" / "index.html").read_text(encoding="utf-8")
    assert 'href="housing-repairs/flow.ipynb"' in page and 'href="housing-repairs/flow.html">earlier report' in page


def test_only_named_council_pages_are_rewritten_but_top_index_lists_all(reports):
    build_index_pages(reports)
    eastvale = reports / "eastvale" / "index.html"
    before = eastvale.read_bytes()
    os.utime(eastvale, (1, 1))
    build_index_pages(reports, councils={"northshire"})
    assert eastvale.stat().st_mtime == 1 and eastvale.read_bytes() == before
    assert "Eastvale" in (reports / "index.html").read_text(encoding="utf-8")


def test_names_from_data_are_escaped(tmp_path):
    root = tmp_path / "reports"
    evil = "<script>alert('x')</script> & Co"
    _report(
        root,
        "evil",
        "waste",
        "demand",
        {"contacts": 2, "headline": evil},
        council_name=evil,
        service_name="<b>Waste</b>",
    )
    _manifest(
        root,
        [
            {
                "council": "worse",
                "council_name": "<img src=x onerror=alert(1)>",
                "service": None,
                "stage": None,
                "status": "skipped",
                "error": {
                    "name": "InvalidCouncil",
                    "message": "<script>bad()</script>",
                    "problems": ["<script>p()</script>"],
                },
            }
        ],
    )
    build_index_pages(root)
    for page in (root / "index.html", root / "evil" / "index.html"):
        text = page.read_text(encoding="utf-8")
        assert (
            not re.search(r"<script>(alert|bad|p)\(", text) and "<img src=x" not in text and "<b>Waste</b>" not in text
        )
    assert "&lt;script&gt;alert(" in (root / "evil" / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;Waste&lt;/b&gt;" in (root / "index.html").read_text(encoding="utf-8")


def test_unreadable_manifest_and_json_do_not_stop_the_pages(tmp_path, capsys):
    root = tmp_path / "reports"
    _report(root, "northshire", "housing-repairs", "demand", None)
    _write(root / "northshire" / "housing-repairs" / "demand.json", "{not json")
    _write(root / "manifest.json", "[1, 2")
    build_index_pages(root)
    page = (root / "northshire" / "index.html").read_text(encoding="utf-8")
    assert 'href="housing-repairs/demand.html"' in page
    assert "manifest.json cannot be read" in capsys.readouterr().err


def test_empty_reports_folder_gives_a_plain_top_index(tmp_path):
    index = build_index_pages(tmp_path / "reports")
    assert "No reports yet" in index.read_text(encoding="utf-8")
    assert scan_reports(tmp_path / "reports") == []


def test_council_slug_with_odd_characters_is_quoted_in_links(tmp_path):
    root = tmp_path / "reports"
    _report(root, "north shire", "waste", "demand", {"contacts": 1}, service_name="Waste")
    build_index_pages(root)
    assert 'href="north%20shire/index.html"' in (root / "index.html").read_text(encoding="utf-8")
    assert pages.STAGE_NAMES["flow"] == "Map flow"


def test_council_page_shows_where_to_start_and_lists_services_in_scan_order(reports):
    """organisation_scan.json as the scan notebook writes it: services in council.yaml order, where to start."""
    scan = {
        "contacts": 400,
        "start_with": "housing-repairs",
        "where_to_start": {
            "services": ["housing-repairs"],
            "close_call": False,
            "excluded": [],
            "sentence": "Start with Housing repairs: it has the most failure demand (180 contacts, 60% of its "
            "classified demand, led by \u201cwhen will my repair be done?\u201d).",
        },
        "services": [
            {"service": "housing-repairs", "service_name": "Housing repairs", "contacts": 300},
            {"service": "council-tax", "service_name": "Council tax", "contacts": 100},
        ],
    }
    _report(reports, "northshire", None, "organisation_scan", scan)
    build_index_pages(reports)
    page = (reports / "northshire" / "index.html").read_text(encoding="utf-8")
    assert "Organisation scan</a>: 2 services" in page
    assert (
        '<p class="headline where">Start with Housing repairs: it has the most failure demand (180 contacts, 60% of its '
        "classified demand, led by \u201cwhen will my repair be done?\u201d)."
    ) in page
    # council.yaml order (housing-repairs first), not alphabetical (council-tax first)
    assert page.index(">Housing repairs<") < page.index(">Council tax<")
    top = (reports / "index.html").read_text(encoding="utf-8")
    assert top.index("<td>Housing repairs</td>") < top.index("<td>Council tax</td>")


def test_where_to_start_from_data_is_escaped(reports):
    _report(
        reports,
        "northshire",
        None,
        "organisation_scan",
        {"where_to_start": "Start with <script>alert(1)</script>", "services": []},
    )
    build_index_pages(reports)
    page = (reports / "northshire" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
