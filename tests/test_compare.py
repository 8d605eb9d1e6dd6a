"""Councils compared: services matched by id or name, figures side by side from hand-made stage JSONs, never ranked.

Every expected figure below is computed by hand from the JSON written in the test.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from systemic_lib.site import compare
from systemic_lib.site.compare import Entry, compare_councils, match_services, normalise_name
from systemic_lib.site.pages import build_index_pages


def demand(failure, value, *, unclassified=0, rules=None, start="2024-01-01", end="2024-12-29"):
    out = {
        "period": {"start": start, "end": end},
        "contacts": failure + value + unclassified,
        "value": value,
        "failure": failure,
        "unclassified": unclassified,
        "failure_pct": round(100 * failure / (failure + value), 1),
    }
    if rules is not None:
        out["classified_by_rules"] = rules
    return out


def flow(median, *, at_least=None, open_cases=0, cases=100, start="2024-01-02", end="2024-12-20"):
    return {
        "period": {"start": start, "end": end},
        "cases": cases,
        "median_days": median,
        "median_at_least": at_least,
        "open_cases": open_cases,
        "end_to_end": {"cases": cases, "open_cases": open_cases, "median_days": median, "median_at_least": at_least},
    }


def measure(
    values,
    *,
    start="2024-01-01",
    mean=None,
    lower=None,
    upper=None,
    unit="days",
    mid="end_to_end_days",
    name="End-to-end time",
):
    """Weekly points from Monday ``start``; one phase over them all."""
    import pandas as pd

    dates = [(pd.Timestamp(start) + pd.Timedelta(weeks=i)).date().isoformat() for i in range(len(values))]
    points = [{"date": d, "value": v, "signal": "common_cause"} for d, v in zip(dates, values)]
    phases = (
        [{"start": dates[0], "end": dates[-1], "n": len(values), "mean": mean, "lower": lower, "upper": upper}]
        if values
        else []
    )
    return {
        "period": {"start": start, "end": dates[-1] if dates else start},
        "measures": {
            mid: {
                "name": name,
                "unit": unit,
                "grain": "week",
                "phases": phases,
                "points": points,
                "n_points": len(values),
                "note": None,
            }
        },
    }


def entry(council, service_id, service_name, **data):
    return Entry(council.lower(), council, service_id, service_name, data, f"{council.lower()}/index.html")


# ------------------------------------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    "a, b",
    [
        ("Waste & Recycling", "waste and recycling"),
        ("  Council   Tax ", "council tax"),
        ("Housing-repairs", "housing repairs"),
        ("A&B", "a and b"),
    ],
)
def test_names_match_ignoring_case_spaces_and_ampersand(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_different_names_do_not_match():
    assert normalise_name("Waste") != normalise_name("Waste collection")
    assert normalise_name(None) == ""


def test_services_match_by_id_or_by_name_and_only_across_councils():
    entries = [
        entry("Northshire", "waste", "Waste & recycling"),
        entry("Eastbrook", "bins", "Waste and Recycling"),
        entry("Westmere", "waste", "Rubbish"),
        entry("Westmere", "planning", "Planning"),
        entry("Northshire", "tax", "Council tax"),
        entry("Northshire", "tax2", "Council  TAX"),
    ]
    groups = match_services(entries)
    # waste <-> bins by name, waste <-> Westmere's waste by id; council tax appears twice in one council only: no group
    assert [[(e.council_name, e.service_id) for e in g] for g in groups] == [
        [("Eastbrook", "bins"), ("Northshire", "waste"), ("Westmere", "waste")]
    ]


# ------------------------------------------------------------------------------------------------ figures


def test_figures_side_by_side_with_counts_periods_and_rules_share():
    result = compare_councils(
        [
            entry(
                "Westmere",
                "benefits",
                "Benefits",
                demand=demand(30, 70, unclassified=5, rules=21),
                flow=flow(12.0, open_cases=8, cases=120),
            ),
            entry(
                "Northshire",
                "benefits",
                "Benefits",
                demand=demand(600, 400, rules=0),
                flow=flow(None, at_least=40.0, open_cases=90, cases=150),
            ),
        ]
    )
    (shared,) = result.shared
    assert shared.name == "Benefits" and shared.ids == ["benefits"] and result.alone == []
    north, west = shared.rows  # alphabetical by council, never by a figure
    assert (north.council, west.council) == ("Northshire", "Westmere")
    assert north.failure == "60%" and north.failure_count == "600 of 1,000 classified contacts"
    assert north.rules == "0% (0 of 1,000 contacts)" and north.unclassified == ""
    assert west.failure == "30%" and west.failure_count == "30 of 100 classified contacts"
    assert west.unclassified == "5 contacts not yet classified"
    assert west.rules == "20% (21 of 105 contacts)"  # 21 / 105
    assert north.failure_period == "1 Jan 2024 to 29 Dec 2024"
    assert north.end_to_end_period == "2 Jan 2024 to 20 Dec 2024"
    # the Kaplan–Meier median not reached: "more than", with the open cases
    assert north.end_to_end == "more than 40 days" and north.open_cases == "90 of 150 cases"
    assert west.end_to_end == "12 days" and west.open_cases == "8 of 120 cases"
    assert shared.warnings == []


def test_missing_figures_show_a_dash_and_say_what_is_missing():
    result = compare_councils(
        [
            entry("Eastbrook", "parking-permits", "Parking permits", demand={"period": {}, "contacts": "many"}),
            entry("Westmere", "parking-permits", "Parking permits", flow={"cases": 3}),
        ]
    )
    east, west = result.shared[0].rows
    assert east.failure == "—" and east.failure_count == "" and east.rules == "—"
    assert east.failure_period == "period not known" and east.end_to_end_period == "no flow report"
    assert east.end_to_end == "—" and east.open_cases == ""
    assert west.failure_period == "no demand report" and west.end_to_end == "—"


def test_end_to_end_falls_back_to_the_measure_report():
    per_case = {
        "period": {"start": "2024-01-01", "end": "2024-06-30"},
        "end_to_end_per_case": {"definition": {"cases": 50, "open_cases": 4, "median_days": 9.04}},
    }
    result = compare_councils([entry("A", "s", "S", measure=per_case), entry("B", "s", "S", flow=flow(30.0))])
    a, b = result.shared[0].rows
    assert a.end_to_end == "9.0 days" and a.open_cases == "4 of 50 cases"
    assert a.end_to_end_source == "measure report" and b.end_to_end_source == "flow report"


def test_periods_that_do_not_overlap_are_warned_about():
    result = compare_councils(
        [
            entry(
                "Eastbrook",
                "tax",
                "Council tax",
                demand=demand(1, 1, start="2023-01-01", end="2023-06-30"),
                flow=flow(5.0, start="2024-01-01", end="2024-03-01"),
            ),
            entry(
                "Northshire",
                "tax",
                "Council tax",
                demand=demand(1, 1, start="2024-01-01", end="2024-06-30"),
                flow=flow(5.0, start="2024-02-01", end="2024-12-01"),
            ),
        ]
    )
    (warning,) = result.shared[0].warnings  # demand periods apart; case periods overlap
    assert warning == (
        "Failure demand: the periods of Eastbrook (1 Jan 2023 to 30 Jun 2023) and Northshire "
        "(1 Jan 2024 to 30 Jun 2024) do not overlap, so the figures describe demand at different times."
    )


def test_one_council_gives_no_comparison_and_no_shared_service_says_so():
    assert compare_councils([entry("A", "x", "X"), entry("A", "y", "Y")]) is None
    assert compare_councils([]) is None
    result = compare_councils([entry("A", "x", "X"), entry("B", "y", "Y")])
    assert result.shared == [] and result.alone == ["A", "B"]
    result = compare_councils([entry("A", "x", "X"), entry("B", "x", "X"), entry("C", "z", "Z")])
    assert result.alone == ["C"]


# ------------------------------------------------------------------------------------------------ small multiples


def _line_ys(svg: str) -> list[float]:
    """The heights of the points on a small multiple's line."""
    (points,) = re.findall(r'<polyline points="([^"]+)"', svg)
    return [float(p.split(",")[1]) for p in points.split()]


