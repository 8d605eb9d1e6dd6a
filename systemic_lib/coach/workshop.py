"""Step 3, the demand workshop: the team classifies contacts one at a time, in large type, from their own browsers.

Each person gives a name or initials; ``decisions.DecisionStore`` (SQLite beside the council) hands each person a
different contact (a lease), keeps every decision with who made it, and folds them into ``demand.csv`` on demand
(and before every batch). The desk (``Desk``, drawn by ``desk.js``) sends each decision with the id of the contact
on the person's screen and what is typed in its boxes; the store refuses a decision on a contact not leased to that
person, and the desk ignores key presses until the next contact is drawn. Keys: ``v`` value, ``f`` failure then
``1``-``9`` what failed, ``s`` skip, ``u`` undo. A skipped contact comes back to the room once every other contact
is taken, so the end screen ("every contact has a decision") agrees with the tally.

The tally and Pareto update after each decision, and every few seconds with everyone else's; where two people
decided differently, the team sees it. The coach can start a **calibration round** (the same 20 contacts to
everyone) and see how far the room agrees (``analysis.agreement``: Fleiss' kappa with its n, in words) and which
contacts to discuss.
"""

from __future__ import annotations

import threading
from pathlib import Path

import anywidget
import ipywidgets as w
import traitlets

from systemic_lib import words
from systemic_lib.analysis import agreement
from systemic_lib.coach import ui
from systemic_lib.data.contract import FAILURE_TYPES
from systemic_lib.data.decisions import ROUND_SIZE, DecisionStore, NotOnScreen
from systemic_lib.errors import SystemicError


def pareto_html(rows: list[dict], *, top: int = 12) -> str:
    """The Pareto as a table with bars (value and failure), largest demand types first."""
    rows = sorted(rows, key=lambda r: -(r["value"] + r["failure"]))[:top]
    if not rows:
        return '<p class="note">No classified contacts yet.</p>'
    most = max(r["value"] + r["failure"] for r in rows) or 1
    body = "".join(
        f"<tr><td>{ui.esc(r['demand_type'])}</td><td>{words.number(r['value'])}</td>"
        f"<td>{words.number(r['failure'])}</td><td style='width:40%' aria-hidden='true'>"
        f"<span style='display:inline-block;height:14px;background:#1d5a8c;width:{100 * r['value'] / most:.1f}%'></span>"
        f"<span style='display:inline-block;height:14px;background:#8f4300;width:{100 * r['failure'] / most:.1f}%'></span>"
        "</td></tr>"
        for r in rows
    )
    return (
        "<table class='data coach-pareto'><thead><tr><th>Demand type</th><th>Value</th><th>Failure</th>"
        f"<th><span class='coach-sr-only'>Bar</span></th></tr></thead><tbody>{body}</tbody></table>"
    )


def tally_html(t: dict) -> str:
    classified = t["value"] + t["failure"]
    pct = words.percent(100 * t["failure"] / classified) if classified else words.MISSING
    return (
        f"<p class='coach-tally'><b>{words.number(t['value'])}</b> value · <b>{words.number(t['failure'])}</b> "
        f"failure ({pct} failure demand) · {words.number(t['unclassified'])} still to classify · "
        f"{words.number(t['decided_in_workshop'])} decided in this workshop</p>"
    )


#: Seconds between looks at the others' decisions (the tally, Pareto and disagreements of the whole room).
LIVE_SECONDS = 2.0


class Desk(anywidget.AnyWidget):
    """One person's desk: the join form, then one contact at a time (``view`` join, contact, wait or done). The
    kernel sets ``contact`` and bumps ``drawn`` for every draw; the browser sends ``start``, ``decide``, ``skip``,
    ``undo`` and ``keep`` messages carrying the contact it shows (``desk.js``)."""

    _esm = Path(__file__).with_name("desk.js")
    view = traitlets.Unicode("join").tag(sync=True)
    contact = traitlets.Dict().tag(sync=True)
    drawn = traitlets.Int(0).tag(sync=True)
    said = traitlets.Dict().tag(sync=True)
    end = traitlets.Unicode("").tag(sync=True)
    failure_types = traitlets.List(list(FAILURE_TYPES[:9])).tag(sync=True)


