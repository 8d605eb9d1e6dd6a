"""A JupyterLab form for the experiment team to add a learning-log entry (validated, appended atomically).

>>> form = learning_log_form("../data/councils/northshire", "housing-repairs")   # doctest: +SKIP
>>> form                                                                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import html

import ipywidgets as w

from ..council import load_council
from ..errors import ContractError, SystemicError
from ..learning_log import STATUSES, add_entry

__all__ = ["LearningLogForm", "learning_log_form"]

_TEXT_FIELDS = ("what_we_tried", "what_we_learned", "system_condition", "waste_caused", "who_can_change")


class LearningLogForm:
    """Date, what we tried, what we learned, system condition, waste caused, who can change it and status.

    Pressing the button validates the entry against the data contract and appends it to the council's learning log;
    the message under the button says what was added or, for a problem, which field to fix. Known system conditions
    are offered as suggestions so that the same condition is spelled the same way.
    """

    def __init__(self, council_dir, service: str, *, today: dt.date | None = None):
        self.council_dir = council_dir
        council = load_council(council_dir)
        self.service = council.service(service).id
        self.service_name = council.service(service).name
        known = []
        if council.has_table("learning_log") and not council.load("learning_log").errors:
            log = council.load("learning_log").frame
            known = sorted(set(log.loc[log["service"] == self.service, "system_condition"].dropna()))
        layout = w.Layout(width="95%")
        style = {"description_width": "140px"}
        self.date = w.DatePicker(description="Date", value=today or dt.date.today(), style=style)
        self.what_we_tried = w.Textarea(description="What we tried", placeholder="required", layout=layout,
                                        style=style)
        self.what_we_learned = w.Textarea(description="What we learned", layout=layout, style=style)
        self.system_condition = w.Combobox(description="System condition", options=known, ensure_option=False,
                                           placeholder="the rule, target, IT system, procedure or structure",
                                           layout=layout, style=style)
        self.waste_caused = w.Text(description="Waste it causes", layout=layout, style=style)
        self.who_can_change = w.Text(description="Who can change it", layout=layout, style=style)
        self.status = w.Dropdown(description="Status", options=list(STATUSES), value=STATUSES[0], style=style)
        self.button = w.Button(description="Add to the learning log", button_style="primary", icon="plus",
                               layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.button.on_click(lambda _: self.submit())
        self.box = w.VBox([w.HTML(f"<b>Add to the learning log: {html.escape(self.service_name)}</b>"), self.date,
                           self.what_we_tried, self.what_we_learned, self.system_condition, self.waste_caused,
                           self.who_can_change, self.status, self.button, self.message])
        self.added = 0

    def entry(self) -> dict:
        """The entry the form holds now."""
        out = {"date": self.date.value, "service": self.service, "status": self.status.value}
        out.update({name: getattr(self, name).value for name in _TEXT_FIELDS})
        return out

    def submit(self) -> bool:
        """Validate and append the entry; clear the text boxes on success. Returns whether it was added."""
        try:
            path = add_entry(self.council_dir, self.entry())
        except ContractError as exc:
            items = "".join(f"<li>{html.escape(_field_words(p))}</li>" for p in exc.problems)
            self.message.value = f"<div style='color:#9c4a00'><b>Not added.</b> Please fix:<ul>{items}</ul></div>"
            return False
        except SystemicError as exc:
            self.message.value = f"<div style='color:#9c4a00'><b>Not added.</b> {html.escape(str(exc))}</div>"
            return False
        tried = self.what_we_tried.value.strip()
        self.added += 1
        self.message.value = (f"<div style='color:#1f5f8b'>Added to {html.escape(path.name)}: "
                              f"&ldquo;{html.escape(tried)}&rdquo; ({html.escape(str(self.date.value))}). "
                              "The previous version is kept beside it.</div>")
        condition = self.system_condition.value.strip()
        if condition and condition not in self.system_condition.options:
            self.system_condition.options = sorted([*self.system_condition.options, condition])
        for name in _TEXT_FIELDS:
            getattr(self, name).value = ""
        return True

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def _field_words(problem) -> str:
    label = {"what_we_tried": "What we tried", "date": "Date", "service": "Service", "status": "Status"}.get(
        problem.column or "", problem.column or "entry")
    fix = f" ({problem.fix})" if problem.fix else ""
    return f"{label}: {problem.message}{fix}"


def learning_log_form(council_dir, service: str, **kwargs) -> LearningLogForm:
    """The learning-log entry form for one service; display it in a notebook cell."""
    return LearningLogForm(council_dir, service, **kwargs)
