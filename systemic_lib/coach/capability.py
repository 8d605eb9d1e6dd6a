"""Step 4, Capability: the measures chosen in step 2 on capability charts, with the measure stage's narration.

The coach can mark a date as a system change (a new phase): it is saved in council.yaml (``system_changes``, with a
label) by ``council_edit.add_system_change`` and the charts are redrawn with the limits recalculated from it. A change
marked by mistake or mistyped can be corrected or removed (``council_edit.edit_system_change`` and
``remove_system_change``; the previous council.yaml is kept, as with every write). The date starts at the last date
in the service's data, not today. A system condition the team marked changed with a date is a phase too
(``Stage.phases``), named by what changed; the team can turn that off for each condition here (its ``phase``
column). The figures are the measure stage's own (``measure.load``), so the next report shows the same. Where a
signal starts near a recorded change that is not a phase yet, the step suggests a new phase with its evidence, for
a person to accept or decline (``suggestions``); a signal with no recorded change near says "find out what
happened".
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w
import pandas as pd

from systemic_lib.analysis import markers, measure
from systemic_lib.coach import pictures, stagedata, ui
from systemic_lib.coach.readiness import last_date
from systemic_lib.coach.suggestions import Suggestions
from systemic_lib.data import conditions, council_edit
from systemic_lib.data.contract import CHANGED_STATUS
from systemic_lib.data.council import load_council
from systemic_lib.data.redact import redact
from systemic_lib.display.charts.measure import chart
from systemic_lib.errors import SystemicError


def measure_image(kept, service: str, r) -> str:
    """One measure's capability chart, with its narration as the text alternative (kept: the managers' summary
    shows the same)."""
    alt = f"{r.narration} {markers.sentence(r.markers)}".strip()  # the learning log and conditions on the chart
    return kept.image(("measure", service, r.name, alt), lambda: pictures.img(lambda ax: chart(r, ax=ax), alt))


def charts_html(folder, service: str) -> str:
    kept = stagedata.of(folder)
    data = kept.data("measure", service)
    parts = [f"<p class='headline'><b>{ui.esc(measure.headline(data))}</b></p>"]
    for r in data.results:
        parts.append(f"<h3>{ui.esc(redact(r.name))}</h3>")
        if r.result is None:
            parts.append(f"<p class='note'>{ui.esc(r.note or 'No data for this measure.')}</p>")
            continue
        parts.append(
            f"<p class='coach-reading'><b>Reading: {ui.esc(r.reading.words)}.</b> {ui.esc(r.reading.sentence)}</p>"
        )
        parts.append(measure_image(kept, service, r))
        parts.append(f"<p>{ui.esc(r.narration)}</p>")
        marked = markers.sentence(r.markers)
        if marked:
            parts.append(f"<p class='note coach-markers'>{ui.esc(marked)}</p>")
        for s in r.suggestions:  # a new phase to accept or decline above, or "find out what happened"
            kind = "coach-suggested" if s.change else "coach-find-out"
            parts.append(f"<p class='note {kind}'>{ui.esc(redact(s.sentence))}</p>")
    return "".join(parts)


class Changes(w.VBox):
    """Mark a date as a system change, and correct or remove the service's changes already marked."""

    def __init__(self, app, redraw):
        self.app, self.redraw = app, redraw
        self.start = last_date(app.readiness.council, app.service) or dt.date.today()
        self.when = w.DatePicker(
            description="Date of the change", value=self.start, style=ui.LABEL, layout=w.Layout(width="420px")
        )
        self.label = w.Text(
            description="What changed",
            placeholder="e.g. experiment team started",
            style=ui.LABEL,
            layout=w.Layout(width="95%"),
            continuous_update=False,
        )
        self.mark = ui.button("Mark as a system change", primary=True, classes=("coach-mark-change",))
        self.mark.on_click(lambda _: self.add())
        self.said = ui.html()
        self.listing = w.VBox()
        self.listing.add_class("coach-changes")
        super().__init__(
            [
                ui.html(
                    "<h3>Known changes to the system</h3><p class='note'>A new phase starts only at a known change "
                    f"to the system. The service's data end on {ui.esc(self.start.strftime('%d %b %Y'))}.</p>"
                ),
                self.when,
                self.label,
                self.mark,
                self.said,
                self.listing,
            ],
            layout=w.Layout(border="1px solid #9aa7b3", padding="8px"),
        )
        self.show_changes()

    def add(self) -> None:
        label = self.label.value.strip()
        if self.when.value is None or not label:
            self.said.value = ui.message("problem", "Not saved: give the date and say what changed.")
            return
        try:
            council_edit.add_system_change(self.app.folder, self.when.value, label, [self.app.service])
        except SystemicError as exc:
            self.said.value = ui.message("problem", f"Not saved: {exc}")
            return
        self.said.value = ui.message(
            "ok",
            f"Saved “{redact(label)}” ({self.when.value:%d %b %Y}) as a system change in council.yaml; the limits "
            "are recalculated from it.",
        )
        self.label.value = ""
        self.changed()

    def changed(self) -> None:
        self.redraw()

    def show(self) -> None:
        self.show_changes()

    def show_changes(self) -> None:
        try:
            changes = load_council(self.app.folder).system_changes(self.app.service)
        except SystemicError as exc:
            self.listing.children = [ui.html(ui.message("problem", f"council.yaml cannot be read: {exc}"))]
            return
        rows = [ChangeRow(self, c) for c in changes]
        self.listing.children = [
            ui.html(
                "<p class='note'>No system change marked for this service yet.</p>"
                if not rows
                else "<h4>Marked so far (correct or remove a change marked by mistake)</h4>"
            ),
            *rows,
        ]


