"""Step 4, Capability: the measures chosen in step 2 on capability charts, with the measure stage's narration.

The coach can mark a date as a system change (a new phase): it is saved in council.yaml (``system_changes``, with a
label) by ``council_edit.add_system_change`` and the charts are redrawn with the limits recalculated from it. The
figures are the measure stage's own (``measure.load``), so the next report shows the same.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w

from .. import council_edit, measure
from ..charts.measure import chart
from ..errors import SystemicError
from ..stages import Stage
from . import pictures, ui


def charts_html(folder, service: str) -> str:
    data = measure.load(Stage(folder, service, "measure"))
    parts = [f"<p class='headline'><b>{ui.esc(measure.headline(data))}</b></p>"]
    for r in data.results:
        parts.append(f"<h3>{ui.esc(r.name)}</h3>")
        if r.result is None:
            parts.append(f"<p class='note'>{ui.esc(r.note or 'No data for this measure.')}</p>")
            continue
        parts.append(pictures.img(lambda ax, r=r: chart(r, ax=ax), r.narration))
        parts.append(f"<p>{ui.esc(r.narration)}</p>")
    return "".join(parts)


def build(app) -> w.Widget:
    shown = ui.html(charts_html(app.folder, app.service), "coach-capability")
    when = w.DatePicker(description="Date of the change", value=dt.date.today(), style=ui.LABEL,
                        layout=w.Layout(width="420px"))
    label = w.Text(description="What changed", placeholder="e.g. experiment team started", style=ui.LABEL,
                   layout=w.Layout(width="95%"))
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
        said.value = ui.message("ok", f"Saved “{label.value.strip()}” ({when.value:%d %b %Y}) as a system change "
                                      "in council.yaml; the limits are recalculated from it.")
        label.value = ""

    mark.on_click(on_mark)
    return w.VBox([
        ui.heading("Capability", "What does the system predictably achieve against purpose? Grey points are noise; "
                                 "blue and orange are signals. Only a known change to the system starts a new phase."),
        w.VBox([when, label, mark, said], layout=w.Layout(border="1px solid #9aa7b3", padding="8px")),
        shown])
