"""The learning-log form, driven from Python as a person would fill it in."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from systemic_lib.data.contract import read_table
from systemic_lib.display.widgets.experiment import learning_log_form

YAML = """\
name: Testshire Council
services:
  - id: care
    name: Health & social care
    purpose: Help me live well at home
"""


@pytest.fixture
def council(council_factory):
    return council_factory(
        base={},
        council_yaml=YAML,
        learning_log=(
            "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status\n"
            "2024-07-01,care,First try,,Eligibility panel,,,open\n"
        ),
    )


def test_form_adds_a_new_condition_links_it_and_clears(council):
    form = learning_log_form(council, "care", today=dt.date(2024, 7, 9))
    # the old log's condition is offered (not yet migrated: its id is the log's row), then a new one
    assert form.condition.options == (
        ("(no system condition)", ""),
        ("LL-2: Eligibility panel", "LL-2"),
        ("A new system condition…", "new"),
    )
    assert form.new_condition.layout.display == "none"
    form.condition.value = "new"
    assert form.new_condition.layout.display is None
    form.what_we_tried.value = "Book visits <ourselves>"
    form.what_we_learned.value = "We can book in a day"
    form.new_condition.value = "Central booking <team>"
    form.waste_caused.value = "A week's wait"
    form.who_can_change.value = "Director of Operations"
    form.status.value = "in hand"
    form.button.click()
    assert form.added == 1, form.message.value
    assert "Added to learning_log.csv" in form.message.value and "system condition SC-001" in form.message.value
    assert "&lt;ourselves&gt;" in form.message.value and "<ourselves>" not in form.message.value
    assert form.what_we_tried.value == "" and form.new_condition.value == "" and form.status.value == "in hand"
    assert ("SC-001: Central booking <team>", "SC-001") in form.condition.options
    frame = read_table(council / "learning_log.csv", "learning_log", services={"care"}).frame
    assert len(frame) == 2
    new = frame.iloc[1]
    assert new["date"].date() == dt.date(2024, 7, 9)
    assert new["what_we_tried"] == "Book visits <ourselves>" and new["status"] == "in hand"
    assert new["condition_id"] == "SC-001" and pd.isna(new["system_condition"])  # the words are kept once
    assert (council / "learning_log.csv.prev").exists()
    cond = read_table(council / "system_conditions.csv", "system_conditions", services={"care"}).frame
    assert cond[["id", "raised_in", "system_condition", "waste_seen", "status"]].values.tolist() == [
        ["SC-001", "experiment", "Central booking <team>", "A week's wait", "in hand"]
    ]


def test_picking_an_old_condition_migrates_it_and_a_change_marks_it_changed(council):
    form = learning_log_form(council, "care", today=dt.date(2024, 7, 9))
    form.condition.value = "LL-2"
    form.what_we_tried.value = "Decide on the visit"
    form.status.value = "changed"
    assert form.changed_at.layout.display is None
    form.changed_at.value = dt.date(2024, 7, 8)
    assert form.submit() is True, form.message.value
    cond = read_table(council / "system_conditions.csv", "system_conditions", services={"care"}).frame
    assert cond[["id", "system_condition", "status"]].values.tolist() == [["SC-001", "Eligibility panel", "changed"]]
    assert cond.loc[0, "changed_at"] == pd.Timestamp("2024-07-08")
    log = read_table(council / "learning_log.csv", "learning_log", services={"care"}).frame
    assert log["condition_id"].tolist()[1] == "SC-001" and log.loc[1, "changed_at"] == pd.Timestamp("2024-07-08")
    assert form.condition.options[1] == ("SC-001: Eligibility panel", "SC-001")  # once, by its new id


def test_a_new_condition_needs_its_words(council):
    form = learning_log_form(council, "care", today=dt.date(2024, 7, 9))
    form.condition.value = "new"
    form.what_we_tried.value = "Something"
    assert form.submit() is False
    assert "write the new system condition" in form.message.value
    assert not (council / "system_conditions.csv").exists()


def test_form_refuses_a_blank_entry_and_says_which_field(council):
    form = learning_log_form(council, "care", today=dt.date(2024, 7, 9))
    before = (council / "learning_log.csv").read_text()
    form.button.click()
    assert form.added == 0
    assert "Not added" in form.message.value and "What we tried" in form.message.value
    assert (council / "learning_log.csv").read_text() == before
    form.date.value = None
    form.what_we_tried.value = "Something"
    form.button.click()
    assert "Date" in form.message.value and form.what_we_tried.value == "Something"  # kept for correction
    form.date.value = dt.date(2024, 7, 10)
    assert form.submit() is True


def test_form_for_an_unknown_service_names_the_services(council):
    with pytest.raises(Exception, match="Services are: care"):
        learning_log_form(council, "housing")


def test_form_displays_as_a_widget(council):
    form = learning_log_form(council, "care")
    bundle = form._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
