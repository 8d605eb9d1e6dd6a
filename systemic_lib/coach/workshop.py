"""Step 3, the demand workshop: the team classifies contacts one at a time, in large type, from their own browsers.

Each person gives a name or initials; ``decisions.DecisionStore`` (SQLite beside the council) hands each person a
different contact (a lease), keeps every decision with who made it, and folds them into ``demand.csv`` on demand
(and before every batch). Keys: ``v`` value, ``f`` failure then ``1``-``9`` the failure type, ``s`` skip, ``u`` undo.
The tally and Pareto update after each decision, and every few seconds with everyone else's; where two people
decided differently, the team sees it.
"""

from __future__ import annotations

import threading

import ipywidgets as w

from systemic_lib import words
from systemic_lib.coach import ui
from systemic_lib.data.contract import FAILURE_TYPES
from systemic_lib.data.decisions import DecisionStore
from systemic_lib.errors import SystemicError


def pareto_html(rows: list[dict], *, top: int = 12) -> str:
    """The Pareto as a table with bars (value and failure), largest demand types first."""
    rows = sorted(rows, key=lambda r: -(r["value"] + r["failure"]))[:top]
    if not rows:
        return '<p class="note">No classified contacts yet.</p>'
    most = max(r["value"] + r["failure"] for r in rows) or 1
    body = "".join(
        f"<tr><td>{ui.esc(r['demand_type'])}</td><td>{words.number(r['value'])}</td>"
        f"<td>{words.number(r['failure'])}</td><td style='width:40%'>"
        f"<span style='display:inline-block;height:14px;background:#1d5a8c;width:{100 * r['value'] / most:.1f}%'></span>"
        f"<span style='display:inline-block;height:14px;background:#8f4300;width:{100 * r['failure'] / most:.1f}%'></span>"
        "</td></tr>"
        for r in rows
    )
    return (
        "<table class='data coach-pareto'><thead><tr><th>Demand type</th><th>Value</th><th>Failure</th>"
        f"<th aria-hidden='true'></th></tr></thead><tbody>{body}</tbody></table>"
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


class Workshop(w.VBox):
    def __init__(self, council_dir, service: str, *, live: float | None = LIVE_SECONDS):
        self.store = DecisionStore(council_dir)
        self.service = service
        self.person = ""
        self.current: dict | None = None
        self.name = w.Text(description="Your name or initials", style=ui.LABEL, layout=w.Layout(width="520px"))
        self.name.add_class("coach-person")
        self.start = ui.button("Start classifying", primary=True, classes=("coach-start",))
        self.start.on_click(lambda _: self.begin())
        self.name.on_submit(lambda _: self.begin())
        self.card = ui.html("", "coach-card")
        self.demand_type = w.Text(description="Demand type", style=ui.LABEL, layout=w.Layout(width="95%"))
        self.what_matters = w.Text(description="What matters", style=ui.LABEL, layout=w.Layout(width="95%"))
        self.value = ui.button("Value", key="v", classes=("coach-value",))
        self.failure = ui.button("Failure", key="f", classes=("coach-failure",))
        self.skip = ui.button("Skip", key="s")
        self.undo = ui.button("Undo", key="u")
        self.value.on_click(lambda _: self.decide("value"))
        self.failure.on_click(lambda _: self.ask_failure_type())
        self.skip.on_click(lambda _: self.skip_it())
        self.undo.on_click(lambda _: self.undo_last())
        self.types = [ui.button(ft, key=str(i)) for i, ft in enumerate(FAILURE_TYPES[:9], start=1)]
        for b, ft in zip(self.types, FAILURE_TYPES):
            b.on_click(lambda _, ft=ft: self.decide("failure", ft))
        self.type_row = w.HBox([ui.html("<b>What failed?</b>"), *self.types], layout=w.Layout(flex_flow="row wrap"))
        self.type_row.add_class("coach-decide")
        self.type_row.layout.display = "none"
        self.buttons = w.HBox([self.value, self.failure, self.skip, self.undo])
        self.buttons.add_class("coach-decide")
        self.said = ui.html("", "coach-said")
        self.tally = ui.html()
        self.pareto = ui.html()
        self.disagree = ui.html()
        self.fold = ui.button("Write the decisions into demand.csv", classes=("coach-fold",))
        self.fold.on_click(lambda _: self.fold_now())
        self.desk = w.VBox([self.card, self.demand_type, self.what_matters, self.buttons, self.type_row])
        self.desk.layout.display = "none"
        super().__init__(
            [
                ui.heading(
                    "Demand workshop",
                    "One contact at a time, in the citizen's words. Is it what the service "
                    "exists to provide (value), or caused by a failure to do something or do "
                    "it right (failure)? Keys: V value, F failure then 1-9 what failed, "
                    "S skip, U undo.",
                ),
                w.HBox([self.name, self.start]),
                self.desk,
                self.said,
                ui.html("<h3>Tally so far</h3>"),
                self.tally,
                self.pareto,
                ui.html("<h3>Where we disagree</h3>"),
                self.disagree,
                self.fold,
            ]
        )
        self._shown: dict = {}
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

    # ------------------------------------------------------------------------------------------------- actions
    def begin(self) -> None:
        person = self.name.value.strip()
        if not person:
            self.said.value = ui.message("problem", "Write your name or initials first.")
            self.desk.layout.display = None
            return
        self.person = person
        self.desk.layout.display = None
        self.next_one()

    def next_one(self) -> None:
        self.type_row.layout.display = "none"
        self.current = self.store.next_contact(self.service, self.person)
        c = self.current
        if c is None:
            self.card.value = (
                "<div class='coach-verbatim'>Every contact for this service has a decision. "
                "<small>Write them into demand.csv below when the team is done.</small></div>"
            )
            self.demand_type.value = self.what_matters.value = ""
            return
        meta = " · ".join(ui.esc(x) for x in (c.get("contact_id"), c.get("received_at"), c.get("channel")) if x)
        verbatim = c.get("verbatim") or "(no verbatim recorded)"
        self.card.value = f"<div class='coach-verbatim'>“{ui.esc(verbatim)}”<small>{meta}</small></div>"
        self.demand_type.value = str(c.get("demand_type") or "")
        self.what_matters.value = ""

    def ask_failure_type(self) -> None:
        if self.current is not None:
            self.type_row.layout.display = None

    def decide(self, classification: str, failure_type: str | None = None) -> None:
        if self.current is None or not self.person:
            return
        cid = self.current["contact_id"]
        try:
            self.store.decide(
                cid,
                self.person,
                classification,
                failure_type=failure_type,
                demand_type=self.demand_type.value.strip() or None,
                what_matters=self.what_matters.value.strip() or None,
            )
        except SystemicError as exc:
            self.said.value = ui.message("problem", str(exc))
            return
        what = classification + (f" ({failure_type})" if failure_type else "")
        self.said.value = ui.message("ok", f"{cid}: {what}, by {self.person}.")
        self.next_one()
        self.refresh()

    def skip_it(self) -> None:
        if self.current is None or not self.person:
            return
        self.store.skip(self.current["contact_id"], self.person)
        self.said.value = ui.message("ok", f"Skipped {self.current['contact_id']}.")
        self.next_one()

    def undo_last(self) -> None:
        if not self.person:
            return
        cid = self.store.undo(self.person)
        self.said.value = ui.message("ok", f"Undid your decision on {cid}." if cid else "Nothing of yours to undo.")
        self.next_one()
        self.refresh()

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
        """Tally, Pareto and disagreements as they stand; widgets change only when the figures did."""
        t = self.store.tally(self.service)
        if t == self._shown:
            return
        self._shown = t
        self.tally.value = tally_html(t)
        self.pareto.value = pareto_html(t.get("pareto", []))
        self.disagree.value = ui.table(
            self.store.disagreements(self.service),
            empty="No disagreements: nobody has decided a contact differently from someone else.",
        )


def build(app) -> w.Widget:
    return Workshop(app.folder, app.service)
