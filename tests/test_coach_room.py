"""The coach app in a real room: two laptops classifying fast, a reload storm, joining without the code, a killed
server. ``systemic coach --room`` runs as a real process; the laptops are Chromium browser contexts.

* Every decision names a contact that was on that person's screen when they pressed the key, no contact is decided
  twice, and the end screen agrees with the tally (``test_two_laptops_classifying_fast_...``).
* A page's kernel is freed within a minute of the page being closed or reloaded (``test_a_reload_storm_...``), and
  the memory a room needs is measured there (printed, and kept in ``docs/coach/room-memory.txt`` with
  SYSTEMIC_SCREENSHOTS=1).
* Without the code a person meets a plain door, not Jupyter's login; the code works as people type it; no 4xx log
  line holds it; a killed server leaves nothing listening.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from coach_support import ACT_MS, SHOTS, STEP_MS, Server, coach_council, join_workshop, open_app, shot

from systemic_lib.coach import state
from systemic_lib.data.decisions import store_path

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: Records, in the page, the contact on screen at every key press the desk could act on.
WATCH = """
window.__pressed = [];
document.addEventListener('keydown', (ev) => {
  const card = document.querySelector('.coach-desk-contact:not([hidden]) .coach-verbatim');
  window.__pressed.push([ev.key, card ? card.dataset.contact : null]);
}, true);
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str) -> tuple[int, str, str]:
    """Status, Location and body of one request (redirects not followed)."""
    try:
        r = urllib.request.build_opener(NoRedirect).open(url, timeout=60)
        return r.status, r.headers.get("Location", ""), r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")


@pytest.fixture
def room(tmp_path):
    server = Server(coach_council(tmp_path / "room"), tmp_path / "room.log", "--room", "--cull-after", "3")
    try:
        yield server
    finally:
        server.stop()


def test_two_laptops_classifying_fast_decide_only_what_they_see_and_the_end_screen_agrees(room, browser):
    people = {}
    try:
        for person in ("AB", "CD"):
            context, page = open_app(browser, room, url=room.local_join, ready=None)
            page.add_init_script(WATCH)
            page.reload()  # the watcher is in place before the desk is drawn
            join_workshop(page, person)  # typed at machine speed, Enter at once
            people[person] = page
        deadline = time.monotonic() + 300
        turn = 0
        while time.monotonic() < deadline:
            ends = [p.locator(".coach-end:not([hidden])").count() for p in people.values()]
            if all(ends):
                break
            turn += 1
            for person, page in people.items():  # both press keys as fast as they can, never waiting for a draw
                if person == "AB":
                    keys = "vv"
                else:
                    keys = "s" if turn % 5 == 0 else "f2"
                for key in keys:
                    page.keyboard.press(key)
            time.sleep(0.02)
        for page in people.values():
            page.locator(".coach-end:not([hidden])", has_text="Every contact for this service has a decision").wait_for(
                timeout=ACT_MS
            )
        shot(people["AB"], "3-demand-done")

        with sqlite3.connect(store_path(room.council)) as db:
            decisions = db.execute("SELECT contact_id, person, classification, failure_type FROM decisions").fetchall()
        assert {d[1] for d in decisions} == {"AB", "CD"}  # the initials as typed, no keystroke lost
        ids = [d[0] for d in decisions]
        assert len(ids) == len(set(ids)) == 22, "every open contact decided exactly once"
        for person, page in people.items():
            on_screen = {c for _, c in page.evaluate("window.__pressed") if c}
            mine = [d[0] for d in decisions if d[1] == person]
            assert mine and set(mine) <= on_screen, f"{person} decided contacts never on their screen"
        # the end screen agrees with the tally
        for page in people.values():
            page.locator(".coach-tally", has_text="0 still to classify").wait_for(timeout=ACT_MS)
            end = page.locator(".coach-end").inner_text()
            assert "(22 decided in this workshop)" in end
            assert page.errors == []
    finally:
        for page in people.values():
            page.context.close()


