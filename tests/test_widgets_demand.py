"""The demand explorer: the filters update the headline, the Pareto chart and the weekly chart together."""

import textwrap
from datetime import date

import pytest

from systemic_lib.data.council import load_council
from systemic_lib.display.widgets.demand import DemandExplorer, explore

YAML = textwrap.dedent("""\
    name: Testshire
    services:
      - {id: housing-repairs, name: Housing repairs, purpose: Fix my home}
      - {id: council-tax, name: Council tax, purpose: Pay the right amount}
""")
DEMAND = textwrap.dedent("""\
    contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type
    C1,housing-repairs,2024-01-01 09:00,phone,a,fix boiler,value,
    C2,housing-repairs,2024-01-02 09:00,phone,b,when will it be done,failure,progress chasing
    C3,housing-repairs,2024-01-09 09:00,email,c,when will it be done,failure,progress chasing
    C4,housing-repairs,2024-01-16 09:00,phone,d,fix roof,,
    C5,council-tax,2024-01-03 09:00,web,e,wrong bill,failure,not done right
""")


@pytest.fixture
def folder(council_factory):
    return council_factory(base={}, council_yaml=YAML, demand=DEMAND)


@pytest.fixture
def explorer(folder):
    council = load_council(folder)
    return DemandExplorer(council.table("demand"), services={s.id: s.name for s in council.spec.services})


def test_starts_with_everything(explorer):
    assert len(explorer.filtered()) == 5
    assert "Contacts 5" in explorer.headline.value and "failure 3" in explorer.headline.value
    assert explorer.pareto.value[:4] == b"\x89PNG" and explorer.weekly.value[:4] == b"\x89PNG"


def test_filters_update_headline_and_both_charts(explorer):
    before = (explorer.pareto.value, explorer.weekly.value)
    explorer.service.value = "housing-repairs"
    assert len(explorer.filtered()) == 4
    assert "Housing repairs" in explorer.headline.value and "Contacts 4" in explorer.headline.value
    assert explorer.pareto.value != before[0] and explorer.weekly.value != before[1]
    explorer.channel.value = "phone"
    assert "Contacts 3" in explorer.headline.value  # C1, C2, C4
    explorer.classification.value = "unclassified"
    assert explorer.filtered()["contact_id"].tolist() == ["C4"]
    explorer.classification.value = "failure"
    explorer.channel.value = "(all)"
    assert explorer.filtered()["contact_id"].tolist() == ["C2", "C3"]


def test_period_filter(explorer):
    explorer.start.value = date(2024, 1, 2)
    explorer.end.value = date(2024, 1, 9)
    assert explorer.filtered()["contact_id"].tolist() == ["C2", "C3", "C5"]
    assert "2 January 2024 to 9 January 2024" in explorer.headline.value


def test_nothing_selected_says_so(explorer):
    explorer.service.value = "council-tax"
    explorer.channel.value = "phone"
    assert "No contacts are recorded" in explorer.headline.value
    assert explorer.pareto.value[:4] == b"\x89PNG"


def test_explore_returns_a_widget(explorer):
    assert explore(explorer.data).children


def test_one_service_is_named_not_called_all_services(folder):
    """The demand notebook passes one service's contacts: the explorer names that service, with nothing to choose."""
    council = load_council(folder)
    ex = DemandExplorer(
        council.table("demand", service="housing-repairs"), services={s.id: s.name for s in council.spec.services}
    )
    assert [label for label, _ in ex.service.options] == ["Housing repairs"] and ex.service.disabled
    assert "Housing repairs received 4 contacts" in ex.headline.value
    assert "all services" not in ex.headline.value
    ex.channel.value = "email"
    assert "the one contact to Housing repairs" in ex.headline.value and "Contacts 1 &middot;" in ex.headline.value


def test_headline_changes_after_both_charts(explorer):
    """A person reads the headline as describing the charts under it: it is shown once both are redrawn."""
    order = []
    for name in ("headline", "pareto", "weekly"):
        getattr(explorer, name).observe(lambda change, n=name: order.append(n), names="value")
    explorer.channel.value = "email"
    assert order == ["pareto", "weekly", "headline"]
