"""The demand report's sections: plain notes instead of empty charts, tables in people's words, escaped."""

import pytest

from systemic_lib.analysis import demand
from systemic_lib.display import report
from systemic_lib.display.sections import demand as section


@pytest.fixture
def data(testshire):
    return demand.load(report.Stage(testshire, "housing-repairs", "demand"))


def test_no_contacts_gives_plain_notes_not_empty_charts(testshire, shown):
    none = demand.load(report.Stage(testshire, "waste", "demand"))
    assert none.contacts.empty
    for show in (
        section.show_pareto_chart,
        section.show_failure_types_chart,
        section.show_channel_chart,
        section.show_weekly_chart,
    ):
        assert show(none) is None
    section.show_table(demand.pareto(none.contacts), caption="Type and frequency")
    out = "\n".join(shown)
    assert out.count("No contacts in this period, so there is no") == 4
    assert "Type and frequency: nothing to list." in out and "<table" not in out


def test_tables_are_in_peoples_words_with_period_and_count(data, shown):
    section.show_channels(data)
    section.show_predictability(data)
    out = "\n".join(shown)
    assert "Channel mix, 1 Jan 2024 to 18 Jan 2024 (10 contacts)" in out
    assert "<th>Failure demand %</th>" in out and "<th>Is it predictable?</th>" in out
    assert "lower" not in out and "special_causes" not in out  # the working columns are left out


def test_headline_questions_problems_and_examples_are_escaped(data, shown):
    section.show_headline(data)
    section.show_questions(data)
    section.show_problems(data)
    section.show_examples(data)
    out = "\n".join(shown)
    assert "Housing repairs received 10 contacts" in out and "Questions for the team" in out
    assert "cannot read &#x27;weird&#x27;" in out
    assert "&lt;b&gt;now&lt;/b&gt;" in out and "<b>now" not in out and "07700" not in out
