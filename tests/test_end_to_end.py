"""The whole workbook on a sample council: every stage renders, reads well in a real browser, leaks nothing.

One batch per test session (conftest's ``sample_reports``), for Northshire (the council with the experiment).
"""

from __future__ import annotations

import json
import re

import pytest

from systemic_lib import config
from systemic_lib.data.council import load_council

pytestmark = pytest.mark.slow

COUNCIL = "northshire"
EXPERIMENT_SERVICE = "health-social-care"

# Written independently of systemic_lib.data.redact, so that a gap there is caught here.
PERSONAL = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "mobile": re.compile(r"\b07\d{3}\s?\d{3}\s?\d{3}\b"),
    "NHS number": re.compile(r"\b\d{3}\s\d{3}\s\d{4}\b"),
    "postcode": re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"),
    "street address": re.compile(r"\b\d{1,4}\s+[A-Z][a-z]+\s+(?:Way|Road|Street|Lane|Close|Avenue|Drive)\b"),
}


@pytest.fixture(scope="module")
def rendered(sample_reports):
    """Northshire's folder and its batch (every stage of every service), from the session's sample reports."""
    return sample_reports.councils / COUNCIL, sample_reports.northshire


def _visible_text(html: str) -> str:
    html = re.sub(r'(src|href)="data:[^"]+"', "", html)  # images, inline SVG's embedded ones too
    html = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    return html


def test_every_stage_of_every_service_renders(rendered):
    folder, result = rendered
    assert result.failed == [], result.summary()
    assert result.skipped == [], result.summary()
    expected = 1 + len(config.STAGES) * len(load_council(folder).services)  # + the organisation scan
    assert len(result.ok) == expected


def test_reports_are_small_have_no_code_and_leak_no_personal_details(rendered):
    _, result = rendered
    out = result.out_dir
    for report in out.glob(f"{COUNCIL}/**/*.html"):
        html = report.read_text()
        assert report.stat().st_size < 500_000, f"{report} is {report.stat().st_size:,} bytes"
        text = _visible_text(html)
        for needle in ("from systemic_lib", "import ", "stage = report.start", "Traceback"):
            assert needle not in text, f"{report.relative_to(out)} shows code: {needle!r}"
        for kind, pattern in PERSONAL.items():
            found = pattern.findall(text)
            assert not found, f"{report.relative_to(out)} shows a {kind}: {found[:3]}"


def test_figures_json_for_the_index_pages(rendered):
    _, result = rendered
    base = result.out_dir / COUNCIL / EXPERIMENT_SERVICE
    demand = json.loads((base / "demand.json").read_text())
    for key in ("contacts", "value", "failure", "unclassified", "failure_pct", "one_stop_pct", "types", "channels"):
        assert key in demand
    assert demand["contacts"] == demand["value"] + demand["failure"] + demand["unclassified"]
    assert 30 <= demand["failure_pct"] <= 75

    flow = json.loads((base / "flow.json").read_text())
    for key in (
        "cases",
        "events",
        "median_days",
        "p85_days",
        "mean_handoffs",
        "mean_people",
        "rework_share",
        "value_step_share",
        "variants",
    ):
        assert key in flow

    experiment = json.loads((base / "experiment.json").read_text())
    assert experiment["baseline_cases"] > 0 and experiment["experiment_cases"] > 0
    by_name = {m["name"].lower(): m for m in experiment["measures"]}
    e2e = next(m for n, m in by_name.items() if "end-to-end" in n)
    assert e2e["experiment"] < e2e["baseline"] and e2e["change_pct"] < 0  # a visible, correctly signed change

    measure = json.loads((base / "measure.json").read_text())
    e2e_chart = measure["measures"]["end_to_end_days"]
    assert e2e_chart["direction"] == "decrease" and len(e2e_chart["phases"]) == 2  # a phase at the experiment start
    # the improvement shows as a signal after the phase change: the new phase sits below the old mean
    assert e2e_chart["change_signal"] == "improvement"
    assert e2e_chart["phases"][1]["mean"] < e2e_chart["phases"][0]["mean"]
    scan = json.loads((result.out_dir / COUNCIL / "organisation_scan.json").read_text())
    assert scan["stage"] == "organisation_scan"


