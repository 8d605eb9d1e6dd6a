"""Step 6, System conditions and thinking: why the system behaves as it does (the rules, targets, IT systems,
procedures and structures that cause the waste) and the management thinking behind them. A table of what the team
has raised (from any step, with "why does this happen?"), the form to add one, and a form to correct one: its status
(a change with its date and what changed, which names the phase it starts), its words, or its removal. Every write
keeps the previous version of the table. What a team typed is shown redacted (``data.redact``)."""

from __future__ import annotations

import datetime as dt

import ipywidgets as w
import pandas as pd

from systemic_lib.coach import RAISED_IN, ui
from systemic_lib.coach.condition_form import ConditionForm
from systemic_lib.coach.readiness import last_date
from systemic_lib.data import conditions
from systemic_lib.data.redact import redact
from systemic_lib.errors import SystemicError

SHOWN = {
    "id": "id",
    "raised_in": "raised at",
    "waste_seen": "waste we see",
    "system_condition": "system condition",
    "thinking": "thinking behind it",
    "who_can_change": "who can change it",
    "status": "status",
    "changed_at": "changed on",
    "what_changed": "what changed",
}
#: The words a team typed, shown redacted wherever the app shows them.
TYPED = ("waste_seen", "system_condition", "thinking", "who_can_change", "what_changed")


def redacted(frame: pd.DataFrame) -> pd.DataFrame:
    """The conditions with every free text a team typed redacted."""
    out = frame.copy()
    for col in TYPED:
        if col in out:
            out[col] = [v if v is None or (not isinstance(v, str) and pd.isna(v)) else redact(str(v)) for v in out[col]]
    return out


def table_html(council_dir, service: str) -> str:
    frame = redacted(conditions.conditions(council_dir, service))
    shown = frame[[c for c in SHOWN if c in frame]].rename(columns=SHOWN) if len(frame) else frame
    return ui.table(shown, empty="No system conditions raised yet for this service.")


