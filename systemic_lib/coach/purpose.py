"""Step 2, Purpose: the service's purpose in the citizen's terms, and the measures that follow from it.

Measures are the ones the library can compute (``council.MEASURES``), each with its direction. A target is optional
and off by default: measures are derived from purpose, not arbitrary targets (METHOD.md). Saved into council.yaml
by ``council_edit.set_purpose``, which keeps the file's comments and other keys.
"""

from __future__ import annotations

import ipywidgets as w

from systemic_lib.coach import ui
from systemic_lib.data import council_edit
from systemic_lib.data.council import MEASURES, load_council
from systemic_lib.errors import SystemicError

DIRECTIONS = (("higher is better", "increase"), ("lower is better", "decrease"), ("neither (neutral)", "neutral"))
WHY_NO_TARGET = (
    "A target is optional and off unless the team chooses one. In this method measures come from "
    "purpose, in the citizen's terms; an arbitrary target invites people to manage the number instead "
    "of the system. A capability chart already shows what the system predictably achieves."
)


class MeasureRow(w.HBox):
    def __init__(self, measure_id: str, spec=None):
        name, unit, usual = MEASURES[measure_id]
        self.measure_id = measure_id
        self.use = w.Checkbox(
            value=spec is not None, description=f"{name} ({unit})", indent=False, layout=w.Layout(width="380px")
        )
        self.use.add_class(f"coach-measure-{measure_id}")
        self.direction = w.Dropdown(
            options=DIRECTIONS,
            value=(spec.direction if spec and spec.direction else usual),
            description=f"Which way is better for {name}",
            style={"description_width": "0px"},
            layout=w.Layout(width="200px"),
        )
        self.direction.add_class("coach-sr-label")  # named for a screen reader; the row shows the measure's name
        self.has_target = w.Checkbox(
            value=bool(spec and spec.target is not None),
            description="set a target",
            indent=False,
            layout=w.Layout(width="130px"),
        )
        self.target = w.FloatText(
            value=spec.target if spec and spec.target is not None else 0.0,
            description=f"Target for {name}",
            style={"description_width": "0px"},
            layout=w.Layout(width="110px"),
            disabled=not self.has_target.value,
        )
        self.target.add_class("coach-sr-label")
        self.has_target.observe(lambda ch: setattr(self.target, "disabled", not ch["new"]), names="value")
        super().__init__([self.use, self.direction, self.has_target, self.target])

    def spec(self) -> dict | None:
        if not self.use.value:
            return None
        out = {"id": self.measure_id, "direction": self.direction.value}
        if self.has_target.value:
            out["target"] = float(self.target.value)
        return out


def build(app) -> w.Widget:
    service = load_council(app.folder).service(app.service)
    chosen = {m.id: m for m in service.measures}
    text = w.Textarea(
        value=service.purpose,
        description="Purpose",
        placeholder="in the citizen's words",
        layout=w.Layout(width="95%", height="90px"),
        style=ui.LABEL,
    )
    text.add_class("coach-purpose-text")
    rows = [MeasureRow(mid, chosen.get(mid)) for mid in MEASURES]
    save = ui.button("Save purpose and measures", primary=True, classes=("coach-save-purpose",))
    said = ui.html()

    def on_save(_):
        purpose = text.value.strip()
        if not purpose:
            said.value = ui.message("problem", "Not saved: write the purpose first, in the citizen's words.")
            return
        measures = [s for s in (r.spec() for r in rows) if s]
        try:
            council_edit.set_purpose(app.folder, app.service, purpose, measures)
        except SystemicError as exc:
            said.value = ui.message("problem", f"Not saved: {exc}")
            return
        names = ", ".join(MEASURES[m["id"]][0] for m in measures) or "none"
        said.value = ui.message("ok", f"Saved to council.yaml. Measures: {names}. The previous version is kept.")

    save.on_click(on_save)
    return w.VBox(
        [
            ui.heading(
                "Purpose",
                "What is this service for, in the citizen's terms? Then: which measures tell us how "
                "well the system achieves that purpose?",
            ),
            text,
            ui.html(
                "<h3>Measures that follow from purpose</h3><p class='note'>Tick the measures to chart in step 4 and "
                "say which way is better.</p>"
            ),
            *rows,
            ui.html(f"<p class='note coach-why-no-target'>{ui.esc(WHY_NO_TARGET)}</p>"),
            save,
            said,
        ]
    )
