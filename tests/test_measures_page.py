"""reports/<council>/measures.html: every service's measures on one page, from each measure.json, never ranked.

Hand-written measure.json files check what each cell shows (latest point, icon, assurance only with a target,
limits, last three points, sentence), escaping and redaction, the council's order and a 57-service council's size.
The sample councils, rendered by the batch (measure stage only), check that the page exists for every council with
every service and that every icon on it is the one its capability chart draws; Chromium sorts and filters it.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from systemic_lib.site.measures import PER_CASE, icon_of
from systemic_lib.site.pages import build_index_pages


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _measure(name="End-to-end time", unit="days", values=(30.0, 28.0, 31.0, 26.5), target=None, **extra) -> dict:
    dates = [d.date().isoformat() for d in pd.date_range(end="2025-02-24", periods=len(values), freq="7D")]
    return {
        "name": name,
        "grain": "week",
        "unit": unit,
        "direction": "decrease",
        "target": target,
        "phases": [
            {"start": "2024-01-01", "end": "2024-08-26", "n": 35, "mean": 40.0, "lower": 30.0, "upper": 50.0},
            {"start": "2024-09-02", "end": dates[-1], "n": 25, "mean": 29.0, "lower": 21.0, "upper": 37.0},
        ],
        "variation": "common_cause",
        "assurance": None,
        "n_points": 60,
        "points": [
            {"date": d, "value": v, "signal": "concern" if i == len(values) - 1 else "common_cause"}
            for i, (d, v) in enumerate(zip(dates, values))
        ],
        "narration": "Each point is one calendar month (few cases). Since the change, it has averaged 29 days. More.",
        "note": None,
        **extra,
    }


def _service(root, council, sid, name, measures: dict, per_case=None, council_name="Northshire Council"):
    folder = root / council / sid
    _write(folder / "measure.html", "<html>report</html>")
    data = {
        "council": council_name,
        "council_slug": council,
        "service": sid,
        "service_name": name,
        "stage": "measure",
        "period": {"start": "2024-01-01", "end": "2025-03-30"},
        "measures": measures,
    }
    if per_case is not None:
        data[PER_CASE] = per_case
    _write(folder / "measure.json", json.dumps(data))


def _scan(root, council, order):
    _write(root / council / "organisation_scan.html", "<html></html>")
    _write(
        root / council / "organisation_scan.json",
        json.dumps({"stage": "organisation_scan", "services": [{"service": s} for s in order]}),
    )


def _cells(html: str) -> dict[tuple[str, str], str]:
    """(service id, measure id) -> the cell's HTML."""
    out = {}
    for sid, body in re.findall(r'<tr data-service="([^"]+)"(.*?)</tr>', html, flags=re.S):
        for mid, cell in re.findall(r'<td data-measure="([^"]+)"(.*?)</td>', body, flags=re.S):
            out[(sid, mid)] = cell
    return out


PER_CASE_BLOCK = {
    "n_finished": 1390,
    "open_cases": 173,
    "phases": [{"first_case": 794, "last_case": 1390, "n": 597, "mean": 29.4, "lower": 0.0, "upper": 59.8}],
    "variation": "special_cause_concern_high",
    "assurance": None,
    "narration": "Since the change, end-to-end time per case has averaged 29 days. A run of 8 points.",
    "last_points": [
        {"case": 1388, "finished": "2025-03-27", "value": 12.0, "signal": "common_cause"},
        {"case": 1389, "finished": "2025-03-28", "value": 40.4, "signal": "common_cause"},
        {"case": 1390, "finished": "2025-03-28", "value": 75.0, "signal": "concern"},
    ],
}


@pytest.fixture
def council(tmp_path):
    root = tmp_path / "reports"
    _service(
        root,
        "northshire",
        "housing-repairs",
        "Housing repairs",
        {
            "end_to_end_days": _measure(values=(30.0, 28.0, 31.0, 26.4)),
            "one_stop_pct": _measure(
                "Resolved at first contact", "%", (40.0, 41.0, 55.4), target=50, assurance="hit_and_miss"
            ),
        },
        per_case=PER_CASE_BLOCK,
    )
    _service(
        root,
        "northshire",
        "council-tax",
        "Council tax",
        {"end_to_end_days": _measure(values=(3.0, 2.0, 2.5), assurance="pass")},  # assurance with no target
    )
    _write(root / "northshire" / "waste" / "demand.html", "<html></html>")  # a service with no measure report
    _scan(root, "northshire", ["waste", "housing-repairs", "council-tax"])
    return root


