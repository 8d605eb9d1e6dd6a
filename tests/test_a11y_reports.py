"""Report pages anyone can read (issue 20 item 6): axe-core 4's WCAG 2.0/2.1/2.2 A and AA rules in Chromium, the
keyboard, and reflow, over every page type the batch writes, on the sample councils rendered once per session
(conftest's ``sample_reports``): each stage page of every Northshire service, the community hub's (a new service)
pages, the organisation scan, each council's index and measures page, and the councils' index with the councils
compared.

- axe at 1280 px and at 320 px (WCAG 1.4.10 reflow): 0 violations. Before this test: colour contrast, 4.39:1 where
  4.5:1 is needed.
- At 320 CSS px no report page scrolls sideways; a wide chart or table scrolls in its own container.
- Tab reaches every link, button, text box, select and ``<details>`` summary a reader can see, in the page's order,
  and each shows a focus ring of 2 px or more (text boxes too). Before: Chromium's own 1 px ring.
"""

from __future__ import annotations

import a11y
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NARROW, WIDE = 320, 1280

#: what a keyboard user can reach: links, buttons, form controls, summaries, anything given a tab stop
INTERACTIVE = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])"

#: the interactive elements a reader can see (not inside a closed <details>, not hidden), in document order
VISIBLE_INTERACTIVE = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => !el.disabled && el.checkVisibility({visibilityProperty: true}))
  .map(el => { el.dataset.a11yId = el.dataset.a11yId || String(Math.random()).slice(2); return el.dataset.a11yId; })"""

#: the focused element: its id (set above, or given now), its outline (style, width) and box-shadow
FOCUSED = """() => { const el = document.activeElement;
  if (!el || el === document.body) return null;
  el.dataset.a11yId = el.dataset.a11yId || String(Math.random()).slice(2);
  const s = getComputedStyle(el);
  return [el.dataset.a11yId, el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + (el.textContent || '')
          .trim().slice(0, 40), s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"""


def _pages(reports) -> list[str]:
    """Every HTML page the batch wrote, relative to the reports folder."""
    return sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*.html"))


#: one page of each kind: each stage page (an old service's and the hub's), the scan, the indexes, the measures page
ONE_OF_EACH_KIND = (
    "index.html",
    "northshire/index.html",
    "northshire/measures.html",
    "northshire/organisation_scan.html",
    *(f"northshire/health-social-care/{s}.html" for s in ("demand", "flow", "experiment", "measure")),
    *(f"westmere/community-hub/{s}.html" for s in ("demand", "flow", "experiment", "measure")),
)


def test_every_page_type_is_rendered(sample_reports):
    """The pages the checks below read exist (a page type the batch stopped writing would pass them silently)."""
    pages = set(_pages(sample_reports.out_dir))
    assert set(ONE_OF_EACH_KIND) <= pages
    assert len(pages) >= 30, sorted(pages)
    assert "Councils compared" in (sample_reports.out_dir / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [WIDE, NARROW])
def test_axe_finds_no_wcag_violation_on_any_report_page(sample_reports, browser, width):
    reports = sample_reports.out_dir
    page = browser.new_page(viewport={"width": width, "height": 800})
    failures = []
    for rel in _pages(reports):
        page.goto((reports / rel).as_uri())
        found = a11y.violations(page)
        if found:
            failures.append(f"{rel} at {width} px:\n{a11y.describe(found)}")
    page.close()
    assert not failures, "\n".join(failures)


def test_no_report_page_scrolls_sideways_at_320_px(sample_reports, browser):
    """WCAG 1.4.10 reflow: at 320 CSS px a page reads top to bottom; only a chart or table scrolls, in its own box."""
    reports = sample_reports.out_dir
    page = browser.new_page(viewport={"width": NARROW, "height": 640})
    wide = []
    for rel in _pages(reports):
        page.goto((reports / rel).as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW:
            culprits = page.evaluate(
                """(w) => Array.from(document.querySelectorAll('body *'))
                  .filter(el => el.getBoundingClientRect().right > w + 1)
                  .filter(el => !el.parentElement || el.parentElement.getBoundingClientRect().right <= w + 1)
                  .slice(0, 3).map(el => el.tagName.toLowerCase() + '.' + el.className)""",
                NARROW,
            )
            wide.append(f"{rel}: {width} px wide ({culprits})")
    page.close()
    assert not wide, "\n".join(wide)


def _tab_through(page, expected: int) -> list[list]:
    """Press Tab until focus comes back round (or twice as many presses as ``expected`` stops); each focused element's
    id, description and focus ring, in the order reached."""
    page.locator("body").focus()
    reached: list[list] = []
    for _ in range(2 * expected + 5):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if now is None:
            continue
        if reached and now[0] == reached[0][0]:
            break
        reached.append(now)
    return reached


@pytest.mark.parametrize("rel", ONE_OF_EACH_KIND)
def test_tab_reaches_every_control_in_order_with_a_visible_focus_ring(sample_reports, browser, rel):
    """Keyboard alone: Tab reaches every control a reader can see, in the page's order, and each focused control
    shows an outline of 2 px or more (Chromium's own is 1 px, too faint on a projector)."""
    page = browser.new_page(viewport={"width": WIDE, "height": 800})
    page.goto((sample_reports.out_dir / rel).as_uri())
    wanted = page.evaluate(VISIBLE_INTERACTIVE, INTERACTIVE)
    assert wanted, f"{rel} has no control to reach"
    reached = _tab_through(page, len(wanted))
    order = [r[0] for r in reached]
    missing = [w for w in wanted if w not in order]
    assert not missing, f"{rel}: Tab never reaches {len(missing)} of {len(wanted)} controls"
    in_page_order = [w for w in order if w in wanted]
    assert in_page_order == wanted, f"{rel}: Tab does not follow the page's order"
    faint = [r[1:] for r in reached if r[2] == "none" or r[3] < 2]
    assert not faint, f"{rel}: focus rings under 2 px: {faint[:5]} ({len(faint)} of {len(reached)})"
    page.close()


def test_a_text_box_and_a_select_show_the_focus_ring_too(sample_reports, browser):
    """The measures page's filter (a text box) and its selects, focused by Tab, show the same ring as links."""
    page = browser.new_page(viewport={"width": WIDE, "height": 800})
    page.goto((sample_reports.out_dir / "northshire" / "measures.html").as_uri())
    seen = {}
    for r in _tab_through(page, 200):
        seen.setdefault(r[1].split(" ")[0], r[2:4])
    page.close()
    for control in ("input#filter-name", "select#filter-group", "select#order"):
        assert control in seen, f"Tab never reaches {control}: {sorted(seen)}"
        style, width = seen[control]
        assert style != "none" and width >= 2, (control, style, width)