def test_capability_small_multiples_share_one_y_axis_and_the_time_axis_where_periods_overlap():
    a = measure([10, 20, 30, 40], mean=25, lower=0, upper=55)
    b = measure([50, 60, 70], start="2024-01-15", mean=60, lower=44, upper=76)
    result = compare_councils([entry("Bshire", "s", "S", measure=b), entry("Ashire", "s", "S", measure=a)])
    (m,) = result.shared[0].multiples
    # y: min 0 (a lower limit), max 76 (b upper); step 76/4 = 19 -> 20: axis 0 to 80 for both
    assert (m.ymin, m.ymax) == (0, 80) and m.shared_time and m.unit == "days"
    assert [p.council for p in m.panels] == ["Ashire", "Bshire"]
    for p in m.panels:
        assert 'data-ymin="0" data-ymax="80"' in p.svg
        assert 'data-xmin="2024-01-01" data-xmax="2024-01-29"' in p.svg  # the union of both periods
    assert m.panels[0].caption == "1 Jan 2024 to 22 Jan 2024 (4 weeks); latest mean 25 days, limits 0 to 55 days"
    assert m.axis_words == "one y axis for every council, 0 to 80 days; one time axis (the councils' periods overlap)"
    # the same value sits at the same height in each panel: 40 in Ashire's and 50 in Bshire's, 10 apart on 0..80
    ya = _line_ys(m.panels[0].svg)
    yb = _line_ys(m.panels[1].svg)
    per_unit = (170 - 8 - 22) / 80
    assert ya[3] - yb[0] == pytest.approx(10 * per_unit, abs=0.2)


