"""axe-core 4 in Chromium, for every page a person reads: the WCAG 2.0, 2.1 and 2.2 A and AA rules.

axe-core comes with the ``axe-playwright-python`` test dependency (its ``axe.min.js``, axe-core 4.12); this module
injects it into a Playwright page and runs only the WCAG A and AA rules (``TAGS``). Shared by the coach app's tests
(each coach step) and the report pages' tests: ``violations(page)`` and ``describe(found)`` for a failing assert.
"""

from __future__ import annotations

from axe_playwright_python.base import AXE_SCRIPT

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def violations(page, context=None) -> list[dict]:
    """axe-core's violations of the WCAG A and AA rules on ``page`` (or inside ``context``, a CSS selector)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "([context, options]) => axe.run(context || document, options)",
        [context, {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}],
    )
    return result["violations"]


def describe(found: list[dict]) -> str:
    """Each violation in a line: rule, impact, what it means and where (the first three places)."""
    lines = []
    for v in found:
        where = "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:3])
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']} at {where}")
    return "\n".join(lines)
