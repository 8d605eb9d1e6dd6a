"""The learning-log form, driven from Python as a person would fill it in."""

from __future__ import annotations

import datetime as dt

import pytest

from systemic_lib.contract import read_table
from systemic_lib.widgets.experiment import learning_log_form

YAML = """\
name: Testshire Council
services:
  - id: care
    name: Health & social care
    purpose: Help me live well at home
"""


@pytest.fixture
def council(council_factory):
    return council_factory(base={}, council_yaml=YAML, learning_log=(
        "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status\n"
        "2024-07-01,care,First try,,Eligibility panel,,,open\n"))


def test_form_adds_a_valid_entry_and_clears(council):
    form = learning_log_form(council, "care", today=dt.date(2024, 7, 9))
    assert form.system_condition.options == ("Eligibility panel",)
    form.what_we_tried.value = "Book visits <ourselves>"
    form.what_we_learned.value = "We can book in a day"
    form.system_condition.value = "Central booking team"
    form.waste_caused.value = "A week's wait"
    form.who_can_change.value = "Director of Operations"
    form.status.value = "in hand"
    form.button.click()
    assert form.added == 1
    assert "Added to learning_log.csv" in form.message.value
    assert "&lt;ourselves&gt;" in form.message.value and "<ourselves>" not in form.message.value
    assert form.what_we_tried.value == "" and form.status.value == "in hand"
    assert "Central booking team" in form.system_condition.options
    frame = read_table(council / "learning_log.csv", "learning_log", services={"care"}).frame
    assert len(frame) == 2
    new = frame.iloc[1]
    assert new["date"].date() == dt.date(2024, 7, 9)
    assert new["what_we_tried"] == "Book visits <ourselves>" and new["status"] == "in hand"
    assert new["who_can_change"] == "Director of Operations"
    assert (council / "learning_log.csv.prev").exists()


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
