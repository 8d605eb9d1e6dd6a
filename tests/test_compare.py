"""Councils compared: services matched by id or name, figures side by side from hand-made stage JSONs, never ranked.

Every expected figure below is computed by hand from the JSON written in the test.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from systemic_lib import compare
from systemic_lib.compare import Entry, compare_councils, match_services, normalise_name
from systemic_lib.pages import build_index_pages


def demand(failure, value, *, unclassified=0, rules=None, start="2024-01-01", end="2024-12-29"):
    out = {"period": {"start": start, "end": end}, "contacts": failure + value + unclassified, "value": value,
           "failure": failure, "unclassified": unclassified,
           "failure_pct": round(100 * failure / (failure + value), 1)}
    if rules is not None:
        out["classified_by_rules"] = rules
    return out


def flow(median, *, at_least=None, open_cases=0, cases=100, start="2024-01-02", end="2024-12-20"):
    return {"period": {"start": start, "end": end}, "cases": cases, "median_days": median, "median_at_least": at_least,
            "open_cases": open_cases, "end_to_end": {"cases": cases, "open_cases": open_cases, "median_days": median,
                                                     "median_at_least": at_least}}


def measure(values, *, start="2024-01-01", mean=None, lower=None, upper=None, unit="days", mid="end_to_end_days",
            name="End-to-end time"):
    """Weekly points from Monday ``start``; one phase over them all."""
    import pandas as pd

    dates = [(pd.Timestamp(start) + pd.Timedelta(weeks=i)).date().isoformat() for i in range(len(values))]
    points = [{"date": d, "value": v, "signal": "common_cause"} for d, v in zip(dates, values)]
    phases = [{"start": dates[0], "end": dates[-1], "n": len(values), "mean": mean, "lower": lower, "upper": upper}] \
        if values else []
    return {"period": {"start": start, "end": dates[-1] if dates else start},
            "measures": {mid: {"name": name, "unit": unit, "grain": "week", "phases": phases, "points": points,
                               "n_points": len(values), "note": None}}}


def entry(council, service_id, service_name, **data):
    return Entry(council.lower(), council, service_id, service_name, data, f"{council.lower()}/index.html")


# ------------------------------------------------------------------------------------------------ matching

@pytest.mark.parametrize("a, b", [("Waste & Recycling", "waste and recycling"), ("  Council   Tax ", "council tax"),
                                  ("Housing-repairs", "housing repairs"), ("A&B", "a and b")])
def test_names_match_ignoring_case_spaces_and_ampersand(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_different_names_do_not_match():
    assert normalise_name("Waste") != normalise_name("Waste collection")
    assert normalise_name(None) == ""


def test_services_match_by_id_or_by_name_and_only_across_councils():
    entries = [entry("Northshire", "waste", "Waste & recycling"), entry("Eastbrook", "bins", "Waste and Recycling"),
               entry("Westmere", "waste", "Rubbish"), entry("Westmere", "planning", "Planning"),
               entry("Northshire", "tax", "Council tax"), entry("Northshire", "tax2", "Council  TAX")]
    groups = match_services(entries)
    # waste <-> bins by name, waste <-> Westmere's waste by id; council tax appears twice in one council only: no group
    assert [[(e.council_name, e.service_id) for e in g] for g in groups] == [
        [("Eastbrook", "bins"), ("Northshire", "waste"), ("Westmere", "waste")]]


# ------------------------------------------------------------------------------------------------ figures

def test_figures_side_by_side_with_counts_periods_and_rules_share():
    result = compare_councils([
        entry("Westmere", "benefits", "Benefits", demand=demand(30, 70, unclassified=5, rules=21),
              flow=flow(12.0, open_cases=8, cases=120)),
        entry("Northshire", "benefits", "Benefits", demand=demand(600, 400, rules=0),
              flow=flow(None, at_least=40.0, open_cases=90, cases=150)),
    ])
    (shared,) = result.shared
    assert shared.name == "Benefits" and shared.ids == ["benefits"] and result.alone == []
    north, west = shared.rows  # alphabetical by council, never by a figure
    assert (north.council, west.council) == ("Northshire", "Westmere")
    assert north.failure == "60%" and north.failure_count == "600 of 1,000 classified contacts"
    assert north.rules == "0% classified by rules (0 of 1,000 contacts)" and north.unclassified == ""
    assert west.failure == "30%" and west.failure_count == "30 of 100 classified contacts"
    assert west.unclassified == "5 contacts not yet classified"
    assert west.rules == "20% classified by rules (21 of 105 contacts)"  # 21 / 105
    assert north.failure_period == "1 Jan 2024 to 29 Dec 2024" and north.end_to_end_period == "2 Jan 2024 to 20 Dec 2024"
    # the Kaplan–Meier median not reached: "more than", with the open cases
    assert north.end_to_end == "more than 40 days" and north.open_cases == "90 of 150 cases still open"
    assert west.end_to_end == "12 days" and west.open_cases == "8 of 120 cases still open"
    assert shared.warnings == []


def test_missing_figures_show_a_dash_and_say_what_is_missing():
    result = compare_councils([
        entry("Eastbrook", "parking-permits", "Parking permits", demand={"period": {}, "contacts": "many"}),
        entry("Westmere", "parking-permits", "Parking permits", flow={"cases": 3}),
    ])
    east, west = result.shared[0].rows
    assert east.failure == "—" and east.failure_count == "" and east.rules == "—"
    assert east.failure_period == "period not known" and east.end_to_end_period == "no flow report"
    assert east.end_to_end == "—" and east.open_cases == ""
    assert west.failure_period == "no demand report" and west.end_to_end == "—"


def test_end_to_end_falls_back_to_the_measure_report():
    per_case = {"period": {"start": "2024-01-01", "end": "2024-06-30"},
                "end_to_end_per_case": {"definition": {"cases": 50, "open_cases": 4, "median_days": 9.04}}}
    result = compare_councils([entry("A", "s", "S", measure=per_case), entry("B", "s", "S", flow=flow(30.0))])
    a, b = result.shared[0].rows
    assert a.end_to_end == "9.0 days" and a.open_cases == "4 of 50 cases still open"
    assert a.end_to_end_source == "measure report" and b.end_to_end_source == "flow report"


def test_periods_that_do_not_overlap_are_warned_about():
    result = compare_councils([
        entry("Eastbrook", "tax", "Council tax", demand=demand(1, 1, start="2023-01-01", end="2023-06-30"),
              flow=flow(5.0, start="2024-01-01", end="2024-03-01")),
        entry("Northshire", "tax", "Council tax", demand=demand(1, 1, start="2024-01-01", end="2024-06-30"),
              flow=flow(5.0, start="2024-02-01", end="2024-12-01")),
    ])
    (warning,) = result.shared[0].warnings  # demand periods apart; case periods overlap
    assert warning == ("Failure demand: the periods of Eastbrook (1 Jan 2023 to 30 Jun 2023) and Northshire "
                       "(1 Jan 2024 to 30 Jun 2024) do not overlap, so the figures describe demand at different times.")


def test_one_council_gives_no_comparison_and_no_shared_service_says_so():
    assert compare_councils([entry("A", "x", "X"), entry("A", "y", "Y")]) is None
    assert compare_councils([]) is None
    result = compare_councils([entry("A", "x", "X"), entry("B", "y", "Y")])
    assert result.shared == [] and result.alone == ["A", "B"]
    result = compare_councils([entry("A", "x", "X"), entry("B", "x", "X"), entry("C", "z", "Z")])
    assert result.alone == ["C"]


# ------------------------------------------------------------------------------------------------ small multiples

def _svg_numbers(svg: str, attr: str) -> list[float]:
    return [float(v) for v in re.findall(rf'{attr}="([-\d.]+)"', svg)]


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
    assert m.panels[0].caption == "1 Jan 2024 to 22 Jan 2024 (4 weeks); latest mean 25, limits 0 to 55 days"
    assert m.axis_words == "one y axis for every council, 0 to 80 days; one time axis (the councils' periods overlap)"
    # the same value sits at the same height in each panel: 40 in Ashire's and 50 in Bshire's, 10 apart on 0..80
    ya = _svg_numbers(m.panels[0].svg, "cy")
    yb = _svg_numbers(m.panels[1].svg, "cy")
    per_unit = (170 - 8 - 22) / 80
    assert ya[3] - yb[0] == pytest.approx(10 * per_unit, abs=0.2)


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
    mixed = [entry("A", "s", "S", measure=measure([1, 2, 3], unit="%", mid="x")),
             entry("B", "s", "S", measure=measure([1, 2, 3], unit="days", mid="x"))]
    assert compare_councils(mixed).shared[0].multiples == []


def test_hostile_names_are_escaped_in_the_charts_and_the_page(tmp_path):
    evil = "<script>alert(1)</script> & Co"
    result = compare_councils([entry(evil, "s", '<img src=x onerror="x()">', measure=measure([1, 2, 3])),
                               entry("B", "s", '<img src=x onerror="x()">', measure=measure([4, 5, 6]))])
    svgs = "".join(p.svg for p in result.shared[0].multiples[0].panels)
    assert "<script>" not in svgs and "<img" not in svgs
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in svgs and "&lt;img src=x onerror=&quot;x()&quot;&gt;" in svgs

    root = tmp_path / "reports"
    for slug, name in (("evil", evil), ("b", "B")):
        folder = root / slug / "s"
        folder.mkdir(parents=True)
        (folder / "measure.html").write_text("<html></html>")
        (folder / "measure.json").write_text(json.dumps({"council": name, "service_name": "<b>S</b>",
                                                         **measure([1, 2, 3])}))
    page = build_index_pages(root).read_text(encoding="utf-8")
    section = page[page.index('id="councils-compared"'):]
    assert "<script>" not in page and "<b>S</b>" not in page and "&lt;b&gt;S&lt;/b&gt;" in section


RANKING = re.compile(r"\b(best|worst|rank|ranked|ranking|league|winner|top|bottom|1st|2nd|3rd)\b", re.I)


def test_the_page_never_ranks_and_says_so(tmp_path):
    root = tmp_path / "reports"
    for slug, name, fail in (("zed", "Zed Council", 10), ("abe", "Abe Council", 90)):
        folder = root / slug / "tax"
        folder.mkdir(parents=True)
        (folder / "demand.html").write_text("<html></html>")
        (folder / "demand.json").write_text(json.dumps({"council": name, "service_name": "Council tax",
                                                        **demand(fail, 100 - fail)}))
    page = build_index_pages(root).read_text(encoding="utf-8")
    section = page[page.index('id="councils-compared"'):page.index("</main>")]
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