def test_each_cell_shows_what_measure_json_holds(council):
    build_index_pages(council)
    html = (council / "northshire" / "measures.html").read_text(encoding="utf-8")
    cells = _cells(html)
    e2e = cells[("housing-repairs", "end_to_end_days")]
    assert "26 days" in e2e and "week of 24 Feb 2025" in e2e  # the latest point, with its date
    assert "limits 21 to 37 days (since 2 Sep 2024, 25 weeks)" in e2e  # the latest phase's limits
    assert 'data-variation="common_cause"' in e2e and "Latest point: common cause, no signal" in e2e
    assert "data-assurance" not in e2e  # no target, no assurance icon
    assert "Last 3 weeks: 28 days (10 Feb 2025), 31 days (17 Feb 2025), 26 days (24 Feb 2025)" in e2e
    assert e2e.count("<circle") == 3 and 'role="img"' in e2e
    assert "Since the change, it has averaged 29 days." in e2e  # the narration's first sentence on what it does
    one_stop = cells[("housing-repairs", "one_stop_pct")]
    assert "55%" in one_stop and "limits 21 to 37%" in one_stop
    assert 'data-assurance="hit_and_miss"' in one_stop and "Hit and miss target" in one_stop  # a target set
    # a measure.json that says "pass" without a target: no assurance icon
    assert "data-assurance" not in cells[("council-tax", "end_to_end_days")]
    assert "Will consistently" not in cells[("council-tax", "end_to_end_days")]
    # the service does not name the measure: a dash
    assert cells[("council-tax", "one_stop_pct")].strip().endswith("—")
    # end-to-end time per case right after the weekly end-to-end time, from its last_points
    heads = re.findall(r'<th scope="col" data-measure="([^"]+)"', html)
    assert heads == ["end_to_end_days", PER_CASE, "one_stop_pct"]
    per_case = cells[("housing-repairs", PER_CASE)]
    assert "75 days" in per_case and "case 1,390, finished 28 Mar 2025" in per_case
    assert 'data-variation="special_cause_concern_high"' in per_case and "limits 0.0 to 60 days" in per_case
    assert "Last 3 cases finished: 12 days (case 1,388), 40 days (case 1,389), 75 days (case 1,390)" in per_case
    assert "no chart" in cells[("council-tax", PER_CASE)] or cells[("council-tax", PER_CASE)].strip().endswith("—")
    # linked from the council's index
    index = (council / "northshire" / "index.html").read_text(encoding="utf-8")
    assert 'href="measures.html"' in index


def test_services_are_in_the_councils_order_never_ranked(council):
    build_index_pages(council)
    html = (council / "northshire" / "measures.html").read_text(encoding="utf-8")
    order = re.findall(r'<tr data-service="([^"]+)"', html)
    assert order == ["waste", "housing-repairs", "council-tax"]  # the organisation scan's order, every service
    assert "No measure report yet." in html  # waste has no measure report: still on the page, saying so
    assert "never in order of a figure" in html and "as on the council's index" in html
    options = re.findall(r'<option value="([^"]*)"', html)
    assert all(
        o in ("", "special", "concern", "improvement", "neutral", "council", "name") or o.startswith("group:")
        for o in options
    ), options  # no order by a value


def test_icons_are_the_charts_latest_point_where_measure_json_has_a_reading():
    m = _measure()
    assert icon_of(m).key == "common_cause"
    m["reading"] = {
        "value": "no change",
        "sentence": "No lasting change.",
        "latest_point": "special_cause_concern_high",
    }
    assert icon_of(m).key == "special_cause_concern_high" and icon_of(m).meaning == "concern"
    assert icon_of({"variation": None}) is None


def test_the_readings_sentence_is_used_where_there_is_one(tmp_path):
    root = tmp_path / "reports"
    m = _measure(reading={"value": "improvement", "sentence": "A real improvement since the change.", "views": []})
    _service(root, "eastvale", "waste", "Waste", {"end_to_end_days": m}, council_name="Eastvale")
    build_index_pages(root)
    html = (root / "eastvale" / "measures.html").read_text(encoding="utf-8")
    assert "A real improvement since the change." in html and "it has averaged 29 days" not in html


