"""Step 7, Experiment and learning: what the experiment shows so far (the experiment stage's headline) and the
learning-log form (``widgets/experiment.learning_log_form``), with the entries the team has made (what the team typed
shown redacted; the form's date starts at the last date in the service's data)."""

from __future__ import annotations

import ipywidgets as w

from systemic_lib.analysis import experiment
from systemic_lib.coach import stagedata, ui
from systemic_lib.coach.readiness import last_date
from systemic_lib.data.council import load_council
from systemic_lib.data.learning_log import with_condition_text
from systemic_lib.data.redact import redact
from systemic_lib.display.widgets.experiment import learning_log_form


def entries_html(council_dir, service: str) -> str:
    council = load_council(council_dir)
    if not council.has_table("learning_log") or council.load("learning_log").errors:
        return "<p class='note'>No learning-log entries yet.</p>"
    log = council.load("learning_log").frame
    log = log[log["service"] == service]
    if council.has_table("system_conditions") and not council.load("system_conditions").errors:
        log = with_condition_text(log, council.load("system_conditions").frame)  # the condition's words, by its id
    cols = [c for c in ("date", "what_we_tried", "what_we_learned", "system_condition", "status") if c in log]
    shown = log[cols].copy()
    for col in TYPED:
        if col in shown:
            shown[col] = [v if not isinstance(v, str) else redact(v) for v in shown[col]]
    return ui.table(shown.rename(columns=lambda c: c.replace("_", " ")), empty="No learning-log entries yet.")


#: What the team typed into the learning log, shown redacted.
TYPED = ("what_we_tried", "what_we_learned", "system_condition")


def _redacted_choices(form) -> None:
    """The form's condition picker with each condition's words redacted (the form sets its options again after
    each entry, from ``choices``)."""
    own = form.choices

    def choices():
        return [(redact(label), value) for label, value in own()]

    form.choices = choices
    value = form.condition.value
    form.condition.options = choices()
    if value in [v for _, v in form.condition.options]:
        form.condition.value = value


def build(app) -> w.Widget:
    data = stagedata.of(app.folder).data("experiment", app.service)
    entries = ui.html(entries_html(app.folder, app.service), "coach-learning-log")
    form = learning_log_form(app.folder, app.service)
    _redacted_choices(form)
    start = last_date(app.readiness.council, app.service)
    if start is not None:
        form.changed_at.value = start  # a change the team records is in the data's past, not today
    form.button.on_click(lambda _: setattr(entries, "value", entries_html(app.folder, app.service)))
    return w.VBox(
        [
            ui.heading(
                "Experiment and learning",
                "The team builds a new service by experiment: it takes whatever demand comes, designs a workflow "
                "for each demand as it arrives and keeps a learning log: what we tried, what we learned, and which "
                "system conditions we designed out or still have to change."
                if data.new_service is not None
                else "A small team handles real cases in a new way and keeps a learning "
                "log: what we tried, what we learned, which system condition caused "
                "waste, and who can change it.",
            ),
            ui.html(f"<p class='headline'><b>{ui.esc(experiment.headline(data))}</b></p>"),
            form.box,
            ui.html("<h3>The learning log</h3>"),
            entries,
        ]
    )
