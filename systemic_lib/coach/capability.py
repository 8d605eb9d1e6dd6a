"""Step 4, Capability: the measures chosen in step 2 on capability charts, with the measure stage's narration.

The coach can mark a date as a system change (a new phase): it is saved in council.yaml (``system_changes``, with a
label) by ``council_edit.add_system_change`` and the charts are redrawn with the limits recalculated from it. A
system condition the team marked changed with a date is a phase too (``Stage.phases``); the team can turn that off
for each condition here (its ``phase`` column). The figures are the measure stage's own (``measure.load``), so the
next report shows the same.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w
import pandas as pd

from systemic_lib.analysis import markers, measure
from systemic_lib.coach import pictures, ui
from systemic_lib.data import conditions, council_edit
from systemic_lib.data.contract import CHANGED_STATUS
from systemic_lib.data.stages import Stage
from systemic_lib.display.charts.measure import chart
from systemic_lib.errors import SystemicError


def charts_html(folder, service: str) -> str:
    data = measure.load(Stage(folder, service, "measure"))
    parts = [f"<p class='headline'><b>{ui.esc(measure.headline(data))}</b></p>"]
    for r in data.results:
        parts.append(f"<h3>{ui.esc(r.name)}</h3>")
        if r.result is None:
            parts.append(f"<p class='note'>{ui.esc(r.note or 'No data for this measure.')}</p>")
            continue
        parts.append(
            f"<p class='coach-reading'><b>Reading: {ui.esc(r.reading.words)}.</b> {ui.esc(r.reading.sentence)}</p>"
        )
        marked = markers.sentence(r.markers)  # the learning log and conditions on the chart: never a phase
        parts.append(pictures.img(lambda ax, r=r: chart(r, ax=ax), f"{r.narration} {marked}".strip()))
        parts.append(f"<p>{ui.esc(r.narration)}</p>")
        if marked:
            parts.append(f"<p class='note coach-markers'>{ui.esc(marked)}</p>")
    return "".join(parts)


def build(app) -> w.Widget:
    shown = ui.html(charts_html(app.folder, app.service), "coach-capability")
    when = w.DatePicker(
        description="Date of the change", value=dt.date.today(), style=ui.LABEL, layout=w.Layout(width="420px")
    )
    label = w.Text(
        description="What changed",
        placeholder="e.g. experiment team started",
        style=ui.LABEL,
        layout=w.Layout(width="95%"),
    )
    mark = ui.button("Mark as a system change", primary=True, classes=("coach-mark-change",))
    said = ui.html()

    def on_mark(_):
        if when.value is None or not label.value.strip():
            said.value = ui.message("problem", "Not saved: give the date and say what changed.")
            return
        try:
            council_edit.add_system_change(app.folder, when.value, label.value.strip(), [app.service])
        except SystemicError as exc:
            said.value = ui.message("problem", f"Not saved: {exc}")
            return
        shown.value = charts_html(app.folder, app.service)
        said.value = ui.message(
            "ok",
            f"Saved “{label.value.strip()}” ({when.value:%d %b %Y}) as a system change "
            "in council.yaml; the limits are recalculated from it.",
        )
        label.value = ""

    mark.on_click(on_mark)
    return w.VBox(
        [
            ui.heading(
                "Capability",
                "What does the system predictably achieve against purpose? Grey points are noise; "
                "blue and orange are signals. Only a known change to the system starts a new phase.",
            ),
            w.VBox([when, label, mark, said], layout=w.Layout(border="1px solid #9aa7b3", padding="8px")),
            changed_conditions(app, lambda: setattr(shown, "value", charts_html(app.folder, app.service))),
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
        box = w.Checkbox(
            value=bool(True if pd.isna(row["phase"]) else row["phase"]),
            indent=False,
            description=f"{row['changed_at']:%d %b %Y}: {text}",
            layout=w.Layout(width="95%"),
        )
        box.add_class("coach-condition-phase")

        def on_toggle(change, condition_id=row["id"], text=text):
            try:
                conditions.set_condition(app.folder, condition_id, phase=change["new"])
            except SystemicError as exc:
                said.value = ui.message("problem", f"Not saved: {exc}")
                return
            redraw()
            said.value = ui.message(
                "ok",
                f"“{text}” is {'shown' if change['new'] else 'no longer shown'} as a "
                "phase on the capability charts (saved in system_conditions).",
            )

        box.observe(on_toggle, "value")
        boxes.append(box)
    return w.VBox(
        [ui.html("<h3>System conditions the team changed: show each as a phase?</h3>"), *boxes, said],
        layout=w.Layout(border="1px solid #9aa7b3", padding="8px"),
    )