def test_a_reload_storm_leaves_only_the_live_pages_kernels(room, browser):
    pages = []
    loads = 0
    peak_rss = []
    try:
        for _ in range(4):  # four laptops join
            context, page = open_app(browser, room, url=room.url)
            pages.append(page)
            loads += 1
        for _ in range(3):  # two reload three times
            for page in pages[:2]:
                page.reload()
                page.locator(".coach-steps").wait_for(timeout=STEP_MS)
                loads += 1
        assert loads == 10
        peak_rss = [k.memory_info().rss for k in room.kernels()]
        for page in pages[2:]:  # two leave: their tabs closed without a goodbye
            page.context.close()
        live = 2
        deadline = time.monotonic() + 60
        while len(room.kernels()) > live and time.monotonic() < deadline:
            time.sleep(1)
        kernels = room.kernels()
        assert len(kernels) <= live, f"{len(kernels)} kernels for {live} live pages after a minute"
        # the live pages still work
        pages[0].locator(".coach-step-purpose").click()
        pages[0].locator(".coach-body h2", has_text="Purpose").wait_for(timeout=STEP_MS)
        rss = [k.memory_info().rss for k in room.kernels()]
        server_rss = __import__("psutil").Process(room.proc.pid).memory_info().rss
        per_kernel = max(rss + peak_rss) / 2**20
        note = (
            f"kernels after 10 loads with 2 pages live: {len(kernels)}; a page's kernel {per_kernel:.0f} MB at most "
            f"(RSS; {len(peak_rss)} kernels alive at the peak, {sum(peak_rss) / 2**20:.0f} MB); the server "
            f"{server_rss / 2**20:.0f} MB; a room of 12 laptops: {(12 * per_kernel + server_rss / 2**20) / 1024:.1f} GB"
        )
        print(note)
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "room-memory.txt").write_text(note + "\n")
    finally:
        for page in pages:
            page.context.close()


def test_without_the_code_a_plain_door_and_the_code_as_people_type_it(room, browser):
    printed = room.text()
    assert "?token=..." not in printed and "Voilà is running" not in printed  # only the app's own address
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", room.code)
    assert room.join.endswith(f"/join?token={room.code}") and "127.0.0.1" not in room.join

    status, location, _ = fetch(room.base + "/")
    assert status == 302 and location.startswith("/login")
    status, _, body = fetch(room.base + location)
    assert status == 200 and "Ask the coach for the room code" in body
    assert "Jupyter" not in body and "jupyter" not in body and "token" not in body.lower()
    for path in ("/api/kernels", "/?token=WRONG123", "/join?token=WRONG123"):
        status, location, _ = fetch(room.base + path)
        assert status == 302 and location.startswith("/login"), path
    status, _, body = fetch(room.base + "/voila/templates/lab/nothing-here")  # Voilà answered 500 with a traceback
    assert status in (302, 404)
    code = room.code
    for path in (f"/voila/templates/x?token={code}", f"/voila/templates/lab/static/none.css?token={code}"):
        assert fetch(room.base + path)[0] == 404
    log = room.text()
    assert "Traceback" not in log
    refused = [line for line in log.splitlines() if re.match(r"^\[?\w*\]?\s*4\d\d ", line) or " 404 " in line]
    assert refused and not [line for line in refused if code in line], refused  # no code in a 4xx line

    before = state.read(room.council)
    context, page = open_app(browser, room, url=room.base + "/join", ready=None)
    try:
        page.get_by_text("Ask the coach for the room code").wait_for(timeout=STEP_MS)
        shot(page, "0-room-door")
        page.get_by_label("Room code").fill("WRONG123")
        page.get_by_role("button", name="Join").click()
        page.get_by_role("alert").filter(has_text="That is not the room code").wait_for()
        page.get_by_label("Room code").fill(f" {code[:4].lower()} {code[4:].lower()} ")  # as a person types it
        page.get_by_role("button", name="Join").click()
        page.locator(".coach-join-form input").wait_for(timeout=STEP_MS)  # the join page of the current service
        assert page.locator(".coach-body h2").first.inner_text() == "Demand workshop"
        assert page.errors == []
    finally:
        context.close()
    assert state.read(room.council)["step"] == before["step"]  # a joiner moves nobody's step


def test_the_coach_page_shows_the_join_code_and_qr(room, browser):
    context, page = open_app(browser, room)
    try:
        assert page.locator(".coach-access-code").inner_text() == room.code
        assert page.locator(".coach-qr svg").count() == 1
        shot(page, "0-room-join")
    finally:
        context.close()


def test_a_killed_server_leaves_nothing_listening(room, browser):
    context, page = open_app(browser, room)
    context.close()
    kernels = room.kernels()
    assert kernels
    room.proc.send_signal(signal.SIGKILL)  # the coach's laptop lid shut hard, or kill -9
    room.proc.wait(timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", room.port), timeout=2).close()
    deadline = time.monotonic() + 30
    while any(k.is_running() and k.status() != "zombie" for k in kernels) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(k.is_running() and k.status() != "zombie" for k in kernels), "kernels outlived their server"