def test_axis_ticks_keep_the_decimals_of_their_step_and_percent_reads_as_percent():
    a = measure(
        [5.2, 6, 17.1], unit="%", mid="failure_demand_pct", name="Failure demand", mean=9.4, lower=1.25, upper=17.5
    )
    b = measure([8, 9, 10], unit="%", mid="failure_demand_pct", name="Failure demand")
    (m,) = compare_councils([entry("A", "s", "S", measure=a), entry("B", "s", "S", measure=b)]).shared[0].multiples
    # 1.25 to 17.5: raw step 16.25/4 = 4.06 -> 5; axis 0 to 20
    assert (m.ymin, m.ymax, m.step) == (0, 20, 5)
    assert m.axis_words.startswith("one y axis for every council, 0% to 20%;")
    assert m.panels[0].caption.endswith("latest mean 9.4%, limits 1.2% to 18%")  # words.figure: whole from 10
    assert re.findall(r'text-anchor="end">([^<]+)</text>', m.panels[0].svg)[:5] == ["0", "5", "10", "15", "20"]
    assert compare._tick(17.5, 2.5) == "17.5" and compare._tick(12.5, 2.5) == "12.5" and compare._tick(80, 20) == "80"
    assert compare._nice_axis(5.0, 17.5) == (5, 20, 5) and compare._nice_axis(3, 3) == (2.0, 4.0, 0.5)


def test_periods_apart_get_their_own_time_axes():
    a = measure([1, 2, 3], start="2023-01-02")
    b = measure([4, 5, 6], start="2024-01-01")
    (m,) = compare_councils([entry("A", "s", "S", measure=a), entry("B", "s", "S", measure=b)]).shared[0].multiples
    assert not m.shared_time and "their periods do not overlap" in m.axis_words
    assert 'data-xmin="2023-01-02" data-xmax="2023-01-16"' in m.panels[0].svg
    assert 'data-xmin="2024-01-01" data-xmax="2024-01-15"' in m.panels[1].svg


def test_a_council_without_the_chart_is_named_and_different_units_are_not_set_side_by_side():
    three = [entry(c, "s", "S", measure=measure([1, 2, 3])) for c in ("A", "B")]
    three.append(entry("C", "s", "S", measure=measure([1])))
    (m,) = compare_councils(three).shared[0].multiples
    assert [p.council for p in m.panels] == ["A", "B"] and m.missing == ["C: no capability chart of this measure"]
    mixed = [
        entry("A", "s", "S", measure=measure([1, 2, 3], unit="%", mid="x")),
        entry("B", "s", "S", measure=measure([1, 2, 3], unit="days", mid="x")),
    ]
    assert compare_councils(mixed).shared[0].multiples == []