class Workshop(w.VBox):
    def __init__(self, council_dir, service: str, *, live: float | None = LIVE_SECONDS, coach: bool = True):
        self.store = DecisionStore(council_dir)
        self.service = service
        self.person = ""
        self.current: dict | None = None
        self._lock = threading.RLock()  # the browser's messages and the live look at the room take turns
        self.desk = Desk()
        self.desk.on_msg(self._on_msg)
        self.tally = ui.html()
        self.pareto = ui.html()
        self.disagree = ui.html()
        self.fold = ui.button("Write the decisions into demand.csv", classes=("coach-fold",))
        self.fold.on_click(lambda _: self.fold_now())
        self.said = ui.html("", "coach-fold-said")
        self.calibration = Calibration(self) if coach else None
        super().__init__(
            [
                ui.heading(
                    "Demand workshop",
                    "One contact at a time, in the citizen's words. Is it what the service "
                    "exists to provide (value), or caused by a failure to do something or do "
                    "it right (failure)? Keys: V value, F failure then 1-9 what failed, "
                    "S skip, U undo.",
                ),
                self.desk,
                ui.html("<h3>Tally so far</h3>"),
                self.tally,
                self.pareto,
                ui.html("<h3>Where we disagree</h3>"),
                self.disagree,
                *([self.calibration] if self.calibration else []),
                self.fold,
                self.said,
            ]
        )
        self._shown: tuple | None = None
        self.refresh()
        self._stop = threading.Event()
        if live:
            threading.Thread(target=self._follow, args=(live,), daemon=True, name="coach-tally").start()

    def _follow(self, every: float) -> None:
        """Keep the tally live while the step is open: the room's decisions, not only this browser's."""
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception:
                continue

    def leave(self) -> None:
        """The app left this step: stop following the room's decisions."""
        self._stop.set()

    # ------------------------------------------------------------------------------------------------ the desk
    def _on_msg(self, _, content, buffers=None) -> None:
        with self._lock:
            try:
                self.handle(content or {})
            except SystemicError as exc:
                self.say("problem", str(exc))

    def handle(self, content: dict) -> None:
        """One message from the desk (``do``: start, decide, skip, undo or keep)."""
        do = content.get("do")
        if do == "start":
            self.begin(str(content.get("person") or ""))
        elif do == "keep":
            if self.person and content.get("contact"):
                self.store.renew(content["contact"], self.person)
        elif not self.person:
            self.say("problem", "Write your name or initials first.")
        elif do == "decide":
            self.decide(content)
        elif do == "skip":
            self.skip_it(content.get("contact"))
        elif do == "undo":
            self.undo_last()

    def say(self, kind: str, text: str) -> None:
        self.desk.said = {"kind": kind, "text": text, "n": self.desk.said.get("n", 0) + 1}

    def begin(self, person: str) -> None:
        person = person.strip()
        if not person:
            self.say("problem", "Write your name or initials first.")
            self.desk.drawn += 1
            return
        if len(person) > 60:
            self.say("problem", "A name or initials, please (at most 60 characters).")
            self.desk.drawn += 1
            return
        self.person = person
        self.say("ok", f"Classifying as {person}.")
        self.next_one()

    def next_one(self) -> None:
        """Draw this person's next contact, or say why there is none; always bumps ``drawn`` (the browser then
        takes key presses again and moves focus to what is drawn)."""
        c = self.current = self.store.next_contact(self.service, self.person)
        desk = self.desk
        if c is None:
            desk.view, desk.end = self._end_state()
            desk.contact = {}
        else:
            meta = " · ".join(x for x in (c.get("contact_id"), c.get("received_at"), c.get("channel")) if x)
            desk.contact = {
                "id": c["contact_id"],
                "verbatim": c.get("verbatim") or "",
                "meta": meta,
                "demand_type": str(c.get("demand_type") or ""),
                "note": self._note(c),
            }
            desk.view = "contact"
        desk.drawn += 1

    def _note(self, c: dict) -> str:
        if c.get("round") is not None:
            active = self.store.round(self.service)
            if active:
                k = active["contacts"].index(c["contact_id"]) + 1 if c["contact_id"] in active["contacts"] else 0
                return f"Calibration round: contact {k} of {len(active['contacts'])}, the same for everyone."
        if c.get("back"):
            return "Skipped earlier: back now that every other contact has been taken."
        return ""

    def _end_state(self) -> tuple[str, str]:
        """Why this person has no contact: the round is done for them, the others hold the rest, or all done."""
        active = self.store.round(self.service)
        if active is not None:
            return "wait", (
                f"You have classified the {words.count(len(active['contacts']), 'contact')} of the calibration round. "
                "The coach will show how far the room agrees."
            )
        t = self.store.tally(self.service)
        if t["unclassified"] == 0:
            return "done", (
                f"Every contact for this service has a decision ({words.number(t['decided_in_workshop'])} decided in "
                "this workshop). Write them into demand.csv below when the team is done."
            )
        held = self.store.waiting(self.service, self.person)
        return "wait", (
            f"{words.count(t['unclassified'], 'contact')} still to classify, "
            f"{words.number(held)} of them on other people's screens now. Any that are skipped or left come to you."
        )

    def decide(self, content: dict) -> None:
        cid = str(content.get("contact") or "")
        classification = str(content.get("classification") or "")
        failure_type = content.get("failure_type")
        try:
            self.store.decide(
                cid,
                self.person,
                classification,
                failure_type=failure_type,
                demand_type=str(content.get("demand_type") or "").strip() or None,
                what_matters=str(content.get("what_matters") or "").strip() or None,
            )
        except NotOnScreen as exc:
            self.say("problem", f"Not saved: {exc}.")
            self.next_one()
            return
        what = classification + (f" ({failure_type})" if failure_type else "")
        self.say("ok", f"{cid}: {what}, by {self.person}.")
        self.next_one()
        self.refresh()

    def skip_it(self, contact) -> None:
        cid = str(contact or "")
        self.store.skip(cid, self.person)
        self.say("ok", f"Skipped {cid}: it comes back to the room once every other contact is taken.")
        self.next_one()

    def undo_last(self) -> None:
        cid = self.store.undo(self.person)
        self.say("ok", f"Undid your decision on {cid}." if cid else "Nothing of yours to undo.")
        self.next_one()
        self.refresh()

    # -------------------------------------------------------------------------------------------- the room
    def fold_now(self) -> None:
        try:
            n = self.store.fold()
        except SystemicError as exc:
            self.said.value = ui.message("problem", str(exc))
            return
        self.said.value = ui.message(
            "ok", f"{words.count(n, 'contact')} written into demand.csv (the previous version is kept)."
        )
        self.refresh()

    def refresh(self) -> None:
        """Tally, Pareto, disagreements and the calibration round as they stand; widgets change only when the
        figures did. A person waiting for a contact gets one as soon as one is free."""
        t = self.store.tally(self.service)
        active = self.store.round(self.service)
        if self.calibration is not None:
            self.calibration.refresh()
        key = (t, None if active is None else active["id"])
        if key == self._shown:
            return
        self._shown = key
        self.tally.value = tally_html(t)
        self.pareto.value = pareto_html(t.get("pareto", []))
        self.disagree.value = ui.table(
            self.store.disagreements(self.service),
            empty="No disagreements: nobody has decided a contact differently from someone else.",
        )
        with self._lock:
            if self.person and self.desk.view in ("wait", "done"):
                self.next_one()