def test_index_pages_link_every_report(rendered):
    _, result = rendered
    top = (result.out_dir / "index.html").read_text()
    assert f"{COUNCIL}/index.html" in top
    council_index = (result.out_dir / COUNCIL / "index.html").read_text()
    for report in (result.out_dir / COUNCIL).glob("*/*.html"):
        assert report.relative_to(result.out_dir / COUNCIL).as_posix() in council_index


@pytest.mark.browser
def test_reports_read_well_in_a_real_browser(rendered, browser, tmp_path):
    _, result = rendered
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for rel in (
        f"{COUNCIL}/index.html",
        f"{COUNCIL}/{EXPERIMENT_SERVICE}/demand.html",
        f"{COUNCIL}/{EXPERIMENT_SERVICE}/flow.html",
        f"{COUNCIL}/{EXPERIMENT_SERVICE}/experiment.html",
        f"{COUNCIL}/{EXPERIMENT_SERVICE}/measure.html",
        f"{COUNCIL}/organisation_scan.html",
    ):
        page.goto((result.out_dir / rel).as_uri())
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.alt || i.src.slice(0, 40))"
        )
        assert broken == [], f"{rel}: images that did not load: {broken}"
        if not rel.endswith("index.html"):
            assert page.locator(".opening ul.found li").first.is_visible(), f"{rel} opens with no findings"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1100 + 2, f"{rel} scrolls sideways ({width}px wide)"
        page.screenshot(path=str(tmp_path / (rel.replace("/", "_") + ".png")), full_page=True)
    page.close()
    assert errors == []


def test_no_contact_or_case_id_appears_in_any_report_or_json(rendered):
    """The README promises that contact and case ids never appear in a report (issue 23): every id of the council's
    tables (contacts, cases, events, system conditions) is looked for, as a whole token, in the text of every HTML
    page (images left out) and every JSON file rendered."""
    import pandas as pd

    folder, result = rendered
    ids: set[str] = set()
    for table, columns in {
        "demand": ("contact_id", "case_id"),
        "cases": ("case_id",),
        "events": ("case_id",),
    }.items():
        path = folder / f"{table}.csv"
        if path.exists():
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c in columns)
            for col in frame.columns:
                ids.update(v.strip() for v in frame[col] if v.strip())
    assert len(ids) > 1000
    token = re.compile(r"[A-Za-z0-9][\w-]*[A-Za-z0-9]")
    found = []
    files = [*result.out_dir.rglob("*.html"), *result.out_dir.rglob("*.json")]
    assert len(files) > 20
    for path in files:
        text = _visible_text(path.read_text(encoding="utf-8"))
        shown = ids.intersection(token.findall(text))
        if shown:
            found.append(f"{path.relative_to(result.out_dir)}: {sorted(shown)[:5]}")
    assert not found, "\n".join(found)


# Run in the page: every image's alt, and for every chart its accessible name, each text's size in CSS px at the
# page's width, and pairs of texts that overlap (more than a third of the smaller one's height).
_CHARTS_JS = """() => {
  const out = {images: [], charts: [], small: [], overlaps: []};
  for (const img of document.images) out.images.push(img.alt || "");
  for (const svg of document.querySelectorAll("figure.chart > svg")) {
    const label = document.getElementById(svg.getAttribute("aria-labelledby"));
    const name = label ? label.textContent : "";
    out.charts.push({name, role: svg.getAttribute("role")});
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const boxes = [];
    for (const t of svg.querySelectorAll("text")) {
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < 12 - 0.05) out.small.push([name.slice(0, 60), t.textContent, px.toFixed(1)]);
      const r = t.getBoundingClientRect();
      if (r.width && t.textContent.trim()) boxes.push([t.textContent, r]);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i][1], b = boxes[j][1];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > Math.min(a.height, b.height) / 3) out.overlaps.push([name.slice(0, 60), boxes[i][0], boxes[j][0]]);
    }
  }
  return out;
}"""