def test_hostile_names_are_escaped_in_the_charts_and_the_page(tmp_path):
    evil = "<script>alert(1)</script> & Co"
    result = compare_councils(
        [
            entry(evil, "s", '<img src=x onerror="x()">', measure=measure([1, 2, 3])),
            entry("B", "s", '<img src=x onerror="x()">', measure=measure([4, 5, 6])),
        ]
    )
    svgs = "".join(p.svg for p in result.shared[0].multiples[0].panels)
    assert "<script>" not in svgs and "<img" not in svgs
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in svgs
    assert "&lt;img src=x onerror=&quot;x()&quot;&gt;" in svgs

    root = tmp_path / "reports"
    for slug, name in (("evil", evil), ("b", "B")):
        folder = root / slug / "s"
        folder.mkdir(parents=True)
        (folder / "measure.html").write_text("<html></html>")
        (folder / "measure.json").write_text(
            json.dumps({"council": name, "service_name": "<b>S</b>", **measure([1, 2, 3])})
        )
    page = build_index_pages(root).read_text(encoding="utf-8")
    section = page[page.index('id="councils-compared"') :]
    assert "<script>alert" not in page and "<b>S</b>" not in page and "&lt;b&gt;S&lt;/b&gt;" in section


RANKING = re.compile(r"\b(best|worst|rank|ranked|ranking|league|winner|top|bottom|1st|2nd|3rd)\b", re.I)


def test_the_page_never_ranks_and_says_so(tmp_path):
    root = tmp_path / "reports"
    for slug, name, fail in (("zed", "Zed Council", 10), ("abe", "Abe Council", 90)):
        folder = root / slug / "tax"
        folder.mkdir(parents=True)
        (folder / "demand.html").write_text("<html></html>")
        (folder / "demand.json").write_text(
            json.dumps({"council": name, "service_name": "Council tax", **demand(fail, 100 - fail)})
        )
    page = build_index_pages(root).read_text(encoding="utf-8")
    section = page[page.index('id="councils-compared"') : page.index("</main>")]
    statement = html.escape(compare.NOT_RANKED)
    assert statement in section and "never in order of a figure" in section
    # alphabetical (Abe, 90% failure, before Zed, 10%), never sorted by a figure
    assert section.index("Abe Council") < section.index("Zed Council")
    text = re.sub(r"<[^>]+>", " ", section.replace(statement, ""))
    assert not RANKING.search(text), RANKING.search(text)


def test_one_council_has_no_comparison_section(tmp_path):
    root = tmp_path / "reports"
    folder = root / "only" / "tax"
    folder.mkdir(parents=True)
    (folder / "demand.html").write_text("<html></html>")
    (folder / "demand.json").write_text(json.dumps({"council": "Only", **demand(1, 1)}))
    assert "councils-compared" not in build_index_pages(root).read_text(encoding="utf-8")
    # two councils with nothing in common: the section says so plainly
    folder = root / "other" / "waste"
    folder.mkdir(parents=True)
    (folder / "demand.html").write_text("<html></html>")
    page = build_index_pages(root).read_text(encoding="utf-8")
    assert "These councils share no service (by id or by name), so there is nothing to set side by side." in page


