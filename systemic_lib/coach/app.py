"""The app shell: the step bar, Back and Next, "why does this happen?", and resuming where the team stopped.

``show(council_dir, service)`` is what ``notebooks/coach.ipynb`` calls. Each step is a function ``build(app) ->
widget`` in its own module; the shell saves the current step and service in ``<council>/.systemic/coach.json``
whenever they change, so a reload, a second browser or a restarted server opens on the same step.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from urllib.parse import parse_qs

import ipywidgets as w
from IPython.display import display

from systemic_lib.coach import RAISED_IN, STEP_IDS, STEPS, state, ui
from systemic_lib.coach.readiness import check, problem_rows
from systemic_lib.data import conditions
from systemic_lib.errors import ContractError

#: The module that builds each step (``build(app) -> widget``), imported when the step is first opened: the app
#: is usable before the libraries of later steps (matplotlib, the stage modules) have loaded.
BUILDERS = {
    "choose": "choose",
    "purpose": "purpose",
    "demand": "workshop",
    "capability": "capability",
    "flow": "flowmap",
    "conditions": "conditions_step",
    "experiment": "learning",
    "managers": "managers",
}


def builder(step: str):
    return importlib.import_module(f"{__package__}.{BUILDERS[step]}").build


class App:
    """One browser's view of a council. ``go(step)`` shows a step; the steps call ``app.set_service`` and
    ``app.go`` and read ``app.folder``, ``app.service``, ``app.readiness`` and ``app.join`` (the room's join URL)."""

    def __init__(self, council_dir, service: str | None = None, *, join: str | None = None, joiner: bool = False):
        self.folder = Path(council_dir)
        self.join = join
        self.joiner = joiner  # opened from the room's join address: lands on the workshop, moves nobody else's step
        self.box = w.VBox(layout=w.Layout(width="100%"))
        self.box.add_class("coach-app")
        self.readiness = check(self.folder, tables=not joiner)
        if self.readiness.errors:
            self._show_errors()
            return
        try:  # a council that kept its conditions in the learning log: they become system_conditions rows, once
            conditions.migrate_learning_log(self.folder)
        except ContractError:  # a learning log with errors stays as it is; the stages still read it
            pass
        saved = state.read(self.folder)
        services = self.readiness.services
        first = (saved.get("service"), service) if joiner else (service, saved.get("service"))  # the coach's own
        self.service = next(s for s in (*first, *services) if s in services)
        self.title = ui.html("", "coach-noprint")
        self.steps = [ui.button(label, classes=("coach-step", f"coach-step-{sid}")) for sid, label in STEPS]
        for b, sid in zip(self.steps, STEP_IDS):
            b.on_click(lambda _, sid=sid: self.go(sid))
        bar = w.HBox(self.steps, layout=w.Layout(flex_flow="row wrap"))
        bar.add_class("coach-steps")
        bar.add_class("coach-noprint")
        self.back = ui.button("◀ Back", classes=("coach-back",), tooltip="Back (Page Up)")
        self.next = ui.button("Next ▶", primary=True, classes=("coach-next",), tooltip="Next (Page Down)")
        self.back.on_click(lambda _: self.move(-1))
        self.next.on_click(lambda _: self.move(+1))
        self.why = ui.button(
            "Why does this happen?", classes=("coach-why",), tooltip="Raise a system condition from this step"
        )
        self.why.on_click(lambda _: self.toggle_why())
        self.why_box = w.VBox()
        nav = w.HBox([self.back, self.next, self.why])
        nav.add_class("coach-nav")
        nav.add_class("coach-noprint")
        self.body = w.VBox(layout=w.Layout(width="100%"))
        self.body.add_class("coach-body")
        self.why_box.add_class("coach-noprint")
        self.box.children = [self.title, bar, nav, self.why_box, self.body]
        self.step: str = STEP_IDS[0]
        self.go("demand" if joiner else saved["step"], save=False)
        if not joiner:
            self.warm()

    # ------------------------------------------------------------------------------------------------ navigation
    def go(self, step: str, *, save: bool = True) -> None:
        """Show ``step`` and remember it (for a reload, another browser, a restarted server)."""
        self.step = step if step in STEP_IDS else STEP_IDS[0]
        if save and not self.joiner:
            state.save(self.folder, step=self.step, service=self.service)
        i = STEP_IDS.index(self.step)
        for j, b in enumerate(self.steps):
            if j == i:
                b.add_class("coach-current")
            else:
                b.remove_class("coach-current")
        self.back.disabled = i == 0
        self.next.disabled = i == len(STEP_IDS) - 1
        self.why_box.children = []
        for old in self.body.children:  # a step that follows the room (the workshop's live tally) stops
            getattr(old, "leave", lambda: None)()
        self.title.value = (
            f"<h1 style='font-size:30px;margin:6px 0'>{ui.esc(self.readiness.name)}: "
            f"{ui.esc(self.readiness.services[self.service])}</h1>"
        )
        self.body.children = [ui.html("<p class='note'>Loading…</p>")]
        try:
            page = ui.settle(builder(self.step)(self))
        except Exception as exc:
            page = ui.html(ui.message("problem", f"This step could not open: {exc}"))
        self.body.children = [page]

    def move(self, by: int) -> None:
        i = STEP_IDS.index(self.step) + by
        if 0 <= i < len(STEP_IDS):
            self.go(STEP_IDS[i])

    def warm(self) -> None:
        """Compute the later steps' figures and charts for this service in the background (``stagedata``), so that
        each step opens at once when the coach gets there."""
        from systemic_lib.coach import stagedata

        folder, service = self.folder, self.service
        if self.joiner:
            return

        def capability(_kept):
            builder("capability")  # the module, imported here rather than when the step opens
            importlib.import_module(f"{__package__}.capability").charts_html(folder, service)

        def managers(_kept):
            importlib.import_module(f"{__package__}.managers").summary_html(folder, service)

        stagedata.of(folder).warm(service, then=(capability, managers))

    def set_service(self, service: str) -> None:
        if service in self.readiness.services and service != self.service:
            self.service = service
            if not self.joiner:
                self.warm()
            if not self.joiner:
                state.save(self.folder, step=self.step, service=service)
            self.title.value = (
                f"<h1 style='font-size:30px;margin:6px 0'>{ui.esc(self.readiness.name)}: "
                f"{ui.esc(self.readiness.services[service])}</h1>"
            )

    def toggle_why(self) -> None:
        """Open (or close) the system-condition form with this step filled in."""
        if self.why_box.children:
            self.why_box.children = []
            return
        raised = (
            self.step if self.step in RAISED_IN else ("demand" if self.step in ("choose", "purpose") else "experiment")
        )
        from systemic_lib.coach.condition_form import ConditionForm
        from systemic_lib.coach.readiness import last_date

        form = ConditionForm(
            self.folder,
            self.service,
            raised_in=raised,
            on_added=self._condition_added,
            start_date=last_date(self.readiness.council, self.service),
        )
        ui.settle(form)
        self.why_box.children = [ui.html("<h3>Why does this happen? Raise a system condition</h3>"), form]

    def _condition_added(self, _id) -> None:
        if self.step == "conditions":
            self.go("conditions", save=False)

    # ---------------------------------------------------------------------------------------------------- errors
    def _show_errors(self) -> None:
        """A council whose data break the contract opens here: every error, where it is and how to fix it."""
        errors = self.readiness.errors
        again = ui.button("Check again", primary=True, classes=("coach-check-again",))
        again.on_click(lambda _: self._recheck())
        self.box.children = [
            ui.html(
                f"<h1>{ui.esc(self.readiness.name)}: the data need fixing first</h1>"
                f"<p>The council folder has {len(errors)} problem{'s' if len(errors) != 1 else ''} that stop "
                "the app from reading it. Fix each one in the file named, save it, then press Check again.</p>"
            ),
            ui.html(ui.table(problem_rows(errors)), "coach-errors"),
            again,
        ]

    def _recheck(self) -> None:
        fresh = App(self.folder, join=self.join)
        self.readiness = fresh.readiness
        self.box.children = fresh.box.children
        self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "box"})


def show(council_dir=None, service: str | None = None) -> App | None:
    """Display the app for a council (default: $SYSTEMIC_COACH_COUNCIL, $SYSTEMIC_COACH_SERVICE)."""
    council_dir = council_dir or os.environ.get("SYSTEMIC_COACH_COUNCIL")
    service = service or os.environ.get("SYSTEMIC_COACH_SERVICE") or None
    if not council_dir:
        display(
            ui.html(ui.message("problem", "No council folder given: start the app with `systemic coach COUNCIL_DIR`."))
        )
        return None
    query = parse_qs(os.environ.get("QUERY_STRING", ""))  # Voilà hands the page's address to its kernel
    app = App(
        council_dir,
        service,
        join=os.environ.get("SYSTEMIC_COACH_JOIN_URL") or None,
        joiner="join" in query,
    )
    display(app.box)
    return app