class Correct(w.VBox):
    """Pick a condition, change its status (with the date and what changed), its words, or remove it."""

    def __init__(self, folder, service: str, *, start_date=None, on_saved=None):
        self.folder, self.service, self.on_saved = folder, service, on_saved
        self.start_date = start_date or dt.date.today()
        self.pick = w.Dropdown(description="Condition", style=ui.LABEL, layout=w.Layout(width="95%"))
        self.pick.add_class("coach-correct-pick")
        self.status = w.Dropdown(description="Status", options=conditions.STATUSES, style=ui.LABEL)
        self.changed_at = w.DatePicker(description="Changed on", style=ui.LABEL)
        self.what_changed = w.Text(description="What changed", style=ui.LABEL, layout=ui.WIDE)
        self.raised_in = w.Dropdown(description="Raised at step", options=RAISED_IN, style=ui.LABEL)
        self.texts = {
            "waste_seen": w.Textarea(description="Waste we see", style=ui.LABEL, layout=ui.WIDE),
            "system_condition": w.Textarea(description="System condition", style=ui.LABEL, layout=ui.WIDE),
            "thinking": w.Textarea(description="Thinking behind it", style=ui.LABEL, layout=ui.WIDE),
            "who_can_change": w.Text(description="Who can change it", style=ui.LABEL, layout=ui.WIDE),
        }
        self.save = ui.button("Save the correction", primary=True, classes=("coach-correct-save",))
        self.remove = ui.button("Remove this condition", classes=("coach-correct-remove",))
        self.message = ui.html()
        self.save.on_click(lambda _: self.saved())
        self.remove.on_click(lambda _: self.removed())
        self.pick.observe(lambda _: self.fill(), "value")
        self.status.observe(lambda c: self._show_change(c["new"] == "changed"), "value")
        self.fields = w.VBox(
            [
                self.status,
                self.changed_at,
                self.what_changed,
                self.raised_in,
                *self.texts.values(),
                w.HBox([self.save, self.remove]),
            ]
        )
        super().__init__([self.pick, self.fields, self.message])
        self.add_class("coach-correct")
        ui.settle(self)
        self.load()

    def load(self, keep: str | None = None) -> None:
        try:
            self.frame = conditions.conditions(self.folder, self.service)
        except SystemicError as exc:
            self.message.value = ui.message("problem", f"System conditions cannot be read: {exc}")
            self.frame = pd.DataFrame()
        words = conditions.words_of(self.frame) if len(self.frame) else []
        options = [(f"{i}: {redact(t)[:80]}", i) for i, t in zip(self.frame.get("id", []), words)]
        self.fields.layout.display = None if options else "none"
        self.pick.options = options
        if options:
            ids = [v for _, v in options]
            self.pick.value = keep if keep in ids else ids[0]
        self.fill()

    def row(self) -> pd.Series | None:
        if not len(self.frame) or self.pick.value is None:
            return None
        found = self.frame[self.frame["id"] == self.pick.value]
        return found.iloc[0] if len(found) else None

    def fill(self) -> None:
        row = self.row()
        if row is None:
            return
        status = row["status"] if isinstance(row["status"], str) else "open"
        self.status.value = status if status in conditions.STATUSES else "open"
        self.changed_at.value = row["changed_at"].date() if pd.notna(row["changed_at"]) else self.start_date
        self.what_changed.value = _text(row.get("what_changed"))
        self.raised_in.value = row["raised_in"] if row["raised_in"] in RAISED_IN else RAISED_IN[0]
        for col, box in self.texts.items():
            box.value = redact(_text(row[col]))
        self._show_change(self.status.value == "changed")

    def _show_change(self, on: bool) -> None:
        for box in (self.changed_at, self.what_changed):
            box.layout.display = None if on else "none"

    def saved(self) -> None:
        row = self.row()
        if row is None:
            return
        changed = self.status.value == "changed"
        edits = {
            col: box.value.strip() for col, box in self.texts.items() if box.value.strip() != redact(_text(row[col]))
        }  # a text the app showed redacted and nobody touched keeps its own words
        try:
            conditions.set_condition(
                self.folder,
                row["id"],
                status=self.status.value,
                changed_at=self.changed_at.value if changed else "",
                what_changed=self.what_changed.value.strip() if changed else "",
                raised_in=self.raised_in.value,
                **edits,
            )
        except SystemicError as exc:
            self.message.value = ui.message("problem", f"Not saved: {exc}")
            return
        self.message.value = ui.message(
            "ok", f"Saved {row['id']} ({self.status.value}); the previous version of the table is kept."
        )
        self.load(keep=row["id"])
        if self.on_saved:
            self.on_saved()

    def removed(self) -> None:
        row = self.row()
        if row is None:
            return
        try:
            conditions.remove_condition(self.folder, row["id"])
        except SystemicError as exc:
            self.message.value = ui.message("problem", str(exc))
            return
        self.message.value = ui.message(
            "ok", f"Removed {row['id']}; the previous version of the table is kept (system_conditions.csv.prev)."
        )
        self.load()
        if self.on_saved:
            self.on_saved()


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def build(app) -> w.Widget:
    listing = ui.html(table_html(app.folder, app.service), "coach-conditions")
    start = last_date(app.readiness.council, app.service)
    correct = Correct(app.folder, app.service, start_date=start)

    def refresh(_=None):
        listing.value = table_html(app.folder, app.service)

    correct.on_saved = refresh

    def added(_id):
        refresh()
        correct.load(keep=correct.pick.value)

    form = ConditionForm(app.folder, app.service, raised_in="demand", on_added=added, start_date=start)
    return w.VBox(
        [
            ui.heading(
                "System conditions and thinking",
                "Why does the system behave as it does? Name the rule, target, IT system, procedure or structure "
                "behind the waste, the management assumption behind that, and who can change it. Managers act "
                "on these: the system causes most of the waste, not the people.",
            ),
            listing,
            ui.html("<h3>Add one</h3>"),
            form,
            ui.html("<h3>Correct one: its status, what changed, its words, or remove it</h3>"),
            correct,
        ]
    )
