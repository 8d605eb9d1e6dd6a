"""A JupyterLab form for the experiment team to add a learning-log entry (validated, appended atomically).

The system condition an entry is about is picked from the council's ``system_conditions`` (or added there as a new
one, raised in the experiment): the entry keeps its id (``condition_id``), the condition its words, once. Marking
an entry changed, with the date, marks the condition changed too, so the capability charts show that phase.

>>> form = learning_log_form("../data/councils/northshire", "housing-repairs")   # doctest: +SKIP
>>> form                                                                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import html

import ipywidgets as w

from systemic_lib.data import conditions
from systemic_lib.data.contract import CHANGED_STATUS, empty_frame
from systemic_lib.data.council import load_council
from systemic_lib.data.learning_log import STATUSES, add_entry, validate_entry
from systemic_lib.errors import ContractError, SystemicError

__all__ = ["LearningLogForm", "learning_log_form", "NONE", "NEW"]

_TEXT_FIELDS = ("what_we_tried", "what_we_learned", "waste_caused", "who_can_change", "demand_type")
NONE, NEW = "", "new"  #: the condition picker's "no condition" and "a new condition" choices


class LearningLogForm:
    """Date, what we tried, what we learned, the system condition (picked, or a new one), waste caused, who can
    change it, the demand type whose workflow it changed (optional), status and, for a change (changed or designed
    out), the date it was changed.

    Pressing the button validates the entry against the data contract and appends it to the council's learning log;
    the message under the button says what was added or, for a problem, which field to fix.
    """

    def __init__(self, council_dir, service: str, *, today: dt.date | None = None):
        self.council_dir = council_dir
        council = load_council(council_dir)
        self.service = council.service(service).id
        self.service_name = council.service(service).name
        layout = w.Layout(width="95%")
        style = {"description_width": "140px"}
        self.date = w.DatePicker(description="Date", value=today or dt.date.today(), style=style)
        self.what_we_tried = w.Textarea(description="What we tried", placeholder="required", layout=layout, style=style)
        self.what_we_learned = w.Textarea(description="What we learned", layout=layout, style=style)
        self.condition = w.Dropdown(
            description="System condition", options=self.choices(), value=NONE, layout=layout, style=style
        )
        self.new_condition = w.Textarea(
            description="New condition",
            placeholder="the rule, target, IT system, procedure or structure",
            layout=w.Layout(width="95%", display="none"),
            style=style,
        )
        self.waste_caused = w.Text(description="Waste it causes", layout=layout, style=style)
        self.demand_type = w.Text(
            description="Demand type",
            placeholder="optional: the demand whose workflow this changed (blank: every type)",
            layout=layout,
            style=style,
        )
        self.who_can_change = w.Text(description="Who can change it", layout=layout, style=style)
        self.status = w.Dropdown(description="Status", options=list(STATUSES), value=STATUSES[0], style=style)
        self.changed_at = w.DatePicker(
            description="Changed on", value=today or dt.date.today(), style=style, layout=w.Layout(display="none")
        )
        self.button = w.Button(
            description="Add to the learning log", button_style="primary", icon="plus", layout=w.Layout(width="auto")
        )
        self.message = w.HTML()
        self.button.on_click(lambda _: self.submit())
        self.condition.observe(lambda _: self._show(), "value")
        self.status.observe(lambda _: self._show(), "value")
        self.box = w.VBox(
            [
                w.HTML(f"<b>Add to the learning log: {html.escape(self.service_name)}</b>"),
                self.date,
                self.what_we_tried,
                self.what_we_learned,
                self.condition,
                self.new_condition,
                self.waste_caused,
                self.who_can_change,
                self.demand_type,
                self.status,
                self.changed_at,
                self.button,
                self.message,
            ]
        )
        self.added = 0

    def choices(self) -> list[tuple[str, str]]:
        """The picker's options: none, each of the service's system conditions (id: words), a new one."""
        try:
            known = conditions.conditions(self.council_dir, self.service)
        except SystemicError:  # a table with errors: a new condition can still be added
            known = empty_frame("system_conditions")
        said = conditions.words_of(known) if len(known) else []
        return (
            [("(no system condition)", NONE)]
            + [(f"{i}: {t}", i) for i, t in zip(known["id"], said)]
            + [("A new system condition…", NEW)]
        )

    def _show(self) -> None:
        self.new_condition.layout.display = None if self.condition.value == NEW else "none"
        self.changed_at.layout.display = None if self.status.value in CHANGED_STATUS else "none"

    def entry(self) -> dict:
        """The entry the form holds now (without its condition: ``submit`` links that)."""
        out = {
            "date": self.date.value,
            "service": self.service,
            "status": self.status.value,
            "changed_at": self.changed_at.value if self.status.value in CHANGED_STATUS else None,
        }
        out.update({name: getattr(self, name).value for name in _TEXT_FIELDS})
        return out

    def submit(self) -> bool:
        """Validate and append the entry, linked to its system condition (a new one is added first); clear the text
        boxes on success. Returns whether it was added."""
        entry = self.entry()
        try:
            validate_entry(self.council_dir, entry)
            entry["condition_id"] = self._condition_id(entry)
            path = add_entry(self.council_dir, entry)
        except ContractError as exc:
            items = "".join(f"<li>{html.escape(_field_words(p))}</li>" for p in exc.problems)
            self.message.value = f"<div style='color:#9c4a00'><b>Not added.</b> Please fix:<ul>{items}</ul></div>"
            return False
        except SystemicError as exc:
            self.message.value = f"<div style='color:#9c4a00'><b>Not added.</b> {html.escape(str(exc))}</div>"
            return False
        tried = self.what_we_tried.value.strip()
        self.added += 1
        linked = f", about system condition {html.escape(entry['condition_id'])}" if entry["condition_id"] else ""
        self.message.value = (
            f"<div style='color:#1f5f8b'>Added to {html.escape(path.name)}: "
            f"&ldquo;{html.escape(tried)}&rdquo; ({html.escape(str(self.date.value))}){linked}. "
            "The previous version is kept beside it.</div>"
        )
        self.condition.options = self.choices()
        self.condition.value = NONE
        for name in (*_TEXT_FIELDS, "new_condition"):
            getattr(self, name).value = ""
        return True

    def _condition_id(self, entry: dict) -> str:
        """The picked condition's id (a learning-log one migrated first) with its status brought up to date, or
        a new condition's id; "" for none."""
        picked, status = self.condition.value, entry["status"]
        changed_at = entry["changed_at"] if status in CHANGED_STATUS else None
        if picked == NEW:
            text = self.new_condition.value.strip()
            if not text:
                raise SystemicError("write the new system condition, or pick one from the list")
            return conditions.add_condition(
                self.council_dir,
                service=self.service,
                raised_in="experiment",
                waste_seen=entry["waste_caused"].strip() or "(not written in the learning log)",
                system_condition=text,
                who_can_change=entry["who_can_change"].strip(),
                status=status,
                raised_at=entry["date"],
                changed_at=changed_at,
            )
        if picked == NONE:
            return ""
        picked = conditions.resolved_id(self.council_dir, picked)
        conditions.set_condition(
            self.council_dir, picked, status=status, **({"changed_at": changed_at} if changed_at else {})
        )
        return picked

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def _field_words(problem) -> str:
    label = {
        "what_we_tried": "What we tried",
        "date": "Date",
        "service": "Service",
        "status": "Status",
        "changed_at": "Changed on",
        "waste_seen": "Waste it causes",
    }.get(problem.column or "", problem.column or "entry")
    fix = f" ({problem.fix})" if problem.fix else ""
    return f"{label}: {problem.message}{fix}"


def learning_log_form(council_dir, service: str, **kwargs) -> LearningLogForm:
    """The learning-log entry form for one service; display it in a notebook cell."""
    return LearningLogForm(council_dir, service, **kwargs)
