"""The coach's classifier: go through unclassified contacts one by one and mark each value or failure demand.

Each contact shows its verbatim (redacted), demand type and channel. A click on "Value demand" or "Failure demand"
saves the decision at once to the council's demand file (read-modify-write of that one row, atomic write, previous
version kept as ``demand.csv.prev``), so closing the browser loses nothing. Opening the classifier again resumes at
the first contact still unclassified. A failed write leaves the file as it was and says so; the contact stays on
screen to try again. The file is edited as text: other rows and columns are written back exactly as they were.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import pandas as pd

from systemic_lib import words
from systemic_lib.data.contract import (
    CLASSIFICATIONS,
    FAILURE_TYPES,
    TABLES,
    find_table_file,
    normalise_category,
    read_raw,
)
from systemic_lib.data.files import locked, write_table_atomic
from systemic_lib.data.redact import redact
from systemic_lib.display.report import esc
from systemic_lib.errors import SystemicError

__all__ = ["Classifier", "classify"]

_CLASS = TABLES["demand"].column("classification")


class Classifier:
    """Widgets over one council's demand file; ``.widget`` is what the notebook displays."""

    def __init__(self, council_dir, *, service: str | None = None):
        self.folder = Path(council_dir)
        self.service = service
        self.path = find_table_file(self.folder, "demand")
        self.message = w.HTML()
        self.progress = w.HTML()
        self.verbatim = w.HTML()
        self.details = w.HTML()
        self.value_button = w.Button(description="Value demand", button_style="info", icon="check")
        self.failure_button = w.Button(description="Failure demand", button_style="warning", icon="times")
        style = {"description_width": "110px"}  # "What matters" in full, not "What mat..."
        self.failure_type = w.Dropdown(
            options=[("what failed? (choose)", "")] + [(f, f) for f in FAILURE_TYPES],
            description="Failure type",
            style=style,
        )
        self.what_matters = w.Text(
            description="What matters",
            placeholder="in the citizen's words",
            style=style,
            layout=w.Layout(width="520px"),
        )
        self.skip_button = w.Button(description="Skip for now")
        self.value_button.on_click(lambda _: self.decide("value"))
        self.failure_button.on_click(lambda _: self.decide("failure"))
        self.skip_button.on_click(lambda _: self.skip())
        # Read, note what failed and what matters, then decide: the fields come before the buttons that save them.
        self.widget = w.VBox(
            [
                self.progress,
                self.verbatim,
                self.details,
                self.failure_type,
                self.what_matters,
                w.HBox([self.value_button, self.failure_button, self.skip_button]),
                self.message,
            ]
        )
        self.queue: list[str] = []
        self.position = 0
        if self.path is None:
            self._finish(f"No demand file in {self.folder}: add demand.csv (see README) to classify contacts.")
            return
        raw = self._read()
        self.queue = raw.loc[self._mine(raw) & self._unclassified(raw), "contact_id"].tolist()
        self._show(raw)

    # ------------------------------------------------------------------------------------------------ the file
    def _file(self) -> Path:
        if self.path is None:
            raise SystemicError(f"No demand file in {self.folder}")
        return self.path

    def _read(self) -> pd.DataFrame:
        raw, problems = read_raw(self._file(), "demand")
        if raw is None:
            raise SystemicError("; ".join(p.describe() for p in problems))
        for col in ("contact_id", "classification", "failure_type", "what_matters"):
            if col not in raw.columns:
                raw[col] = ""
        raw["contact_id"] = raw["contact_id"].astype(str)
        return raw

    def _mine(self, raw: pd.DataFrame) -> pd.Series:
        if self.service is None or "service" not in raw.columns:
            return pd.Series(True, index=raw.index)
        return raw["service"].astype(str).str.strip().eq(self.service)

    @staticmethod
    def _unclassified(raw: pd.DataFrame) -> pd.Series:
        return ~normalise_category(raw["classification"].astype(str), _CLASS).isin(CLASSIFICATIONS)

    # ---------------------------------------------------------------------------------------------- actions
    @property
    def current(self) -> str | None:
        """The contact id on screen (None when every contact is classified)."""
        return self.queue[self.position] if self.position < len(self.queue) else None

    def decide(self, classification: str, *, failure_type: str | None = None, what_matters: str | None = None) -> bool:
        """Save ``classification`` (value or failure) for the contact on screen, then show the next one.

        ``failure_type`` and ``what_matters`` default to the widgets' values. Returns False (and shows why) if the
        decision could not be saved; the file is then unchanged.
        """
        contact = self.current
        if contact is None:
            return False
        ftype = self.failure_type.value if failure_type is None else failure_type
        matters = self.what_matters.value if what_matters is None else what_matters
        try:
            with locked(self.path):  # read-modify-write: another coach's save in between is not lost
                raw = self._read()
                rows = raw.index[raw["contact_id"].str.strip() == contact]
                if len(rows) == 0:
                    raise SystemicError(f"contact {contact} is no longer in {self._file().name}")
                raw.loc[rows, "classification"] = classification
                raw.loc[rows, "failure_type"] = ftype if classification == "failure" else ""
                if matters.strip():
                    raw.loc[rows, "what_matters"] = matters.strip()
                if "classified_by" in raw.columns:
                    raw.loc[rows, "classified_by"] = "coach"
                write_table_atomic(raw, self._file(), keep_previous=True)
        except Exception as exc:  # the write is atomic: the file is as it was
            self.message.value = (
                f'<p class="problems">Not saved: {esc(exc)}. {esc(self._file().name)} is unchanged; try again.</p>'
            )
            return False
        kind = f"failure demand ({ftype})" if classification == "failure" and ftype else f"{classification} demand"
        missing = " No failure type was chosen: it is left blank." if classification == "failure" and not ftype else ""
        self.message.value = f"<p>Saved: {esc(contact)} is {esc(kind)}.{esc(missing)}</p>"
        self.position += 1
        self._show(raw)
        return True

    def skip(self) -> None:
        """Leave the contact on screen unclassified and show the next one."""
        if self.current is not None:
            self.position += 1
            self._show(self._read())

    # ---------------------------------------------------------------------------------------------- display
    def _show(self, raw: pd.DataFrame) -> None:
        open_ids = set(raw.loc[self._mine(raw) & self._unclassified(raw), "contact_id"])
        while self.current is not None and self.current not in open_ids:  # classified elsewhere meanwhile
            self.position += 1
        mine = self._mine(raw)
        total = int(mine.sum())
        done = total - int((mine & self._unclassified(raw)).sum())
        left = len(open_ids)
        self.progress.value = f"<p><b>{done:,} of {total:,}</b> contacts classified; {left:,} still to do.</p>"
        if self.current is None:
            self._finish(
                "Every contact here is classified."
                if left == 0
                else f"End of the list: {words.count(left, 'skipped contact')} still unclassified "
                "(open the classifier again to go back to them)."
            )
            return
        row = raw.loc[raw["contact_id"] == self.current].iloc[0]
        said = str(row.get("verbatim", "")).strip()
        self.verbatim.value = (
            f"<blockquote>{esc(redact(said))}</blockquote>"
            if said
            else "<p><i>No verbatim recorded for this contact.</i></p>"
        )
        facts = [
            ("Contact", f"{self.current} ({self.position + 1:,} of {len(self.queue):,} to classify)"),
            ("Demand type", row.get("demand_type", "")),
            ("Channel", row.get("channel", "")),
            ("Received", row.get("received_at", "")),
        ]
        self.details.value = "<p>" + " &middot; ".join(f"{k}: <b>{esc(v)}</b>" for k, v in facts if str(v)) + "</p>"
        self.failure_type.value = ""
        self.what_matters.value = ""

    def _finish(self, text: str) -> None:
        self.verbatim.value = f"<p>{esc(text)}</p>"
        self.details.value = ""
        for button in (self.value_button, self.failure_button, self.skip_button):
            button.disabled = True


def classify(council_dir, *, service: str | None = None):
    """The classifier widget for a council folder (optionally one service)."""
    return Classifier(council_dir, service=service).widget
