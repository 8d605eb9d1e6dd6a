"""The pages a team running a new service reads (issue 25): Hubshire's hub, with no old system anywhere, rendered by
the batch through every stage and read in a real browser. Before issue 25 its experiment page said "there are no
baseline cases to compare with: mark old-system cases with cohort 'baseline'" and showed nothing of what the team
built. Hubshire's figures are worked out by hand in ``hub_council``'s docstring."""

from __future__ import annotations

import json
import re

import pytest
from hub_council import hub_files

from systemic_lib import config
from systemic_lib.run.batch import run_batch

from conftest import write_council

pytestmark = pytest.mark.slow

COUNCIL, SERVICE = "hubshire", "hub"
# What a comparison page asks of a team, or says where it has nothing to compare (the stage's opening words define a
# baseline for both designs, so the word alone may appear); a new service has nothing to compare, so none of it may.
BASELINE_WORDS = re.compile(
    r"no baseline|mark old-system|cohort .baseline|no cases to compare|experiment against baseline|"
    r"compared with the baseline|before the team began",
    re.I,
)
SECTIONS = (
    "What the team built",
    "How the service was built: the learning log",
    "Demand as it emerged",
    "A workflow for each demand",
    "Capability since the start",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    folder = write_council(root / "councils" / COUNCIL, hub_files())
    result = run_batch([folder], root / "reports", jobs=2, progress=False, echo=lambda _: None)
    return result


def _text(html: str) -> str:
    """The page as a reader sees it: no embedded images or styles."""
    html = re.sub(r'src="data:[^"]+"', "", html)
    return re.sub(r"<style.*?</style>", "", html, flags=re.S)


def test_a_hub_with_no_old_system_renders_every_stage_and_never_asks_for_a_baseline(rendered):
    assert rendered.failed == [], rendered.summary()
    assert rendered.skipped == [], rendered.summary()
    service = rendered.out_dir / COUNCIL / SERVICE
    assert sorted(p.stem for p in service.glob("*.html")) == sorted(config.STAGES)
    for page in service.glob("*.html"):
        found = BASELINE_WORDS.findall(_text(page.read_text()))
        assert not found, f"{page.name} asks a new service for a baseline: {found}"
    experiment = json.loads((service / "experiment.json").read_text())
    assert experiment["design"] == "new service" and experiment["new_service"]["cases"] == 224
    assert experiment["measures"] == []


@pytest.mark.browser
def test_the_hubs_experiment_page_reads_as_a_new_service_in_a_real_browser(rendered, browser, tmp_path):
    """The page a hub's team and its managers read: what the team built first, the learning log as its spine (before
    the demand, workflows and charts), the food workflow before and after the eligibility check was designed out,
    what made it work; every chart loads with its text alternative; nothing scrolls sideways."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((rendered.out_dir / COUNCIL / SERVICE / "experiment.html").as_uri())

    assert page.locator("section.opening").first.is_visible()
    assert "The Hub team started Community hub on" in page.locator("section.opening").first.inner_text()
    body = page.locator("body").inner_text()
    where = [body.find(heading) for heading in SECTIONS]
    assert -1 not in where, dict(zip(SECTIONS, where))
    # findings first: what the team started opens the page, so its own section may follow the charts
    assert where[1:] == sorted(where[1:]), "the page reads: the learning log, demand, workflows, capability"
    for heading in SECTIONS[1:]:
        assert page.get_by_text(heading, exact=True).first.is_visible(), heading
    assert "There is no old system to compare with" in body
    assert "What the service predictably achieves now: a citizen's need met within" in body
    assert "What made it work" in body and "copy its conditions, not its procedures" in body
    # the learning log in date order, and the food workflow before and after its entry of 18 November
    assert body.index("Took every demand in one room") < body.index("Stopped checking eligibility for food")
    food = page.locator("table", has_text="Take the call → Check eligibility → Pass to the food bank → Deliver food")
    assert food.count() == 1 and "Take the call → Deliver food" in food.inner_text()
    assert "42 (0)" in food.inner_text() and "84 (3)" in food.inner_text()

    charts = page.evaluate(  # inline SVG charts, each named by its text alternative (aria-labelledby)
        """Array.from(document.querySelectorAll("svg.chart-svg")).map(s => ({
             ok: s.getBoundingClientRect().width > 0,
             alt: (document.getElementById(s.getAttribute("aria-labelledby") || "") || {}).textContent || ""}))"""
    )
    assert len(charts) >= 3, "demand as it emerged, end-to-end time per case, contacts a week"
    assert all(c["ok"] for c in charts), charts
    assert all(len(c["alt"]) > 20 for c in charts), [c["alt"] for c in charts]
    images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    assert all(images), "every embedded image loads"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1100 + 2, f"the page scrolls sideways ({width}px wide)"
    page.screenshot(path=str(tmp_path / "hub_experiment.png"), full_page=True)
    page.close()
    assert errors == []