def test_names_and_sentences_are_escaped_and_redacted(tmp_path):
    root = tmp_path / "reports"
    hostile = "<script>alert(1)</script> call 07700 900123"
    m = _measure(name=f"Fixed {hostile}", narration=f"Since “{hostile}” it has averaged 3 days. More.")
    _service(root, "eastvale", "waste", f"Bins {hostile}", {"custom": m}, council_name=f"East {hostile}")
    build_index_pages(root)
    html = (root / "eastvale" / "measures.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "07700" not in html


def test_odd_measure_json_does_not_stop_the_pages(tmp_path):
    root = tmp_path / "reports"
    m = _measure()
    m["points"][-1]["date"] = "not a date"
    m["phases"][-1]["start"] = 12
    _service(root, "eastvale", "waste", "Waste", {"end_to_end_days": m, "odd": "text", "one_stop_pct": {}})
    build_index_pages(root)
    assert "26 days" in (root / "eastvale" / "measures.html").read_text(encoding="utf-8")


def test_no_page_without_a_measure_report(tmp_path):
    root = tmp_path / "reports"
    _write(root / "eastvale" / "waste" / "demand.html", "<html></html>")
    build_index_pages(root)
    assert not (root / "eastvale" / "measures.html").exists()
    assert "measures.html" not in (root / "eastvale" / "index.html").read_text(encoding="utf-8")


def test_a_57_service_council_stays_small(tmp_path):
    """The real 57-service shape: every service with the sample's measures and per-case end-to-end time, 65 weeks
    of points each. The page holds only the last three points, so it grows with services, not with weeks."""
    root = tmp_path / "reports"
    ids = ["end_to_end_days", "failure_demand_pct", "weekly_demand", "one_stop_pct", "delivered_when_wanted_pct"]
    for k in range(57):
        values = tuple(20.0 + (k * 7 + i * 3) % 17 for i in range(65))
        measures = {mid: _measure(name=mid.replace("_", " "), values=values) for mid in ids}
        _service(root, "bigcity", f"service-{k + 1}", f"Service {k + 1}", measures, per_case=PER_CASE_BLOCK)
    build_index_pages(root)
    page = root / "bigcity" / "measures.html"
    html = page.read_text(encoding="utf-8")
    assert len(re.findall(r'<tr data-service="', html)) == 57
    assert html.count('<svg class="spark"') == 57 * 6
    assert page.stat().st_size < 1_000_000, f"{page.stat().st_size:,} bytes"


# ------------------------------------------------------------------------------------- the sample councils


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The three sample councils' measure reports and organisation scans, rendered by the batch (15 notebooks), and
    their pages."""
    from systemic_lib.data.sample import write_sample_councils
    from systemic_lib.run.batch import run_batch

    root = tmp_path_factory.mktemp("measures")
    folders = write_sample_councils(root / "councils")
    result = run_batch(
        folders,
        root / "reports",
        jobs=2,
        stages=["measure", "organisation_scan"],  # the scan gives the index its council.yaml order
        progress=False,
        echo=lambda _: None,
        cache_dir=root / "cache",
    )
    assert result.failed == [], result.summary()
    return folders, root / "reports"


def _icon_words(cell: str) -> str | None:
    found = re.search(r'<span class="icon variation [a-z_]+">([^<]*)</span>', cell)
    return found.group(1) if found else None


@pytest.mark.slow
def test_every_sample_council_has_the_page_with_every_service(samples):
    from systemic_lib.data.council import load_council

    folders, reports = samples
    for folder in folders:
        page = reports / folder.name / "measures.html"
        html = page.read_text(encoding="utf-8")
        services = list(load_council(folder).services)
        assert re.findall(r'<tr data-service="([^"]+)"', html) == services, folder.name
        assert 'href="measures.html"' in (reports / folder.name / "index.html").read_text(encoding="utf-8")
        cells = _cells(html)
        for sid in services:
            data = json.loads((reports / folder.name / sid / "measure.json").read_text(encoding="utf-8"))
            for mid, m in data["measures"].items():
                cell = cells[(sid, mid)]
                icon = icon_of(m)
                if icon is None:
                    assert "data-variation" not in cell
                    continue
                assert f'data-variation="{icon.key}"' in cell, (sid, mid)
                last = m["points"][-1]
                assert f"of {pd.Timestamp(last['date']):%-d %b %Y}" in cell  # the latest point's week
            per_case = data.get(PER_CASE)
            if per_case and per_case.get("variation"):
                assert len(per_case["last_points"]) == 3
                assert f'data-variation="{per_case["variation"]}"' in cells[(sid, PER_CASE)]


@pytest.mark.slow
def test_every_icon_on_the_page_is_the_one_its_chart_draws(samples):
    """Each cell's icon against the badge its capability chart draws (the chart the measure report shows, drawn
    again here from the same council): the same words and the same colour, for every measure of every service."""
    import matplotlib.pyplot as plt

    from systemic_lib.analysis import measure
    from systemic_lib.display import report
    from systemic_lib.display.charts import measure as charts
    from systemic_lib.display.charts.style import PALETTE

    folders, reports = samples
    checked = 0
    for folder in folders:
        cells = _cells((reports / folder.name / "measures.html").read_text(encoding="utf-8"))
        for service in sorted({sid for sid, _ in cells}):
            data = measure.load(report.start(folder, service, stage="measure"))
            drawn = [(r.id, charts.chart(r)) for r in data.results if r.result is not None]
            if data.per_case is not None and data.per_case.result is not None:
                e2e = next((r for r in data.results if r.id == "end_to_end_days"), None)
                drawn.append((PER_CASE, charts.case_chart(data.per_case, reading=e2e.reading if e2e else None)))
            for mid, ax in drawn:
                badge = next(t for t in ax.texts if t.get_gid() == "variation_badge")
                cell = cells[(service, mid)]
                words = badge.get_text()
                assert _icon_words(cell) == words, (folder.name, service, mid)
                meaning = re.search(r'<span class="icon variation ([a-z_]+)">', cell).group(1)
                assert PALETTE.get(meaning, PALETTE["common_cause"]) == badge.badge_colour, (service, mid)
                plt.close(ax.figure)
                checked += 1
    assert checked >= 40  # every charted measure of the 12 sample services


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_sorts_and_filters_in_chromium_and_reads_without_script(samples, browser, tmp_path):
    from systemic_lib.data.council import load_council

    folders, reports = samples
    folder = next(f for f in folders if f.name == "northshire")
    services = list(load_council(folder).services.values())
    url = (reports / folder.name / "measures.html").as_uri()
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    rows = page.locator("#measures tbody tr")

    def shown() -> list[str]:
        return [rows.nth(i).get_attribute("data-service") for i in range(rows.count()) if rows.nth(i).is_visible()]

    assert page.locator("#controls").is_visible()
    assert shown() == [s.id for s in services]  # as the council lists them
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no page-wide sideways scroll
    page.select_option("#order", "name")
    assert shown() == [s.id for s in sorted(services, key=lambda s: s.name.lower())]
    page.select_option("#order", "council")
    assert shown() == [s.id for s in services]
    page.fill("#filter-name", "council")
    named = [s.id for s in services if "council" in s.name.lower()]
    assert named and shown() == named
    assert page.locator("#shown").inner_text() == f"{len(named)} of {len(services)} services shown"
    page.fill("#filter-name", "")
    page.select_option("#filter-group", "special")
    special = shown()
    for sid in special:
        groups = page.locator(f'#measures tbody tr[data-service="{sid}"]').get_attribute("data-groups").split()
        assert {"concern", "improvement", "neutral"} & set(groups)
    page.select_option("#filter-group", "")
    page.select_option("#order", "group:0")  # grouped by what the first measure's latest point is
    first = [rows.nth(i).get_attribute("data-groups").split()[0] for i in range(rows.count())]
    from systemic_lib.site.measures import GROUPS

    assert first == sorted(first, key=GROUPS.index)
    pdf = page.pdf(prefer_css_page_size=True)  # A4 landscape from the print style
    assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
    assert errors == []
    page.close()

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    plain = context.new_page()
    plain.goto(url)
    assert not plain.locator("#controls").is_visible()
    assert plain.locator("#measures tbody tr").count() == len(services)
    assert plain.locator("#measures tbody tr").nth(len(services) - 1).is_visible()
    context.close()
