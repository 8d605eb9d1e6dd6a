"""Report pages on paper (issue 20 item 5): `systemic report --pdf` prints every page rendered to an A4 PDF beside it
with the system's Chromium; what we found is on page 1; no chart is split across pages; nothing a reader cannot use
on paper is printed; a page that fails to print never stops the rest and is named in the summary and manifest."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from systemic_lib.data.sample import write_sample_councils
from systemic_lib.run.batch import BatchResult, run_batch
from systemic_lib.run.pdf import page_pdf, print_pages
from systemic_lib.site.manifest import ManifestWriter, load_manifest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COUNCIL, SERVICE = "northshire", "health-social-care"
A4 = (595, 842)  #: points (210 x 297 mm)
#: the page's printable height in CSS px: A4's 297 mm less print.css's top and bottom margins (14 + 16 mm)
PAGE_HEIGHT_PX = (297 - 14 - 16) / 25.4 * 96


@pytest.fixture(scope="module")
def printed(tmp_path_factory, browser):
    """One service of Northshire (the experiment's) and the council's organisation scan, rendered with --pdf."""
    root = tmp_path_factory.mktemp("print")
    folder = next(c for c in write_sample_councils(root / "councils") if c.name == COUNCIL)
    out = root / "reports"
    quiet = {"jobs": 2, "progress": False, "echo": lambda _: None, "cache_dir": root / "cache"}
    scan = run_batch([folder], out, stages=["organisation_scan"], **quiet)
    assert scan.failed == [] and scan.skipped == [], scan.summary()
    result = run_batch([folder], out, services=[SERVICE], pdf=True, **quiet)
    return result


def _words(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _sizes(reader: PdfReader) -> set[tuple[int, int]]:
    return {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages}


def test_every_page_rendered_has_an_a4_pdf_beside_it(printed):
    result = printed
    assert result.failed == [] and result.printed is not None, result.summary()
    assert result.printed.failed == {}, result.summary()
    pages = {str(Path(p)) for p in result.printed.written}
    stage_pages = {f"{COUNCIL}/{SERVICE}/{s}.html" for s in ("demand", "flow", "experiment", "measure")}
    assert stage_pages | {f"{COUNCIL}/index.html", f"{COUNCIL}/measures.html", "index.html"} <= pages
    assert "Printed 7 of 7 pages to PDF" in result.summary()
    for page in pages:
        pdf = result.out_dir / Path(page).with_suffix(".pdf")
        reader = PdfReader(pdf)
        assert _sizes(reader) == {A4} or page.endswith("measures.html"), f"{page}: {_sizes(reader)}"
        assert 1 <= len(reader.pages) <= 12, f"{page}: {len(reader.pages)} A4 pages"
    manifest = load_manifest(result.out_dir)
    assert {e["page"] for e in manifest["pdfs"] if e["status"] == "ok"} == pages
    assert result.exit_code == 0


def _first_words(page) -> tuple[str, list[str]]:
    """The page's title and what it leads with (each 'What we found' sentence; the headline before findings)."""
    title = _words(page.locator("h1").first.inner_text())
    found = page.locator(".opening ul.found li")
    lead = found if found.count() else page.locator(".headline")
    return title, [_words(t) for t in lead.all_inner_texts()[: max(1, found.count())]]


def test_a_stage_page_prints_title_and_findings_on_page_one_and_no_chart_split(printed, browser):
    """Printed, each stage page and the scan hold their title and findings on page 1; every chart, caption and
    findings block is kept whole (break-inside: avoid, and no taller than a page, so Chromium can keep it whole);
    the navigation, controls and the charts' data tables are not printed; body text is at least 10 pt."""
    out = printed.out_dir
    pages = [out / COUNCIL / "organisation_scan.html", *sorted((out / COUNCIL / SERVICE).glob("*.html"))]
    page = browser.new_page(viewport={"width": 700, "height": 1000})  # A4's printable width in CSS px
    try:
        for html in pages:
            rel = html.relative_to(out)
            page.goto(html.as_uri())
            title, lead = _first_words(page)
            assert lead and all(lead), f"{rel}: nothing to lead with"
            reader = PdfReader(io.BytesIO(page_pdf(page)))  # page_pdf prints in print media, as --pdf does
            assert _sizes(reader) == {A4}, f"{rel}: {_sizes(reader)}"
            first = _words(reader.pages[0].extract_text() or "")
            assert title in first, f"{rel}: title not on page 1"
            missing = [s for s in lead if s[:60] not in first]
            assert not missing, f"{rel}: not on page 1: {missing}"

            shown = page.evaluate(
                "[...document.querySelectorAll('nav, button, input, select, details.chart-data')]"
                ".filter(e => e.getClientRects().length > 0).length"
            )
            assert shown == 0, f"{rel}: {shown} navigation links, controls or data tables printed"
            split = page.evaluate(
                """(height) => [...document.querySelectorAll(
                     'figure, .jp-RenderedImage, .opening, .headline, .findings, table tr')]
                   .filter(e => e.getClientRects().length > 0)
                   .filter(e => getComputedStyle(e).breakInside !== 'avoid'
                                || e.getBoundingClientRect().height > height)
                   .map(e => e.tagName + '.' + e.className)""",
                PAGE_HEIGHT_PX,
            )
            assert split == [], f"{rel}: may split across pages: {split[:5]}"
            body_pt = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize) * 72 / 96")
            assert body_pt >= 10, f"{rel}: body text {body_pt} pt"
            page.emulate_media(media="screen")
    finally:
        page.close()