# ------------------------------------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def two_councils_rendered(tmp_path_factory):
    """The three sample councils: Eastbrook and Northshire share Council tax, Eastbrook and Westmere share Parking
    permits. `systemic report` renders their demand, flow and measure reports (12 notebooks) and reports/index.html."""
    import os
    import subprocess
    import sys

    from systemic_lib.data.sample import write_sample_councils

    root = tmp_path_factory.mktemp("compared")
    folders = {f.name: f for f in write_sample_councils(root / "councils")}
    code = "import sys; from systemic_lib.cli import main; sys.argv = ['systemic'] + sys.argv[1:]; main()"
    args = [
        "report",
        *(str(folders[c]) for c in ("eastbrook", "northshire", "westmere")),
        "--out",
        str(root / "reports"),
        "--service",
        "council-tax",
        "--service",
        "parking-permits",
        "--stage",
        "demand",
        "--stage",
        "flow",
        "--stage",
        "measure",
        "-j",
        "2",
        "--no-progress",
    ]
    done = subprocess.run([sys.executable, "-c", code, *args], env=os.environ.copy(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root / "reports"


@pytest.mark.slow
@pytest.mark.browser
def test_the_comparison_reads_well_in_a_browser(two_councils_rendered, browser, tmp_path):
    reports = two_councils_rendered
    figures = {
        c: json.loads((reports / c / "council-tax" / "demand.json").read_text()) for c in ("eastbrook", "northshire")
    }
    flows = {c: json.loads((reports / c / "council-tax" / "flow.json").read_text()) for c in figures}
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((reports / "index.html").as_uri())
    section = page.locator("#councils-compared")
    section.scroll_into_view_if_needed()
    assert section.is_visible()
    shared = section.locator('section.shared-service[data-service="council-tax"]')
    assert shared.locator("h3").inner_text() == "Council tax"
    rows = shared.locator("table.compared-figures tbody tr")
    assert rows.count() == 2
    for i, slug in enumerate(("eastbrook", "northshire")):  # alphabetical: Eastbrook, then Northshire
        cells = [rows.nth(i).locator("th, td").nth(k).inner_text() for k in range(7)]
        d, f = figures[slug], flows[slug]
        assert cells[0] == d["council"]
        assert cells[1].startswith(f"{d['failure_pct']:.0f}%")
        assert f"{d['failure']:,} of {d['failure'] + d['value']:,} classified contacts" in cells[1]
        rules = 100 * d["classified_by_rules"] / d["contacts"]
        assert cells[3] == f"{rules:.0f}% ({d['classified_by_rules']:,} of {d['contacts']:,} contacts)"
        median = (
            f"{f['median_days']:,.0f} days"
            if f["median_days"] is not None
            else f"more than {f['median_at_least']:,.0f} days"
        )
        assert cells[4] == median
        assert cells[5] == f"{f['end_to_end']['open_cases']:,} of {f['end_to_end']['cases']:,} cases"
    # capability small multiples: one per council per measure, all on the same y limits, drawn and visible
    multiples = shared.locator("figure.multiples")
    assert multiples.count() >= 2
    ids = [multiples.nth(i).get_attribute("data-measure") for i in range(multiples.count())]
    assert "end_to_end_days" in ids and "failure_demand_pct" in ids
    for i in range(multiples.count()):
        svgs = multiples.nth(i).locator("svg.multiple")
        assert svgs.count() == 2
        limits = {(svgs.nth(k).get_attribute("data-ymin"), svgs.nth(k).get_attribute("data-ymax")) for k in range(2)}
        assert len(limits) == 1, limits
        boxes = [svgs.nth(k).bounding_box() for k in range(2)]
        assert all(b and b["width"] > 200 and b["height"] > 100 for b in boxes)
        assert boxes[0]["y"] == pytest.approx(boxes[1]["y"])  # side by side at 1280 px
        # the same tick labels on both: one shared y axis
        ticks = [svgs.nth(k).locator("text").all_text_contents()[:-2] for k in range(2)]
        assert ticks[0] == ticks[1]
    # the third council is compared where it shares a service: Parking permits, Eastbrook beside Westmere
    parking = section.locator('section.shared-service[data-service="parking-permits"]')
    names = parking.locator("table.compared-figures tbody tr th").all_inner_texts()
    assert names == [
        json.loads((reports / c / "parking-permits" / "demand.json").read_text())["council"]
        for c in ("eastbrook", "westmere")
    ]
    assert parking.locator("figure.multiples svg.multiple").count() >= 4
    text = section.inner_text()
    assert compare.NOT_RANKED in text
    assert not RANKING.search(text.replace(compare.NOT_RANKED, "")), RANKING.search(text)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(tmp_path / "compared.png"), full_page=True)
    page.close()
    assert errors == []


def test_special_causes_are_dots_in_the_capability_colours_and_common_cause_is_the_line_only():
    from systemic_lib.display.charts.style import PALETTE

    a = measure([1, 2, 3, 4])
    a["measures"]["end_to_end_days"]["points"][1]["signal"] = "concern"
    a["measures"]["end_to_end_days"]["points"][3]["signal"] = "improvement"
    b = measure([1, 2, 3, 4])
    (m,) = compare_councils([entry("A", "s", "S", measure=a), entry("B", "s", "S", measure=b)]).shared[0].multiples
    dots = re.findall(r'<circle [^>]*fill="([^"]+)"', m.panels[0].svg)
    assert dots == [PALETTE["concern"], PALETTE["improvement"]]
    assert re.findall(r"<circle", m.panels[1].svg) == [] and len(_line_ys(m.panels[1].svg)) == 4


def test_a_measure_report_from_before_the_points_says_to_render_again():
    old = measure([1, 2, 3])
    del old["measures"]["end_to_end_days"]["points"]
    result = compare_councils([entry("A", "s", "S", measure=old), entry("B", "s", "S", measure=measure([1, 2, 3]))])
    assert result.shared[0].multiples == []
    assert result.shared[0].warnings == [
        "No capability chart of A: its measure report was rendered before "
        "measure.json carried the charted points; run systemic report again."
    ]
