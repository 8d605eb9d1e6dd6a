"""Step 5, Flow: the process map with its coverage slider, one case's journey and the clean flow (the flow stage's
own explorers, ``widgets/flow.py``), and the team marking each step as value or waste (saved to activities.csv)."""

from __future__ import annotations

import base64

import ipywidgets as w

from systemic_lib import words
from systemic_lib.analysis import flow, processmap
from systemic_lib.coach import stagedata, ui
from systemic_lib.coach.activities import mark_steps
from systemic_lib.display.widgets.flow import case_journey, flow_explorer
from systemic_lib.errors import SystemicError

NOT_MARKED = "not marked"


def _marks(data, service: str) -> dict[str, str]:
    """Each activity in the service's events with its step type in the catalogue (or not marked)."""
    steps = sorted(set(data.events["activity"].dropna().astype(str))) if len(data.events) else []
    known = {}
    if data.catalogue is not None and len(data.catalogue):
        cat = data.catalogue
        cat = cat[cat["service"] == service] if "service" in cat else cat
        known = dict(zip(cat["activity"].astype(str), cat["step_type"].astype(str)))
    return {s: known.get(s, NOT_MARKED) for s in steps}


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="coach-chart" alt="{ui.esc(alt)}" style="max-width:100%;max-height:900px;object-fit:contain" '
        f'src="data:image/png;base64,{data}">'
    )


def described_map(data) -> w.Widget:
    """The flow stage's map explorer, its picture shown with a text alternative (the map's caption in words):
    ipywidgets' Image has none."""
    explorer = flow_explorer(data)
    shown = ui.html("", "coach-map")
    explorer.image.layout.display = "none"

    def redraw(*_):
        if explorer.image.value:
            caption = processmap.map_caption(
                explorer.flow_log, coverage=explorer.coverage.value, max_activities=explorer.max_activities.value
            )
            shown.value = _img(explorer.image.value, "Process map. " + caption)

    explorer.image.observe(redraw, "value")
    redraw()
    explorer.children = (*explorer.children, shown)
    return explorer


def described_journey(data) -> w.Widget:
    """The flow stage's case journey, its timeline shown with a text alternative (the case, its steps and days;
    the table under it lists each step)."""
    journey = case_journey(data, cases=200)
    shown = ui.html("", "coach-journey")
    journey.out.layout.display = "none"

    def redraw(*_):
        png = next((o.get("data", {}).get("image/png") for o in journey.out.outputs if "data" in o), None)
        j = getattr(journey, "current", None)
        if png is None or j is None:
            return
        days = j["wait before (days)"].sum()
        alt = (
            f"Timeline of case {journey.picker.value}: {words.count(len(j), 'step')} over "
            f"{words.figure(days)} days, each marked value or waste; the table below lists them."
        )
        shown.value = _img(base64.b64decode(png), alt)

    journey.out.observe(redraw, "outputs")
    redraw()
    journey.children = (*journey.children, shown)
    return journey


def build(app) -> w.Widget:
    data = stagedata.of(app.folder).data("flow", app.service)
    head = ui.heading(
        "Flow",
        "Where does the work go? How many people touch one case? What would the clean flow "
        "be? Move the coverage slider to show more or fewer paths.",
    )
    if not data.log.n_events:
        return w.VBox(
            [head, ui.html("<p class='note'>No events recorded for this service, so there is no flow to map yet.</p>")]
        )
    marks = _marks(data, app.service)
    pickers = {}
    for activity, step_type in marks.items():
        d = w.Dropdown(
            description=activity,
            options=[NOT_MARKED, "value", "waste"],
            value=step_type if step_type in ("value", "waste") else NOT_MARKED,
            style={"description_width": "340px"},
            layout=w.Layout(width="560px"),
        )
        d.add_class("coach-step-type")
        pickers[activity] = d
    save = ui.button("Save value and waste steps", primary=True, classes=("coach-save-steps",))
    said = ui.html()

    def on_save(_):
        chosen = {a: d.value for a, d in pickers.items() if d.value != NOT_MARKED}
        try:
            path = mark_steps(app.folder, app.service, chosen)
        except SystemicError as exc:
            said.value = ui.message("problem", f"Not saved: {exc}")
            return
        said.value = ui.message("ok", f"Saved {len(chosen)} steps to {path.name} (the previous version is kept).")

    save.on_click(on_save)
    return w.VBox(
        [
            head,
            ui.html(f"<p class='headline'><b>{ui.esc(flow.headline(data))}</b></p>"),
            described_map(data),
            ui.html("<h3>One case's journey</h3>"),
            described_journey(data),
            ui.html("<h3>The clean flow</h3>" + ui.table(flow.clean_flow_table(data))),
            ui.html(
                "<h3>Value or waste? Mark each step</h3><p class='note'>A value step is one the citizen would "
                "recognise as helping; waste is hand-offs, checks, rework, waiting, chasing.</p>"
            ),
            *pickers.values(),
            save,
            said,
        ]
    )
