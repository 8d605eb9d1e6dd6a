"""The coach's classifier, driven from Python: decisions saved at once, resume, a crash mid-write loses nothing."""

import os
import textwrap

import pandas as pd
import pytest

from systemic_lib.data.council import load_council
from systemic_lib.display.widgets.classifier import Classifier

YAML = textwrap.dedent("""\
    name: Testshire
    services:
      - {id: housing-repairs, name: Housing repairs, purpose: Fix my home}
      - {id: council-tax, name: Council tax, purpose: Pay the right amount}
""")
DEMAND = textwrap.dedent("""\
    contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters,extra
    C1,housing-repairs,2024-01-01 09:00,phone,Call me on 07700 900123 <now>,fix boiler,value,,,keep me
    C2,housing-repairs,2024-01-02 09:00,phone,When will you come?,when will it be done,,,,x
    C3,council-tax,2024-01-03 09:00,web,Bill wrong,wrong bill,,,,y
    C4,housing-repairs,2024-01-04 09:00,email,Leak at SW1A 1AA,fix roof,maybe,,,z
    C5,housing-repairs,2024-01-05 09:00,phone,,fix roof,,,,
""")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "council.yaml").write_text(YAML)
    (tmp_path / "demand.csv").write_text(DEMAND)
    return tmp_path


def saved(folder):
    return pd.read_csv(folder / "demand.csv", dtype=str, keep_default_na=False).set_index("contact_id")


def test_shows_the_first_unclassified_contact_redacted(folder):
    c = Classifier(folder, service="housing-repairs")
    assert c.queue == ["C2", "C4", "C5"]  # C4's 'maybe' is not a classification: it is still to do
    assert c.current == "C2"
    assert "1 of 4" in c.progress.value  # C1 classified of the 4 housing-repairs contacts
    assert "When will you come?" in c.verbatim.value
    assert "when will it be done" in c.details.value and "phone" in c.details.value
    c.skip()
    assert "[postcode]" in c.verbatim.value and "SW1A" not in c.verbatim.value


def test_each_decision_is_saved_at_once(folder):
    c = Classifier(folder, service="housing-repairs")
    c.failure_type.value = "progress chasing"
    c.what_matters.value = "knowing when"
    c.failure_button.click()
    row = saved(folder).loc["C2"]
    assert (row["classification"], row["failure_type"], row["what_matters"]) == (
        "failure",
        "progress chasing",
        "knowing when",
    )
    assert c.current == "C4" and "2 of 4" in c.progress.value
    assert c.failure_type.value == "" and c.what_matters.value == ""  # fresh for the next contact
    c.value_button.click()
    after = saved(folder)
    assert after.loc["C4", "classification"] == "value" and after.loc["C4", "failure_type"] == ""
    # other rows and columns are written back as they were
    assert after.loc["C1", "verbatim"] == "Call me on 07700 900123 <now>" and after.loc["C1", "extra"] == "keep me"
    assert after.loc["C3", "classification"] == "" and after.loc["C1", "received_at"] == "2024-01-01 09:00"
    assert (folder / "demand.csv.prev").exists()  # the previous version is kept
    council = load_council(folder)
    assert council.table("demand", service="housing-repairs")["classification"].notna().sum() == 3


def test_resume_starts_at_the_first_still_unclassified(folder):
    first = Classifier(folder, service="housing-repairs")
    first.value_button.click()  # C2
    again = Classifier(folder, service="housing-repairs")
    assert again.current == "C4" and again.queue == ["C4", "C5"]
    again.value_button.click()
    again.failure_button.click()
    assert again.current is None and "Every contact here is classified" in again.verbatim.value
    assert again.value_button.disabled
    assert Classifier(folder, service="housing-repairs").current is None


def test_a_crash_mid_write_leaves_the_file_intact(folder, monkeypatch):
    c = Classifier(folder, service="housing-repairs")
    before = (folder / "demand.csv").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    c.value_button.click()
    assert (folder / "demand.csv").read_bytes() == before
    assert "Not saved" in c.message.value and "disk full" in c.message.value
    assert c.current == "C2"  # still on screen to try again
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # no half-written file left behind
    monkeypatch.undo()
    c.value_button.click()
    assert saved(folder).loc["C2", "classification"] == "value"


