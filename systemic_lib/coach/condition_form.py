"""The system-condition form: "why does this happen?" from any step, and step 6's own form.

A team raises system conditions at every step of Check, not only in the experiment (METHOD.md). The form writes a
row of ``system_conditions.csv`` through ``conditions.add_condition`` (atomic, locked, previous version kept) with
the step it was raised in filled in.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w

from systemic_lib.coach import RAISED_IN, ui
from systemic_lib.data import conditions
from systemic_lib.data.contract import CHANGED_STATUS, LEARNING_STATUS
from systemic_lib.errors import SystemicError


class ConditionForm(w.VBox):
    """Waste seen, system condition, the thinking behind it, who can change it, status; Add saves a row."""

    def __init__(self, council_dir, service: str, *, raised_in: str = "demand", on_added=None, start_date=None):
        self.council_dir, self.service, self.on_added = council_dir, service, on_added
        self.raised_in = w.Dropdown(
            description="Raised at step",
            options=RAISED_IN,
            value=raised_in if raised_in in RAISED_IN else RAISED_IN[0],
            style=ui.LABEL,
        )
        self.waste_seen = w.Textarea(
            description="Waste we see",
            placeholder="the failure demand or waste step it causes",
            layout=ui.WIDE,
            style=ui.LABEL,
        )
        self.system_condition = w.Textarea(
            description="System condition",
            placeholder="the rule, target, IT system, procedure or structure behind it",
            layout=ui.WIDE,
            style=ui.LABEL,
        )
        self.thinking = w.Textarea(
            description="Thinking behind it",
            placeholder="the management assumption, e.g. “people must be assessed before help”",
            layout=ui.WIDE,
            style=ui.LABEL,
        )
        self.who_can_change = w.Text(description="Who can change it", layout=ui.WIDE, style=ui.LABEL)
        self.status = w.Dropdown(description="Status", options=LEARNING_STATUS, value="open", style=ui.LABEL)
        self.changed_at = w.DatePicker(
            description="Changed on",
            value=start_date or dt.date.today(),
            style=ui.LABEL,
            layout=w.Layout(display="none"),
        )  # shown for a change: its phase starts there (by default on the last date in the data, not today)
        self.what_changed = w.Text(
            description="What changed",
            placeholder="e.g. pre-inspection over 250 pounds removed: it names the new phase",
            layout=w.Layout(display="none", width="95%"),
            style=ui.LABEL,
        )
        self.status.observe(lambda c: self._show_change(c["new"] in CHANGED_STATUS), "value")
        self.add = ui.button("Add this system condition", primary=True, classes=("coach-add-condition",))
        self.message = ui.html()
        self.add.on_click(lambda _: self.submit())
        super().__init__(
            [
                self.raised_in,
                self.waste_seen,
                self.system_condition,
                self.thinking,
                self.who_can_change,
                self.status,
                self.changed_at,
                self.what_changed,
                self.add,
                self.message,
            ]
        )
        self.add_class("coach-condition-form")

    def _show_change(self, on: bool) -> None:
        for box in (self.changed_at, self.what_changed):
            box.layout.display = None if on else "none"

    def submit(self) -> str | None:
        """Save the row; returns its id, or None (and says what to fix) when it cannot be saved."""
        if not self.waste_seen.value.strip() and not self.system_condition.value.strip():
            self.message.value = ui.message("problem", "Not added: write the waste you see or the system condition.")
            return None
        try:
            new_id = conditions.add_condition(
                self.council_dir,
                service=self.service,
                raised_in=self.raised_in.value,
                waste_seen=self.waste_seen.value.strip(),
                system_condition=self.system_condition.value.strip(),
                thinking=self.thinking.value.strip(),
                who_can_change=self.who_can_change.value.strip(),
                status=self.status.value,
                changed_at=self.changed_at.value if self.status.value in CHANGED_STATUS else None,
                what_changed=self.what_changed.value.strip() if self.status.value in CHANGED_STATUS else "",
            )
        except SystemicError as exc:
            self.message.value = ui.message("problem", f"Not added: {exc}")
            return None
        self.message.value = ui.message("ok", f"Added system condition {new_id} (raised at {self.raised_in.value}).")
        for box in (self.waste_seen, self.system_condition, self.thinking, self.who_can_change, self.what_changed):
            box.value = ""
        if self.on_added:
            self.on_added(new_id)
        return new_id
