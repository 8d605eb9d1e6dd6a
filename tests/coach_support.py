"""What the coach app's browser tests share: ``systemic coach`` as a real process (``Server``), a page in headless
Chromium on it (``open_app``), moving between steps, waiting for the app's messages, its kernels (``kernels``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from systemic_lib import config

from conftest import TESTSHIRE, free_port, write_council

SERVICE = "housing-repairs"
#: The README's screenshots are refreshed with SYSTEMIC_SCREENSHOTS=1 (the room's access code changes every run, so an
#: ordinary test run keeps its screenshots out of the tree).
SHOTS = (
    config.PROJECT_ROOT / "docs" / "coach"
    if os.environ.get("SYSTEMIC_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "systemic-coach-screenshots"
)
START_S = 120  # the server answering
STEP_MS = 120_000  # a step built (the first one includes the kernel starting; slow on a busy machine)
ACT_MS = 30_000  # one action answered
VIEW = {"width": 1280, "height": 720}
HEADINGS = {
    "choose": "Choose the service",
    "purpose": "Purpose",
    "demand": "Demand workshop",
    "capability": "Capability",
    "flow": "Flow",
    "conditions": "System conditions and thinking",
    "experiment": "Experiment and learning",
    "managers": None,
}


def coach_council(folder: Path, extra: int = 20) -> Path:
    """Testshire plus U01-U<extra>: unclassified housing-repairs contacts for the workshop."""
    rows = "".join(
        f"U{i:02d},housing-repairs,2024-01-{(i % 25) + 5:02d} 10:00,phone,Contact number {i} about my repair,"
        "fix boiler,,,,\n"
        for i in range(1, extra + 1)
    )
    return write_council(folder, {**TESTSHIRE, "demand.csv": TESTSHIRE["demand.csv"] + rows})


class Server:
    """``systemic coach`` as a subprocess (its own process group); ``url`` is the one it printed."""

    def __init__(self, council: Path, log: Path, *extra: str):
        self.council, self.log, self.port = council, log, free_port()
        env = {k: v for k, v in os.environ.items() if k != "SYSTEMIC_BATCH"}
        env["PYTHONPATH"] = os.pathsep.join([str(config.PROJECT_ROOT), env.get("PYTHONPATH", "")])
        env["SYSTEMIC_ROOT"] = str(config.PROJECT_ROOT)
        self.started = time.monotonic()
        self.out = open(log, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "systemic_lib.cli",
                "coach",
                str(council),
                "--port",
                str(self.port),
                "--no-browser",
                *extra,
            ],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.url = self._printed(r"Coach app for \S+: (\S+)")
        self.code = self._printed(r"Access code: (\S+)") if "--room" in extra else None
        self.join = self._printed(r"join at: (\S+)") if "--room" in extra else None
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def local_join(self) -> str:
        """The join address as a laptop in the room opens it, on this machine's loopback address."""
        return re.sub(r"^http://[^/]+", self.base, self.join)

    def _printed(self, pattern: str) -> str:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                pytest.fail(f"systemic coach exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"systemic coach printed no {pattern!r}:\n{self.text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kernels(self) -> list:
        """The server's kernel processes (psutil), each a page's kernel."""
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        out = []
        for p in children:
            try:
                if "ipykernel" in " ".join(p.cmdline()):
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            for s, wait in ((sig, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, s)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.out.close()


def open_app(browser, server: Server, requests: list | None = None, *, url: str | None = None, ready=".coach-steps"):
    context = browser.new_context(viewport=VIEW, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(ACT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(url or server.url, timeout=STEP_MS)
    if ready:
        page.locator(ready).first.wait_for(timeout=STEP_MS)
    return context, page


def go(page, step: str) -> None:
    page.locator(f".coach-step-{step}").click()
    if HEADINGS[step]:
        page.locator(".coach-body h2", has_text=re.compile(rf"^{re.escape(HEADINGS[step])}$")).wait_for(timeout=STEP_MS)
    else:
        page.locator(".coach-summary").wait_for(timeout=STEP_MS)
    page.wait_for_timeout(300)


def said(page, text: str):
    """Wait for a saved/problem message containing ``text``; return its text."""
    loc = page.locator("[role=status], [role=alert]", has_text=text).first
    loc.wait_for(timeout=ACT_MS)
    return loc.inner_text()


def join_workshop(page, person: str) -> None:
    """Type a name at machine speed and press Enter at once, as the demand workshop's first key presses."""
    box = page.locator(".coach-join-form input")
    box.wait_for(timeout=STEP_MS)
    box.focus()
    page.keyboard.type(person, delay=0)
    page.keyboard.press("Enter")
    page.locator(".coach-desk-contact:not([hidden]), .coach-end:not([hidden])").first.wait_for(timeout=ACT_MS)
    page.locator(".coach-desk:not(.coach-waiting)").wait_for(timeout=ACT_MS)


def decided(page, person: str, before: str) -> str:
    """Wait for the workshop's message to change from ``before`` to a decision by ``person``; return the contact id."""
    handle = page.wait_for_function(
        """([person, before]) => { const m = document.querySelector('.coach-said [role=status]');
             return m && m.innerText !== before && m.innerText.endsWith('by ' + person + '.') ? m.innerText : false; }""",
        arg=[person, before],
        timeout=ACT_MS,
    )
    return handle.json_value()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png")


def widget_input(root, label: str, kind: str = "input"):
    """The input (or ``kind``) of the widget labelled ``label``, in a page or inside a locator."""
    page = getattr(root, "page", root)
    return (
        root.locator(
            ".widget-inline-hbox, .widget-textarea, .widget-text",
            has=page.locator("label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")),
        )
        .locator(kind)
        .first
    )
