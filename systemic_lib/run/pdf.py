"""Report pages as PDFs: each HTML page printed to A4 beside it (``stage.html`` -> ``stage.pdf``), by the Chromium
the project already uses (Playwright driving the system's ``chromium``), with the pages' own print CSS
(templates/report/print.css: A4, what we found on page 1, charts never split, no navigation or controls).

``page_pdf`` is the one place a page becomes a PDF (the batch's ``--pdf`` and the tests use it); ``print_pages``
prints many pages with one browser: each PDF is written atomically, and a page that fails to print (a timeout, a
crash of the browser's tab or of the browser itself) is named with its reason and never stops the rest. Printing
runs on the machine that holds the reports: with a Dask cluster the workers send every page back first, and the
pages are printed here after the batch. Pages are opened from disk with every request off this machine refused, so
printing never reaches out (a report is self-contained).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from systemic_lib.data.files import atomic_write_bytes

PAGE_TIMEOUT_MS = 60_000  #: one page's load and print, at most
CHROMIUM_ARGS = ["--lang=en-GB", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def chromium_path() -> str | None:
    """The system's Chromium (``$SYSTEMIC_CHROMIUM`` names another), or None."""
    named = os.environ.get("SYSTEMIC_CHROMIUM")
    return named or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Printed:
    """What a print run did: the PDFs written and the pages that failed, each with its reason (paths relative to
    the reports folder, as the manifest names reports)."""

    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    printed_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    def entries(self) -> list[dict]:
        """The manifest's ``pdfs`` entries: one per page, ok or failed with its reason."""
        ok = [{"page": p, "pdf": _pdf_name(p), "status": "ok", "printed_at": self.printed_at} for p in self.written]
        bad = [
            {"page": p, "status": "failed", "error": why, "printed_at": self.printed_at}
            for p, why in self.failed.items()
        ]
        return ok + bad

    def summary(self) -> list[str]:
        """The batch summary's lines: how many printed, then each page that did not, with why."""
        n = len(self.written) + len(self.failed)
        lines = [f"Printed {len(self.written)} of {n} pages to PDF (A4, beside each page); {len(self.failed)} failed."]
        if self.failed:
            lines += ["", f"PDF FAILED ({len(self.failed)}):"]
            lines += [f"  {page}\n    {why}" for page, why in self.failed.items()]
        return lines


def _pdf_name(page: str) -> str:
    return str(Path(page).with_suffix(".pdf"))


def page_pdf(page: Any) -> bytes:
    """A Playwright page, as it is loaded, printed: print media, the page's own ``@page`` size (A4 in the report
    CSS, A4 if it names none), backgrounds kept (the findings' box, the charts' colours)."""
    page.emulate_media(media="print")
    return page.pdf(format="A4", prefer_css_page_size=True, print_background=True)


def _refuse_outside(route: Any) -> None:
    if route.request.url.startswith(("file:", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def _print_one(browser: Any, html: Path, timeout_ms: int) -> bytes:
    context = browser.new_context()
    try:
        context.set_default_timeout(timeout_ms)
        context.route("**/*", _refuse_outside)
        page = context.new_page()
        page.goto(html.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        return page_pdf(page)
    finally:
        context.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"


def print_pages(
    pages: Iterable[Path],
    root: Path,
    *,
    timeout_ms: int = PAGE_TIMEOUT_MS,
    on_page: Callable[[str, str | None], None] | None = None,
) -> Printed:
    """Print every HTML page in ``pages`` to a PDF beside it (atomically); ``root`` is the reports folder the
    results name pages from. ``on_page(page, error)`` is told of each page as it is done. Raises nothing for a
    page: a page that fails is recorded; if Chromium or Playwright is missing, every page fails saying so."""
    pages = [Path(p) for p in pages]
    done = Printed()

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            return str(p)

    def record(p: Path, error: str | None) -> None:
        if error is None:
            done.written.append(rel(p))
        else:
            done.failed[rel(p)] = error
        if on_page is not None:
            on_page(rel(p), error)

    path = chromium_path()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        for p in pages:
            record(p, "Chromium (or Playwright) is not installed: `make browser` installs Chromium")
        return done
    # in a thread of its own: Playwright's sync API refuses a thread that runs an asyncio loop (a notebook's, a test's)
    with ThreadPoolExecutor(max_workers=1) as one:
        one.submit(_print_all, pages, path, timeout_ms, record).result()
    return done


def _print_all(pages: list[Path], path: str, timeout_ms: int, record: Callable[[Path, str | None], None]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = None
        for p in pages:
            try:
                if browser is None or not browser.is_connected():  # the first page, or after a crash
                    browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                atomic_write_bytes(p.with_suffix(".pdf"), _print_one(browser, p, timeout_ms))
            except Exception as exc:  # one page's failure (or the browser's) never stops the others
                record(p, _reason(exc))
            else:
                record(p, None)
        if browser is not None and browser.is_connected():
            browser.close()