class ChangeRow(w.HBox):
    """One marked change: its date and label, editable, with Save and Remove."""

    def __init__(self, changes: Changes, change):
        self.changes, self.change = changes, change
        label = redact(change.label)
        self.when = w.DatePicker(value=change.date, description="Date", layout=w.Layout(width="260px"))
        self.text = w.Text(value=label, description="Label", layout=w.Layout(width="520px"), continuous_update=False)
        self.save = ui.button("Save", classes=("coach-change-save",), tooltip=f"Save the change “{label}”")
        self.remove = ui.button("Remove", classes=("coach-change-remove",), tooltip=f"Remove the change “{label}”")
        self.save.on_click(lambda _: self.saved())
        self.remove.on_click(lambda _: self.removed())
        shared = (
            ""
            if change.services == [changes.app.service]
            else " (every service)"
            if change.services is None
            else " (also " + ", ".join(s for s in change.services if s != changes.app.service) + ")"
        )
        parts = [self.when, self.text, self.save, self.remove]
        if shared:
            parts.append(ui.html(f"<span class='note'>{ui.esc(shared)}</span>"))
        super().__init__(parts, layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.add_class("coach-change")

    def saved(self) -> None:
        c = self.change
        try:
            council_edit.edit_system_change(
                self.changes.app.folder, c.date, c.label, new_date=self.when.value, new_label=self.text.value
            )
        except SystemicError as exc:
            self.changes.said.value = ui.message("problem", f"Not saved: {exc}")
            return
        self.changes.said.value = ui.message(
            "ok",
            f"Saved the change as “{redact(self.text.value.strip())}” ({self.when.value:%d %b %Y}); the "
            "previous council.yaml is kept.",
        )
        self.changes.changed()

    def removed(self) -> None:
        c = self.change
        try:
            council_edit.remove_system_change(self.changes.app.folder, c.date, c.label)
        except SystemicError as exc:
            self.changes.said.value = ui.message("problem", f"Not removed: {exc}")
            return
        self.changes.said.value = ui.message(
            "ok", f"Removed the change “{redact(c.label)}” ({c.date:%d %b %Y}); the previous council.yaml is kept."
        )
        self.changes.changed()


def build(app) -> w.Widget:
    shown = ui.html(charts_html(app.folder, app.service), "coach-capability")
    boxes: list = []

    def redraw():
        shown.value = charts_html(app.folder, app.service)
        for box in boxes:  # the changes marked and the suggestions, as council.yaml now has them
            box.show()

    boxes += [Changes(app, redraw), Suggestions(app, redraw)]
    return w.VBox(
        [
            ui.heading(
                "Capability",
                "What does the system predictably achieve against purpose? Grey points are noise; "
                "blue and orange are signals. Only a known change to the system starts a new phase.",
            ),
            *boxes,
            changed_conditions(app, redraw),
            shown,
        ]
    )


def changed_conditions(app, redraw) -> w.Widget:
    """The service's system conditions marked changed with a date, each with "show as a phase" (saved in
    system_conditions' ``phase`` column; the charts are redrawn)."""
    try:
        frame = conditions.conditions(app.folder, app.service)
    except SystemicError as exc:
        return ui.html(ui.message("problem", f"System conditions cannot be read: {exc}"))
    changed = frame[frame["status"].isin(CHANGED_STATUS).fillna(False) & frame["changed_at"].notna()]
    if changed.empty:
        return ui.html(
            "<p class='note'>No system condition is marked changed with a date yet. When one is (step 6 "
            "or the learning log), its change shows here and on the charts as a new phase.</p>"
        )
    said = ui.html()
    boxes = []
    for (_, row), text in zip(changed.iterrows(), conditions.words_of(changed)):
        label = redact(conditions.phase_label(row, text))
        box = w.Checkbox(
            value=bool(True if pd.isna(row["phase"]) else row["phase"]),
            indent=False,
            description=f"Since {row['changed_at']:%d %b %Y}: {label}",
            layout=w.Layout(width="95%"),
        )
        box.add_class("coach-condition-phase")

        def on_toggle(change, condition_id=row["id"], label=label):
            try:
                conditions.set_condition(app.folder, condition_id, phase=change["new"])
            except SystemicError as exc:
                said.value = ui.message("problem", f"Not saved: {exc}")
                return
            redraw()
            said.value = ui.message(
                "ok",
                f"“{label}” is {'shown' if change['new'] else 'no longer shown'} as a "
                "phase on the capability charts (saved in system_conditions).",
            )

        box.observe(on_toggle, "value")
        boxes.append(box)
    return w.VBox(
        [ui.html("<h3>System conditions the team changed: show each as a phase?</h3>"), *boxes, said],
        layout=w.Layout(border="1px solid #9aa7b3", padding="8px"),
    )