def test_charts_whole_in_the_pdf(printed):
    """In the PDF itself: a chart's title (its first words) and its last words (axis labels) print on one page."""
    out = printed.out_dir
    for html in sorted((out / COUNCIL / SERVICE).glob("*.html")):
        checked = 0
        text = html.read_text(encoding="utf-8")
        reader = PdfReader(html.with_suffix(".pdf"))
        on_page = [_words(p.extract_text() or "") for p in reader.pages]
        whole = " ".join(on_page)
        for svg in re.findall(r"<figure[^>]*>(.*?)</figure>", text, flags=re.S):
            labels = [
                _words(re.sub(r"<[^>]+>", "", t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
            ]
            labels = [t for t in labels if len(t) >= 8 and whole.count(t) == 1]
            if len(labels) < 2:
                continue
            pages = {i for i, words in enumerate(on_page) for t in (labels[0], labels[-1]) if t in words}
            assert len(pages) == 1, f"{html.name}: a chart is split across pages {pages}: {labels[0]!r}"
            checked += 1
        assert checked or "<svg" not in text, f"{html.name}: no chart checked"


def test_a_page_that_fails_to_print_never_stops_the_rest(tmp_path):
    """A page that hangs and a page that is gone each fail with their reason; the page after them is printed, and
    the batch's summary and manifest name both."""
    good = tmp_path / "good.html"
    good.write_text("<!DOCTYPE html><title>ok</title><h1>Printed after the broken ones</h1>", encoding="utf-8")
    hangs = tmp_path / "hangs.html"
    hangs.write_text("<!DOCTYPE html><h1>never loads</h1><script>for (;;) {}</script>", encoding="utf-8")
    gone = tmp_path / "gone.html"
    done = print_pages([hangs, gone, good], tmp_path, timeout_ms=4000)
    assert done.written == ["good.html"]
    assert set(done.failed) == {"hangs.html", "gone.html"}, done.failed
    assert "Timeout" in done.failed["hangs.html"]
    assert not hangs.with_suffix(".pdf").exists() and not list(tmp_path.glob(".*.tmp"))
    assert "Printed after the broken ones" in PdfReader(good.with_suffix(".pdf")).pages[0].extract_text()

    result = BatchResult(tmp_path, [], printed=done)
    summary = result.summary()
    assert "Printed 1 of 3 pages to PDF" in summary and "hangs.html" in summary and "gone.html" in summary
    assert result.exit_code == 1
    ManifestWriter(tmp_path).add_pdfs(done.entries())
    entries = {e["page"]: e for e in json.loads((tmp_path / "manifest.json").read_text())["pdfs"]}
    assert entries["good.html"]["status"] == "ok" and entries["good.html"]["pdf"] == "good.pdf"
    assert entries["hangs.html"]["status"] == "failed" and "Timeout" in entries["hangs.html"]["error"]


def test_the_managers_summary_prints_with_its_charts(printed, tmp_path):
    """The coach's managers' summary of a service with measures (Northshire's experiment service: failure demand by
    type, each measure's capability chart, end-to-end time per case), with the coach's print CSS, printed by the
    batch's printer: every chart is in the PDF, on A4, and no page but the last is nearly blank (issue 20: "6 mostly
    blank A4 pages with no charts"). The room's own printout (the Voila page) is checked in test_coach."""
    from systemic_lib import coach
    from systemic_lib.coach.managers import summary_html

    council = printed.out_dir.parent / "councils" / COUNCIL
    css = (Path(coach.__file__).parent / "share/voila/templates/coach/static/coach.css").read_text(encoding="utf-8")
    summary = summary_html(council, SERVICE)
    html = tmp_path / "managers.html"
    html.write_text(
        f"<!DOCTYPE html><html lang='en-GB'><head><meta charset='utf-8'><title>For managers</title>"
        f"<style>{css}</style></head><body class='coach-app'>{summary}</body></html>",
        encoding="utf-8",
    )
    assert print_pages([html], tmp_path).failed == {}
    reader = PdfReader(html.with_suffix(".pdf"))
    charts = summary.count("<img")
    assert charts >= 4, "failure demand by type, end-to-end per case and at least two measures' charts"
    pages = [(len((p.extract_text() or "").split()), len(p.images)) for p in reader.pages]  # (words, charts)
    assert sum(k for _, k in pages) == charts, pages
    assert _sizes(reader) == {A4}
    assert all(n > 30 or k for n, k in pages[:-1]) and pages[0][0] > 30, pages
