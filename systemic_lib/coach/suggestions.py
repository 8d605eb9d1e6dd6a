"""The Capability step's rebase suggestions (``analysis.rebase``): "a new phase from <date>?" with its evidence, and
Accept and Decline buttons bound to the suggestion on the person's screen.

Nothing changes until a person decides: Accept writes the recorded change to council.yaml as a system change of
the service with who and when (``council_edit.accept_phase``) and the charts are redrawn with the limits
recalculated from it; Decline records who declined it and when (``council_edit.decline_phase``), and the charts
keep their limits. Either way it is not offered again.

A decision is always on the suggestion the person saw (as a workshop's decision is always on the contact on their
screen, issue 22): the buttons carry that suggestion; before writing, the measure stage is read afresh and the
decision is refused if the suggestion is no longer offered (the data or council.yaml changed since), and
``council_edit`` refuses it if someone else decided that date meanwhile (``AlreadyDecided``). Either way the step
is redrawn with what is true now. The team's words are redacted and escaped, as everywhere.
"""

from __future__ import annotations

import ipywidgets as w

from systemic_lib.analysis import rebase
from systemic_lib.coach import stagedata, ui
from systemic_lib.data import council_edit
from systemic_lib.data.redact import redact
from systemic_lib.errors import SystemicError

__all__ = ["Suggestions", "offered"]


def offered(folder, service: str) -> list[rebase.Suggestion]:
    """The new phases offered for ``service`` now (one per date, across its measures), by date."""
    data = stagedata.of(folder).data("measure", service)
    found: dict = {}
    for r in data.results:
        for s in r.suggestions:
            if s.change is not None:
                found.setdefault(s.change.date, s)
    return [found[d] for d in sorted(found)]


def _key(s: rebase.Suggestion) -> tuple:
    """What identifies a suggestion on screen: its date, its words and the signal behind it."""
    return (s.change.date, s.change.words, s.signal.measure, s.signal.first) if s.change else ()


class Suggestions(w.VBox):
    """The suggested new phases of the app's service, each with Accept and Decline, and who decides."""

    def __init__(self, app, redraw):
        self.app, self.redraw = app, redraw
        self.who = w.Text(
            description="Who decides",
            placeholder="your name or initials",
            style=ui.LABEL,
            layout=w.Layout(width="420px"),
            continuous_update=False,
        )
        self.who.add_class("coach-phase-who")
        self.said = ui.html()
        self.listing = w.VBox()
        self.listing.add_class("coach-suggestions")
        super().__init__(
            [
                ui.html(
                    "<h3>Suggested new phases</h3><p class='note'>"
                    + ui.esc(rebase.window_sentence())
                    + " Accepting writes the change to council.yaml with who and when.</p>"
                ),
                self.who,
                self.listing,
                self.said,
            ],
            layout=w.Layout(border="1px solid #9aa7b3", padding="8px"),
        )
        self.show()

    def show(self) -> None:
        try:
            found = offered(self.app.folder, self.app.service)
        except SystemicError as exc:
            self.listing.children = [ui.html(ui.message("problem", f"The measures cannot be read: {exc}"))]
            return
        if not found:
            self.listing.children = [ui.html("<p class='note'>No new phase is suggested for this service.</p>")]
            return
        self.listing.children = [self._row(s) for s in found]

    def _row(self, s: rebase.Suggestion) -> w.Widget:
        question = redact(s.question)
        accept = ui.button("Accept", primary=True, classes=("coach-phase-accept",), tooltip=f"Accept: {question}")
        decline = ui.button("Decline", classes=("coach-phase-decline",), tooltip=f"Decline: {question}")
        accept.on_click(lambda _, s=s: self.decide(s, accept=True))
        decline.on_click(lambda _, s=s: self.decide(s, accept=False))
        row = w.VBox(
            [ui.html(f"<p><b>{ui.esc(question)}</b> {ui.esc(redact(s.evidence))}</p>"), w.HBox([accept, decline])]
        )
        row.add_class("coach-suggestion")
        return row

    def decide(self, shown: rebase.Suggestion, *, accept: bool) -> None:
        """Accept or decline the suggestion on screen, if it is still offered; then redraw."""
        who = self.who.value.strip()
        if not who:
            self.said.value = ui.message("problem", "Not saved: say who decides (a name or initials).")
            return
        try:
            still = any(_key(s) == _key(shown) for s in offered(self.app.folder, self.app.service))
            if not still:
                raise council_edit.AlreadyDecided(
                    "this suggestion is no longer offered (the data or council.yaml changed since it was shown)"
                )
            change = shown.change
            if change is None:  # a "find out" is never offered with buttons
                return
            decide = council_edit.accept_phase if accept else council_edit.decline_phase
            decide(self.app.folder, self.app.service, change.date, change.words, who)
        except council_edit.AlreadyDecided as exc:
            self.said.value = ui.message("problem", f"Not saved: {exc}. Here is what is true now.")
            self.changed()
            return
        except SystemicError as exc:
            self.said.value = ui.message("problem", f"Not saved: {exc}")
            return
        day = f"{change.date:%d %b %Y}"
        self.said.value = ui.message(
            "ok",
            f"Accepted by {redact(who)}: a new phase from {day} is saved in council.yaml; the limits are "
            "recalculated from it."
            if accept
            else f"Declined by {redact(who)}: {day} is not a new phase (recorded in council.yaml); the limits stay.",
        )
        self.changed()

    def changed(self) -> None:
        self.redraw()  # the charts, the changes marked and these suggestions