class Calibration(w.VBox):
    """The coach's calibration round: start it (the same contacts to everyone), follow it, end it, and read how far
    the room agrees, with the contacts to discuss."""

    def __init__(self, workshop: Workshop):
        self.workshop = workshop
        self.start = ui.button(
            f"Start a calibration round: the same {ROUND_SIZE} contacts to everyone", classes=("coach-round-start",)
        )
        self.stop = ui.button("End the round and show the agreement", classes=("coach-round-end",))
        self.start.on_click(lambda _: self.begin())
        self.stop.on_click(lambda _: self.finish())
        self.state = ui.html("", "coach-round-state")
        self.view = ui.html("", "coach-agreement")
        self._shown: tuple | None = None
        super().__init__([ui.html("<h3>How far the room agrees</h3>"), self.state, self.start, self.stop, self.view])
        self.add_class("coach-calibration")

    def begin(self) -> None:
        try:
            rnd = self.workshop.store.start_round(self.workshop.service)
        except SystemicError as exc:
            self.state.value = ui.message("problem", str(exc))
            return
        self.state.value = ui.message(
            "ok",
            f"Calibration round started: {words.count(len(rnd['contacts']), 'contact')}, the same to everyone. "
            "People get them with their next contact.",
        )
        self._shown = None
        self.refresh()

    def finish(self) -> None:
        if self.workshop.store.end_round(self.workshop.service) is None:
            self.state.value = ui.message("problem", "No calibration round is running.")
        self._shown = None
        self.refresh()

    def refresh(self) -> None:
        store, service = self.workshop.store, self.workshop.service
        active = store.round(service)
        labels = store.round_labels(service)
        key = (None if active is None else (active["id"], tuple(sorted(active["done"].items()))), len(labels))
        if key == self._shown:
            return
        self._shown = key
        self.start.layout.display = "none" if active else None
        self.stop.layout.display = None if active else "none"
        if active:
            done = ", ".join(f"{ui.esc(p)} {n} of {len(active['contacts'])}" for p, n in active["done"].items())
            self.state.value = (
                f"<p role='status'>A calibration round is running. Done so far: {done or 'nobody yet'}.</p>"
            )
        if labels.empty:
            self.view.value = (
                "<p class='note'>No calibration round yet. Start one to see how far the room agrees: everyone "
                "classifies the same contacts, then the room discusses the ones it split on.</p>"
            )
            return
        latest = labels[labels["round"] == labels["round"].max()]
        self.view.value = agreement_html(agreement.agreement(latest), store)


def agreement_html(a: agreement.Agreement, store: DecisionStore) -> str:
    """The agreement in sentences, the table per label (kappa with its n) and the contacts to discuss."""
    said = "".join(f"<p>{ui.esc(s)}</p>" for s in agreement.sentences(a))
    split = a.split.copy()
    if len(split):
        split.insert(1, "verbatim", [store.shown_verbatim(c) for c in split["contact_id"]])
    return (
        said
        + ui.table(agreement.table(a), empty="")
        + "<h4>Contacts to discuss</h4>"
        + ui.table(split, empty="None: everyone said the same on every contact.")
    )


def build(app) -> w.Widget:
    return Workshop(app.folder, app.service, coach=not getattr(app, "joiner", False))
