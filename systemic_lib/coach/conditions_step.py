"""Step 6, System conditions and thinking: why the system behaves as it does (the rules, targets, IT systems,
procedures and structures that cause the waste) and the management thinking behind them. A table of what the team
has raised (from any step, with "why does this happen?") and the form to add one."""

from __future__ import annotations

import ipywidgets as w

from systemic_lib.coach import ui
from systemic_lib.coach.condition_form import ConditionForm
from systemic_lib.data import conditions

SHOWN = {
    "id": "id",
    "raised_in": "raised at",
    "waste_seen": "waste we see",
    "system_condition": "system condition",
    "thinking": "thinking behind it",
    "who_can_change": "who can change it",
    "status": "status",
    "changed_at": "changed on",
}


def table_html(council_dir, service: str) -> str:
    frame = conditions.conditions(council_dir, service)
    shown = frame[[c for c in SHOWN if c in frame]].rename(columns=SHOWN) if len(frame) else frame
    return ui.table(shown, empty="No system conditions raised yet for this service.")


def build(app) -> w.Widget:
    listing = ui.html(table_html(app.folder, app.service), "coach-conditions")
    form = ConditionForm(
        app.folder,
        app.service,
        raised_in="demand",
        on_added=lambda _: setattr(listing, "value", table_html(app.folder, app.service)),
    )
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
        ]
    )