def test_a_contact_classified_elsewhere_meanwhile_is_skipped(folder):
    c = Classifier(folder, service="housing-repairs")
    text = (folder / "demand.csv").read_text().replace("fix roof,maybe", "fix roof,value")
    (folder / "demand.csv").write_text(text)
    c.failure_button.click()  # C2; C4 is now classified by someone else
    assert c.current == "C5"


def test_whole_council_and_no_file(folder, tmp_path_factory):
    assert Classifier(folder).queue == ["C2", "C3", "C4", "C5"]
    empty = tmp_path_factory.mktemp("empty")
    c = Classifier(empty)
    assert c.current is None and "No demand file" in c.verbatim.value


def test_the_coach_sees_which_contact_and_what_was_saved(folder):
    c = Classifier(folder, service="housing-repairs")
    assert "C2 (1 of 3 to classify)" in c.details.value  # the id, to find the contact in the data later
    # what failed and what matters come before the buttons that save them
    order = c.widget.children
    buttons = next(i for i, child in enumerate(order) if c.failure_button in getattr(child, "children", ()))
    assert order.index(c.failure_type) < buttons and order.index(c.what_matters) < buttons
    c.failure_type.value = "progress chasing"
    c.failure_button.click()
    assert "Saved: C2 is failure demand (progress chasing)." in c.message.value
    assert "C4 (2 of 3 to classify)" in c.details.value
    c.failure_button.click()  # no failure type chosen: saved, and the coach is told it is blank
    assert "Saved: C4 is failure demand." in c.message.value and "No failure type was chosen" in c.message.value
    assert saved(folder).loc["C4", "failure_type"] == ""
    c.value_button.click()
    assert "Saved: C5 is value demand." in c.message.value and "failure type" not in c.message.value


# ------------------------------------------------------------------ issue 13: what the coach saves is never corrupted
FORMULA = '=HYPERLINK("http://x","click")'


def test_formula_like_text_in_an_xlsx_demand_file_survives_a_save(tmp_path):
    """Item 1: verbatim, demand type and what matters starting with '=' are read back as written, not blank."""
    from systemic_lib.data.files import write_table_atomic

    (tmp_path / "council.yaml").write_text(YAML)
    frame = pd.read_csv(pd.io.common.StringIO(DEMAND), dtype=str, keep_default_na=False)
    frame.loc[frame["contact_id"] == "C2", ["verbatim", "demand_type"]] = [FORMULA, "=1+1"]
    write_table_atomic(frame, tmp_path / "demand.xlsx")
    c = Classifier(tmp_path, service="housing-repairs")
    assert c.current == "C2" and c.decide("failure", failure_type="progress chasing", what_matters=FORMULA)
    back = pd.read_excel(tmp_path / "demand.xlsx", sheet_name="demand", dtype=str, keep_default_na=False)
    row = back.set_index("contact_id").loc["C2"]
    assert (row["verbatim"], row["demand_type"], row["what_matters"]) == (FORMULA, "=1+1", FORMULA)
    assert row["classification"] == "failure"
    table = load_council(tmp_path).load("demand")
    assert not table.errors and table.frame.set_index("contact_id").loc["C2", "verbatim"] == FORMULA


def test_a_lone_carriage_return_in_a_verbatim_adds_no_ghost_contact(tmp_path):
    """Item 2: a verbatim "line1\\rline2" written by Python's csv module, then one save: still five contacts."""
    import csv

    (tmp_path / "council.yaml").write_text(YAML)
    rows = list(csv.reader(DEMAND.splitlines()))
    rows[2][4] = "line1\rline2"  # C2's verbatim
    with open(tmp_path / "demand.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)  # quotes the \r (its line end is \r\n)
    c = Classifier(tmp_path, service="housing-repairs")
    assert c.decide("failure", failure_type="progress chasing")
    back = saved(tmp_path)
    assert back.index.tolist() == ["C1", "C2", "C3", "C4", "C5"]
    assert back["demand_type"].tolist() == ["fix boiler", "when will it be done", "wrong bill", "fix roof", "fix roof"]
    assert back.loc["C2", "verbatim"] == "line1\nline2"
    assert not load_council(tmp_path).load("demand").errors