@pytest.mark.browser
def test_every_chart_has_a_text_alternative_naming_its_figures_and_legible_text(rendered, browser):
    """No image carries nbconvert's default alt text; every chart is named by its alt text (a chart kind, its title
    and a figure); at 1280 px no chart text is under 12 CSS px and no two chart texts overlap."""
    _, result = rendered
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    seen = 0
    for report in sorted((result.out_dir / COUNCIL).glob("**/*.html")):
        page.goto(report.as_uri())
        got = page.evaluate(_CHARTS_JS)
        rel = report.relative_to(result.out_dir)
        assert all(alt and not alt.startswith("No description") for alt in got["images"]), (rel, got["images"])
        for chart in got["charts"]:
            seen += 1
            assert chart["role"] == "img", rel
            assert re.match(r"(Capability chart|Bar chart|Box plot|Scatter chart|Process map|Chart): \S", chart["name"])
            assert re.search(r"\d", chart["name"].split(".", 1)[-1]), f"{rel}: no figure in {chart['name']!r}"
        assert got["small"] == [], f"{rel}: chart text under 12 px: {got['small'][:5]}"
        assert got["overlaps"] == [], f"{rel}: chart texts overlap: {got['overlaps'][:5]}"
    page.close()
    assert seen >= 40  # five services' stage pages and the scan


@pytest.mark.browser
def test_the_first_screen_holds_the_purpose_and_what_we_found(rendered, browser):
    """At 1280 x 720, every stage page opens with the service's purpose and all of "What we found" above the fold;
    the organisation scan with what it found."""
    _, result = rendered
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    pages = sorted((result.out_dir / COUNCIL).glob("*/*.html")) + [result.out_dir / COUNCIL / "organisation_scan.html"]
    for report in pages:
        page.goto(report.as_uri())
        rel = report.relative_to(result.out_dir)
        heading = page.locator("#what-we-found")
        assert heading.inner_text() == "What we found", rel
        found = page.locator(".opening ul.found li")
        assert 1 <= found.count() <= 9, rel
        bottom = page.evaluate("document.querySelector('.opening ul.found').getBoundingClientRect().bottom")
        assert bottom <= 720, f"{rel}: What we found ends {bottom:.0f} px down, below the first screen"
        if report.name != "organisation_scan.html":
            purpose = page.locator(".opening .purpose")
            assert purpose.is_visible() and purpose.bounding_box()["y"] < heading.bounding_box()["y"], rel
            assert "purpose" in purpose.inner_text().lower() and "\u201c" in purpose.inner_text()
    page.close()


# Run in the page: the text a reader sees, without charts (their alt text is checked above), the data problems box
# and the "For analysts" notes (both may name files and columns: that is how an analyst fixes a table).
_READER_TEXT_JS = """() => {
  const body = document.body.cloneNode(true);
  for (const e of body.querySelectorAll("svg, script, style, .problems, .for-analysts")) e.remove();
  for (const e of body.querySelectorAll("p, li")) if (e.innerText.trim().startsWith("For analysts")) e.remove();
  return body.innerText;
}"""

# What a manager should never have to read (issue 20, item 4).
JARGON = {
    "a file name": re.compile(r"\b[\w-]+\.(?:csv|ya?ml|xes|xlsx|json)\b"),
    "a column name": re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"),
    "a p-value": re.compile(r"\bp\s*[=<>]\s*0?\.\d"),
    "statistical shorthand": re.compile(r"\bsigma\b|\bchi-square\b", re.I),
}


@pytest.mark.browser
def test_pages_speak_plain_english(rendered, browser):
    """No file name, column name, p-value or 'sigma' in what a reader sees on any page of the council (charts, the
    data problems box and 'For analysts' notes aside): statistics are said in words, set-up steps are not a
    manager's reading."""
    _, result = rendered
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    found = []
    pages = sorted((result.out_dir / COUNCIL).rglob("*.html"))
    assert len(pages) > 20
    for report in pages:
        page.goto(report.as_uri())
        text = page.evaluate(_READER_TEXT_JS)
        for kind, pattern in JARGON.items():
            for m in pattern.finditer(text):
                found.append(
                    f"{report.relative_to(result.out_dir)}: {kind}: ...{text[max(0, m.start() - 60) : m.end() + 30]!r}"
                )
    page.close()
    assert not found, f"{len(found)} places:\n" + "\n".join(found[:40])
