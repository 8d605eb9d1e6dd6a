"""Three fictional councils with 65 weeks of realistic data, so that every stage has something true to show.

``write_sample_councils()`` writes Northshire, Eastbrook and Westmere into ``data/councils/``: each a folder
that follows the data contract (``council.yaml``, demand, cases, events, the activity catalogue, rules and,
where a service runs an experiment, the team's learning log). The data are generated, not copied:

* demand arrives every day with a weekday pattern and a seasonal one; each contact is value or failure demand
  with a demand type, a verbatim in the citizen's words, what matters, one-stop and, for progress chasing, the
  open case it chases. Failure demand differs by service and by channel (phone carries most of the chasing);
* every case-opening value demand becomes a case whose steps (value and waste, hand-offs between teams,
  rework loops, waiting) follow the service's flow in working days;
* Northshire's adult social care runs an experiment from 1 July 2024: a small team works alongside the old system,
  taking a random 40% of new cases end to end (the old system handles the rest over the same months), so its cases
  get shorter, need fewer assessments, referrals and people, more of the time is face to face, and the failure
  demand its cases would have caused falls away. Eastbrook's plain-English council tax letters
  (2 September 2024) cut "not understood" demand.

The same seed always gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd
import yaml

from systemic_lib import config
from systemic_lib.data.files import atomic_write_text
from systemic_lib.data.sample_links import link_contacts

START = pd.Timestamp("2024-01-01")
END = pd.Timestamp("2025-03-30 23:59")  #: a Sunday: 65 whole weeks, Monday to Sunday
#: England and Wales bank holidays: no phone lines, no face to face, no casework.
HOLIDAYS = np.array(
    [
        "2024-01-01",
        "2024-03-29",
        "2024-04-01",
        "2024-05-06",
        "2024-05-27",
        "2024-08-26",
        "2024-12-25",
        "2024-12-26",
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
    ],
    dtype="datetime64[D]",
)
TABLE_FILES = ("demand", "cases", "events", "activities")
"""Tables every sample council has (plus ``learning_log`` where a service runs an experiment and ``rules`` where
the council classifies imported demand by rule)."""
EXPERIMENT_TEAM = "Home first experiment team"
#: From the experiment's start, this share of new cases (drawn at random, so both ways of working get the same mix of
#: demand) goes to the experiment team; the old system handles the rest alongside it, over the same months.
EXPERIMENT_SHARE = 0.4


# ----------------------------------------------------------------------------------------------- the content
@dataclass(frozen=True)
class DemandType:
    """One demand type: value demand if ``failure_type`` is None. Verbatims may use the slots in ``_slots``."""

    phrase: str
    weight: float
    verbatims: tuple[str, ...]
    matters: tuple[str, ...]
    failure_type: str | None = None
    opens_case: bool = False
    one_stop: float = 0.5  #: chance the contact is resolved at the first point of contact


@dataclass(frozen=True)
class Step:
    """One step of a service's flow. ``p`` is the chance a case has it (``p=None``: exactly when the step
    before it happened in this pass); steps sharing a ``loop`` number repeat together with chance ``repeat``."""

    activity: str
    category: str
    step_type: str
    team: str
    p: float | None = 1.0
    wait: float = 1.0  #: median working days from the previous step's completion to this one's
    hours: float = 0.5  #: median hands-on hours
    f2f: float = 0.0  #: chance the step is time with the citizen
    loop: int = 0
    repeat: float = 0.0
    keep_worker: bool = False  #: the case's own worker does it (no hand-off within the team)


@dataclass(frozen=True)
class ServiceDef:
    id: str
    name: str
    purpose: str
    prefix: str
    value: tuple[DemandType, ...]
    failure: tuple[DemandType, ...]
    steps: tuple[Step, ...]
    teams: dict[str, int]  #: team -> number of people in it
    season: tuple[float, ...]  #: relative demand by month, January first
    wanted_days: tuple[int, int] | None = None  #: when citizens want it done: days after asking (range)
    experiment_steps: tuple[Step, ...] = ()
    e2e_target: float | None = None  #: not written to council.yaml any more: samples set no targets
    own_measures: tuple[dict, ...] = ()  #: measures of the service's own, from its purpose (council.yaml)
    hub: HubDef | None = None  #: a new service built by experiment: no old system, workflows per demand


V, W = "value", "waste"
_FLAT = (1.0,) * 12

HOUSING_REPAIRS = ServiceDef(
    "housing-repairs",
    "Housing repairs",
    "Fix my home properly, first time, at a time that suits me",
    "HR",
    value=(
        DemandType(
            "fix my heating or hot water",
            8,
            (
                "My boiler has stopped working and we've got no hot water.",
                "The heating's been off since {weekday} and I've got two little ones in the flat.",
                "Radiators upstairs are stone cold, can someone come out?",
                "No hot water again. The boiler keeps showing an error code.",
            ),
            ("being warm", "a time that suits me", "fixed first time"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "fix a leak",
            6,
            (
                "There's water coming through the bathroom ceiling from the flat above.",
                "The pipe under my kitchen sink is leaking and the cupboard is soaked.",
                "Water is dripping through the light fitting in the hall, it's getting worse.",
            ),
            ("fixed first time", "my home being safe", "a time that suits me"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "fix damp and mould",
            5,
            (
                "There's black mould all over the back bedroom wall and my son's asthma is bad.",
                "Damp is coming through the wall behind the wardrobe, everything smells.",
                "The mould keeps coming back however much I clean it.",
            ),
            ("my family's health", "fixed properly", "someone listening"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "fix my doors or windows",
            6,
            (
                "The front door lock is broken and I can't lock the flat.",
                "The bedroom window won't close properly and there's a draught.",
                "The back door has dropped and scrapes the floor, I can hardly open it.",
            ),
            ("my home being safe", "a time that suits me"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "change my repair appointment",
            9,
            (
                "I can't be in on {weekday} for the repair, can we do another day?",
                "Can you move my appointment to the afternoon? I work mornings.",
            ),
            ("a time that suits me",),
            one_stop=0.85,
        ),
        DemandType(
            "book my gas safety check",
            12,
            (
                "I've had a letter about the gas safety check, can I book it in?",
                "When can you do the annual boiler service? I'm in most mornings.",
            ),
            ("a time that suits me", "my home being safe"),
            one_stop=0.9,
        ),
        DemandType(
            "how do I report a repair?",
            5,
            ("How do I report a repair? I'm a new tenant.", "Is there a way to report a repair online?"),
            ("easy to do",),
            one_stop=0.95,
        ),
    ),
    failure=(
        DemandType(
            "when will my repair be done?",
            18,
            (
                "When will my repair be done? It's been {weeks} weeks.",
                "I reported the leak {weeks} weeks ago and nobody has been in touch.",
                "I'm ringing again to find out when someone is coming for my boiler.",
                "Still waiting for the repair, can you tell me what's happening?",
            ),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.35,
        ),
        DemandType(
            "the operative didn't turn up",
            7,
            (
                "I waited in all day {weekday} and nobody came.",
                "I took a day off work for the repair and no one turned up.",
                "The man was supposed to come this morning, where is he?",
            ),
            ("a time that suits me", "being kept informed"),
            "not done",
            one_stop=0.2,
        ),
        DemandType(
            "the repair didn't fix it",
            8,
            (
                "They came out last week but the boiler has broken again.",
                "The leak is back, the repair didn't fix it.",
                "They painted over the mould but it's coming through again.",
            ),
            ("fixed first time",),
            "not done right",
            one_stop=0.1,
        ),
        DemandType(
            "I was told to ring another number",
            3,
            (
                "I was told to ring this number by the housing office, who do I speak to?",
                "The contractor said to ring the council, the council said ring the contractor.",
            ),
            ("one place to ask",),
            "wrong place",
            one_stop=0.3,
        ),
        DemandType(
            "I don't understand the letter about my repair",
            2,
            (
                "I got a letter saying my job is cancelled but it was never done, what does it mean?",
                "I don't understand the letter, it says 'no access' but I was in.",
            ),
            ("clear information",),
            "not understood",
            one_stop=0.6,
        ),
        DemandType(
            "complaint about my repair",
            3,
            (
                "I want to make a complaint, this is the fourth time I've rung about the same leak.",
                "I want to complain about how long this is taking.",
            ),
            ("someone taking responsibility", "fixed first time"),
            "complaint",
            one_stop=0.05,
        ),
    ),
    steps=(
        Step("Log repair", "contact", V, "Repairs contact centre", wait=0.02, hours=0.2),
        Step("Pre-inspection visit", "check", W, "Surveyors", p=0.45, wait=4, hours=1.0, f2f=0.9),
        Step("Raise works order", "hand-off", W, "Repairs desk", wait=1, hours=0.3),
        Step("Pass to contractor", "hand-off", W, "Repairs desk", p=0.4, wait=2, hours=0.2),
        Step("Book appointment", "contact", V, "Scheduling", wait=2, hours=0.2, loop=1, repeat=0.3),
        Step("Visit to repair", "delivery", V, "Operatives", wait=4, hours=1.5, f2f=0.95, loop=1),
        Step("Order parts", "waiting", W, "Operatives", p=0.3, wait=4, hours=0.3, loop=1),
        Step("Post-inspection", "check", W, "Surveyors", p=0.2, wait=5, hours=0.7, f2f=0.8),
        Step("Close works order", "check", W, "Repairs desk", wait=2, hours=0.2),
    ),
    teams={"Repairs contact centre": 18, "Surveyors": 5, "Repairs desk": 6, "Scheduling": 4, "Operatives": 28},
    season=(1.35, 1.3, 1.1, 0.95, 0.85, 0.8, 0.8, 0.8, 0.9, 1.05, 1.2, 1.3),
    wanted_days=(5, 28),
    e2e_target=10,
    own_measures=(
        {
            "id": "fixed_for_good",
            "name": "Repairs with no repeat contact within 30 days of closing",
            "unit": "%",
            "direction": "increase",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_contact_within_days": 30}},
        },
    ),
)

COUNCIL_TAX = ServiceDef(
    "council-tax",
    "Council tax",
    "Get my bill right and let me pay in a way that works for me",
    "CT",
    value=(
        DemandType(
            "I'm moving home",
            10,
            (
                "I'm moving out of {street} on the {day}th, what do I need to do?",
                "We've just moved into {street}, how do I set up council tax?",
                "Letting you know I'm moving house next month.",
            ),
            ("getting it right first time", "easy to do"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "apply for single person discount",
            6,
            (
                "My partner has moved out so I live on my own now.",
                "Can I get the 25% discount? I live alone since my husband died.",
            ),
            ("being treated fairly", "getting it right first time"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "I'm struggling to pay",
            3,
            (
                "I've lost my job and I can't pay the full amount this month.",
                "Can I spread the payments? Money is really tight.",
            ),
            ("not being taken to court", "someone listening"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "set up a direct debit",
            12,
            ("I'd like to pay by direct debit please.", "Can I change my direct debit date to the 15th?"),
            ("easy to do",),
            one_stop=0.9,
        ),
        DemandType(
            "pay my bill",
            10,
            ("I want to pay my council tax.", "Can I pay what I owe over the phone?"),
            ("easy to do",),
            one_stop=0.95,
        ),
        DemandType(
            "a copy of my bill",
            8,
            (
                "Can you send me a copy of this year's bill? I need it for my bank.",
                "I've lost my bill, can I have another one?",
            ),
            ("easy to do",),
            one_stop=0.9,
        ),
        DemandType(
            "what band is my home in?",
            6,
            (
                "What council tax band is {street} in?",
                "We're thinking of buying on {street}, what band are the houses?",
            ),
            ("clear information",),
            one_stop=0.9,
        ),
    ),
    failure=(
        DemandType(
            "why is my bill wrong?",
            14,
            (
                "My bill has gone up but nothing has changed, why?",
                "You've billed me from the wrong date, I moved in on the {day}th.",
                "The bill still has my old address on it.",
            ),
            ("getting it right first time", "being treated fairly"),
            "not done right",
            one_stop=0.25,
        ),
        DemandType(
            "I don't understand my bill",
            10,
            (
                "I don't understand this bill, what are all these amounts?",
                "What does 'liability order' mean? I'm worried.",
                "The letter says I owe money and I've got a refund, which is it?",
            ),
            ("clear information",),
            "not understood",
            one_stop=0.6,
        ),
        DemandType(
            "I got a reminder but I've already paid",
            6,
            ("I got a reminder but I paid on {weekday}.", "Why am I getting a final notice? I pay by direct debit."),
            ("being treated fairly",),
            "not done right",
            one_stop=0.4,
        ),
        DemandType(
            "have you processed my change yet?",
            12,
            (
                "I told you I moved {weeks} weeks ago and I've still got no new bill.",
                "Has my discount been done yet? I sent the form in.",
                "I'm chasing the refund you said I'd get.",
            ),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.3,
        ),
        DemandType(
            "I've been passed around",
            3,
            (
                "I've been passed between three departments, who deals with this?",
                "Benefits told me to ring you and you're telling me to ring benefits.",
            ),
            ("one place to ask",),
            "wrong place",
            one_stop=0.2,
        ),
        DemandType(
            "complaint about a summons",
            3,
            (
                "I've had a summons for a bill I didn't know about, I want to complain.",
                "I want to complain, I've been charged court costs for your mistake.",
            ),
            ("not being taken to court", "someone taking responsibility"),
            "complaint",
            one_stop=0.05,
        ),
    ),
    steps=(
        Step("Record change", "contact", V, "Revenues contact centre", wait=0.02, hours=0.2),
        Step("Request evidence", "check", W, "Revenues back office", p=0.55, wait=2, hours=0.2),
        Step("Wait for evidence", "waiting", W, "Revenues back office", p=None, wait=8, hours=0.05),
        Step("Index documents", "hand-off", W, "Scanning team", p=0.6, wait=2, hours=0.1),
        Step("Verify change", "check", W, "Revenues back office", wait=3, hours=0.3),
        Step("Recalculate bill", "decision", V, "Revenues back office", wait=2, hours=0.3, loop=1, repeat=0.18),
        Step("Issue new bill", "delivery", V, "Revenues back office", wait=1, hours=0.1, loop=1),
        Step("Refund or adjust payments", "delivery", V, "Revenues back office", p=0.3, wait=3, hours=0.3),
    ),
    teams={"Revenues contact centre": 16, "Revenues back office": 10, "Scanning team": 4},
    season=(1.0, 0.95, 1.45, 1.55, 1.1, 0.9, 0.85, 0.85, 0.9, 0.95, 0.9, 0.75),
    e2e_target=15,
)

WASTE = ServiceDef(
    "waste-collection",
    "Bins and recycling",
    "Collect my bins when you say you will, and take it all",
    "WC",
    value=(
        DemandType(
            "order a new or replacement bin",
            7,
            (
                "My bin was stolen, can I have a new one?",
                "The lid has snapped off the recycling bin.",
                "We've moved in and there are no bins at the property.",
            ),
            ("bins when you say", "easy to do"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "book a bulky waste collection",
            5,
            ("Can I book a collection for an old sofa and a fridge?", "I need a mattress taking away please."),
            ("a time that suits me",),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "help with putting my bin out",
            2,
            (
                "I'm 84 and can't get the bin to the kerb any more.",
                "My husband has had a stroke and I can't manage the bins.",
            ),
            ("someone listening", "bins when you say"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "what day is my collection?",
            16,
            ("What day do you collect on {street}?", "Is my collection still on {weekday} over the bank holiday?"),
            ("knowing when",),
            one_stop=0.95,
        ),
        DemandType(
            "subscribe to garden waste",
            8,
            ("I'd like to sign up for garden waste collections.", "How do I renew my brown bin subscription?"),
            ("easy to do",),
            one_stop=0.85,
        ),
    ),
    failure=(
        DemandType(
            "my bin wasn't collected",
            22,
            (
                "My bin wasn't collected on {weekday}, the whole street was missed.",
                "The recycling wasn't emptied again, that's the second time this month.",
                "You missed my bin. It was out by 7am.",
            ),
            ("bins when you say",),
            "not done",
            one_stop=0.3,
        ),
        DemandType(
            "when is my new bin coming?",
            10,
            ("I ordered a bin {weeks} weeks ago, when is it coming?", "Still no new bin, the rubbish is piling up."),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.35,
        ),
        DemandType(
            "the crew left rubbish in the street",
            5,
            (
                "The crew spilled rubbish all down {street} and left it.",
                "They emptied the bin and left the bags on the pavement.",
            ),
            ("a clean street",),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "my bin was taken but not returned",
            3,
            ("My bin was emptied but never brought back.", "The crew took my bin and now I can't find it."),
            ("bins when you say",),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "complaint about the crew",
            3,
            (
                "I want to complain about the crew's attitude.",
                "Your lorry blocked my drive for an hour, I want to complain.",
            ),
            ("someone taking responsibility",),
            "complaint",
            one_stop=0.1,
        ),
        DemandType(
            "I was put through to the wrong department",
            2,
            ("I was put through to environmental health and they sent me back to you.",),
            ("one place to ask",),
            "wrong place",
            one_stop=0.3,
        ),
    ),
    steps=(
        Step("Log request", "contact", V, "Customer services", wait=0.02, hours=0.15),
        Step("Pass to depot", "hand-off", W, "Waste admin", wait=1, hours=0.1),
        Step("Check eligibility", "check", W, "Waste admin", p=0.4, wait=2, hours=0.2),
        Step("Schedule delivery or collection", "decision", V, "Depot", wait=1, hours=0.1, loop=1, repeat=0.15),
        Step("Deliver bin or collect items", "delivery", V, "Crews", wait=3, hours=0.3, f2f=0.1, loop=1),
        Step("Confirm done", "check", W, "Waste admin", p=0.5, wait=1, hours=0.05),
    ),
    teams={"Customer services": 20, "Waste admin": 5, "Depot": 3, "Crews": 24},
    season=(1.35, 1.05, 0.95, 1.05, 1.1, 1.0, 0.95, 0.95, 0.9, 0.9, 0.85, 1.0),
    wanted_days=(5, 15),
    e2e_target=7,
)

SOCIAL_CARE = ServiceDef(
    "health-social-care",
    "Adult social care",
    "Help me live the life I want, at home and safely, without telling my story again",
    "SC",
    value=(
        DemandType(
            "I need help at home",
            14,
            (
                "I'm struggling to manage at home since my fall.",
                "My dad can't get washed and dressed on his own any more.",
                "I need some help with shopping and getting to appointments.",
            ),
            ("staying at home", "doing things for myself", "telling my story once"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "my mum is coming out of hospital",
            8,
            (
                "Mum is being discharged on {weekday} and she can't manage the stairs.",
                "The ward says my husband can come home if there's support in place.",
            ),
            ("getting home", "staying at home", "knowing who to call"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "can we have equipment to help",
            5,
            (
                "Could we get a rail by the front door? She keeps losing her balance.",
                "He needs a bath seat, who do I ask?",
            ),
            ("doing things for myself", "staying safe"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "my carer needs a break",
            3,
            (
                "I look after my wife full time and I'm exhausted.",
                "I care for my son and I need a break, even a few hours.",
            ),
            ("someone listening", "a break"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "information about support in my area",
            10,
            ("Are there any lunch clubs near {street}?", "What support is there for people with dementia round here?"),
            ("knowing what's out there",),
            one_stop=0.8,
        ),
    ),
    failure=(
        DemandType(
            "when will someone come and see me?",
            16,
            (
                "I was told someone would ring me {weeks} weeks ago and I've heard nothing.",
                "When is the assessment? Mum is struggling every day.",
                "I'm ringing again, is anyone going to come out?",
            ),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.3,
        ),
        DemandType(
            "I've already told you all this",
            7,
            (
                "This is the third person I've told the whole story to.",
                "Another assessment? The OT asked all this last week.",
                "Why does every new worker ask the same questions?",
            ),
            ("telling my story once",),
            "not done right",
            one_stop=0.1,
        ),
        DemandType(
            "the care didn't arrive",
            6,
            (
                "The carer didn't come this morning and Dad hasn't had his tablets.",
                "Nobody came to put Mum to bed last night.",
            ),
            ("staying safe", "being kept informed"),
            "not done",
            one_stop=0.2,
        ),
        DemandType(
            "I was sent to the wrong team",
            6,
            (
                "The hospital told me to ring you, you told me to ring the GP.",
                "I've been passed from the duty team to the locality team and back.",
            ),
            ("one place to ask", "knowing who to call"),
            "wrong place",
            one_stop=0.2,
        ),
        DemandType(
            "I don't understand the assessment letter",
            4,
            (
                "I got a letter about a 'financial assessment', what does it mean?",
                "The letter says the case is closed, but nothing has been done.",
            ),
            ("clear information",),
            "not understood",
            one_stop=0.5,
        ),
        DemandType(
            "complaint about the delay",
            3,
            (
                "I want to complain, Mum has been waiting {weeks} weeks for help.",
                "I'd like to make a formal complaint about how my father has been treated.",
            ),
            ("someone taking responsibility",),
            "complaint",
            one_stop=0.05,
        ),
    ),
    steps=(
        Step("Take referral", "contact", V, "Adult social care front door", wait=0.02, hours=0.4),
        Step("Screen referral", "check", W, "Duty team", wait=3, hours=0.5, keep_worker=True),
        Step("Pass to locality team", "hand-off", W, "Duty team", wait=3, hours=0.2, keep_worker=True),
        Step("Waiting list review", "waiting", W, "Locality team", p=0.7, wait=8, hours=0.2),
        Step(
            "Care Act assessment",
            "assessment",
            V,
            "Locality team",
            wait=4,
            hours=3.2,
            f2f=0.7,
            loop=1,
            repeat=0.2,
            keep_worker=True,
        ),
        Step(
            "Occupational therapy assessment",
            "assessment",
            W,
            "Occupational therapy",
            p=0.55,
            wait=8,
            hours=2.2,
            f2f=0.65,
        ),
        Step("Refer to reablement", "referral", W, "Locality team", p=0.65, wait=2, hours=0.5, keep_worker=True),
        Step("Reablement assessment", "assessment", W, "Reablement", p=None, wait=6, hours=1.8, f2f=0.65),
        Step("Refer to health partner", "referral", W, "Locality team", p=0.4, wait=2, hours=0.5, keep_worker=True),
        Step("Financial assessment", "assessment", W, "Financial assessment team", p=0.6, wait=8, hours=1.4),
        Step("Funding panel", "check", W, "Funding panel", p=0.65, wait=7, hours=1.0),
        Step("Arrange support", "delivery", V, "Brokerage", wait=5, hours=2.0, f2f=0.3),
        Step("Review support", "assessment", V, "Locality team", p=0.5, wait=8, hours=1.4, f2f=0.75, keep_worker=True),
    ),
    experiment_steps=(
        Step("Take referral", "contact", V, "Adult social care front door", wait=0.02, hours=0.4),
        Step(
            "Conversation at home about what matters",
            "assessment",
            V,
            EXPERIMENT_TEAM,
            wait=2,
            hours=4.2,
            f2f=0.95,
            keep_worker=True,
        ),
        Step("Arrange support", "delivery", V, EXPERIMENT_TEAM, wait=2, hours=3.8, f2f=0.45, keep_worker=True),
        Step(
            "Occupational therapy assessment",
            "assessment",
            W,
            EXPERIMENT_TEAM,
            p=0.22,
            wait=2,
            hours=1.2,
            f2f=0.9,
            keep_worker=True,
        ),
        Step("Refer to health partner", "referral", W, EXPERIMENT_TEAM, p=0.6, wait=1, hours=0.4, keep_worker=True),
        Step("Financial assessment", "assessment", W, "Financial assessment team", p=0.3, wait=4, hours=1.0),
        Step("Check in with the citizen", "delivery", V, EXPERIMENT_TEAM, wait=6, hours=2.2, f2f=0.5, keep_worker=True),
    ),
    teams={
        "Adult social care front door": 10,
        "Duty team": 6,
        "Locality team": 14,
        "Occupational therapy": 5,
        "Reablement": 8,
        "Financial assessment team": 4,
        "Funding panel": 3,
        "Brokerage": 4,
        EXPERIMENT_TEAM: 5,
    },
    season=(1.3, 1.2, 1.05, 0.95, 0.9, 0.85, 0.85, 0.85, 0.95, 1.0, 1.1, 1.25),
    e2e_target=None,
)

PLANNING = ServiceDef(
    "planning",
    "Planning",
    "Give me a decision I understand on what I want to build, quickly",
    "PL",
    value=(
        DemandType(
            "submit a planning application",
            10,
            (
                "I'd like to put in an application for a rear extension.",
                "Here are our plans for a loft conversion at {street}.",
            ),
            ("a quick decision", "clear advice"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "do I need planning permission?",
            12,
            ("Do I need permission for a fence over two metres?", "Can I put a garden office up without planning?"),
            ("clear advice",),
            one_stop=0.7,
        ),
        DemandType(
            "pre-application advice",
            5,
            ("Can someone look at our drawings before we apply?", "We'd like advice on converting the garage."),
            ("clear advice",),
            one_stop=0.4,
        ),
        DemandType(
            "comment on an application",
            6,
            (
                "I want to object to the application next door on {street}.",
                "I'd like to support the plans for the community centre.",
            ),
            ("being heard",),
            one_stop=0.9,
        ),
    ),
    failure=(
        DemandType(
            "what's happening with my application?",
            16,
            (
                "We applied {weeks} weeks ago, what's happening?",
                "The builder is waiting to start, has a decision been made?",
                "Nobody has replied to my emails about the application.",
            ),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.3,
        ),
        DemandType(
            "you've asked for information I already sent",
            6,
            (
                "You've asked for the site plan again, I sent it with the application.",
                "Why do you need the drawings again?",
            ),
            ("getting it right first time",),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "my application was returned as invalid",
            7,
            (
                "My application has come back invalid and I don't understand why.",
                "What does 'not validated' mean? I filled in everything.",
            ),
            ("clear advice", "clear information"),
            "not understood",
            one_stop=0.3,
        ),
        DemandType(
            "passed between planning and building control",
            4,
            ("Building control said ask planning, planning said ask building control.",),
            ("one place to ask",),
            "wrong place",
            one_stop=0.2,
        ),
        DemandType(
            "complaint about the decision",
            3,
            (
                "I want to complain about how long the decision took.",
                "I'm unhappy with how my application was handled.",
            ),
            ("someone taking responsibility",),
            "complaint",
            one_stop=0.05,
        ),
    ),
    steps=(
        Step("Receive application", "contact", V, "Planning support", wait=0.05, hours=0.3),
        Step("Validate application", "check", W, "Planning support", wait=5, hours=0.6),
        Step(
            "Request missing information", "rework", W, "Planning support", p=0.5, wait=1, hours=0.3, loop=1, repeat=0.3
        ),
        Step("Wait for information", "waiting", W, "Planning support", p=None, wait=9, hours=0.05, loop=1),
        Step("Allocate to officer", "hand-off", W, "Development management", wait=4, hours=0.1),
        Step("Consultation period", "waiting", W, "Development management", wait=15, hours=0.5),
        Step(
            "Site visit", "assessment", V, "Development management", p=0.8, wait=3, hours=1.5, f2f=0.7, keep_worker=True
        ),
        Step("Write officer report", "decision", V, "Development management", wait=5, hours=3.0, keep_worker=True),
        Step("Manager sign-off", "check", W, "Planning managers", wait=4, hours=0.4),
        Step("Issue decision", "delivery", V, "Planning support", wait=1, hours=0.2),
    ),
    teams={"Planning support": 6, "Development management": 9, "Planning managers": 2},
    season=(0.8, 0.9, 1.1, 1.2, 1.2, 1.15, 1.05, 0.95, 1.0, 0.95, 0.9, 0.8),
    wanted_days=(42, 70),
    own_measures=(
        {
            "id": "right_first_time",
            "name": "Applications right first time (no rework step)",
            "unit": "%",
            "direction": "increase",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_step_of_category": "rework"}},
        },
    ),
)

PARKING = ServiceDef(
    "parking-permits",
    "Parking permits",
    "Let me park near my home without hassle",
    "PP",
    value=(
        DemandType(
            "apply for a residents' permit",
            9,
            (
                "I've moved to {street} and need a residents' parking permit.",
                "Can I apply for a permit for my second car?",
            ),
            ("easy to do", "parking near home"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "renew my permit",
            6,
            ("My permit runs out at the end of the month, how do I renew?", "I want to renew my residents' permit."),
            ("easy to do",),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "change the car on my permit",
            3,
            ("I've changed my car, can you update the permit?", "New registration for my permit please."),
            ("easy to do",),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "buy visitor permits",
            12,
            ("I need visitor permits for my mum this weekend.", "How do I buy visitor vouchers?"),
            ("easy to do",),
            one_stop=0.9,
        ),
        DemandType(
            "how much is a permit?",
            6,
            (
                "How much does a residents' permit cost for a second car?",
                "Is there a discount on the permit for an electric car?",
            ),
            ("clear information",),
            one_stop=0.95,
        ),
    ),
    failure=(
        DemandType(
            "where is my permit?",
            14,
            (
                "I applied {weeks} weeks ago and the permit hasn't come.",
                "Where's my permit? I've paid and I'm still getting tickets.",
            ),
            ("knowing when", "not having to chase"),
            "progress chasing",
            one_stop=0.4,
        ),
        DemandType(
            "I got a ticket but I have a permit",
            7,
            (
                "I got a parking ticket outside my own house and I've got a permit.",
                "The warden gave me a ticket even though the permit was on the dashboard.",
            ),
            ("being treated fairly",),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "I can't use the online form",
            6,
            (
                "The online form keeps rejecting my proof of address.",
                "I don't understand what documents you want for the permit.",
            ),
            ("easy to do", "clear information"),
            "not understood",
            one_stop=0.5,
        ),
        DemandType(
            "complaint about a penalty",
            3,
            ("I want to complain about the penalty charge, your system was wrong.",),
            ("someone taking responsibility",),
            "complaint",
            one_stop=0.05,
        ),
        DemandType(
            "I was sent to the wrong department",
            2,
            ("Highways said permits are nothing to do with them, who do I ask?",),
            ("one place to ask",),
            "wrong place",
            one_stop=0.3,
        ),
    ),
    steps=(
        Step("Receive application", "contact", V, "Parking services", wait=0.02, hours=0.15),
        Step("Check proof of address", "check", W, "Parking services", wait=1, hours=0.2),
        Step("Request evidence", "rework", W, "Parking services", p=0.35, wait=1, hours=0.15, loop=1, repeat=0.2),
        Step("Wait for evidence", "waiting", W, "Parking services", p=None, wait=4, hours=0.05, loop=1),
        Step("Approve permit", "decision", V, "Parking services", wait=1, hours=0.1),
        Step("Print and post permit", "delivery", V, "Permit fulfilment", wait=2, hours=0.1),
    ),
    teams={"Parking services": 7, "Permit fulfilment": 2},
    season=(1.1, 0.95, 0.95, 1.0, 0.95, 0.9, 0.85, 0.9, 1.25, 1.1, 1.0, 0.95),
    wanted_days=(3, 10),
    e2e_target=5,
)

BENEFITS = ServiceDef(
    "benefits",
    "Housing benefit and council tax support",
    "Get the right money to me quickly so I can pay my rent",
    "BN",
    value=(
        DemandType(
            "make a new claim",
            9,
            (
                "I've just lost my job and need help with my rent.",
                "I want to claim housing benefit, my hours have been cut.",
            ),
            ("money on time", "getting it right first time"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "report a change in circumstances",
            8,
            ("My wages have changed, I'm on fewer hours now.", "My daughter has moved out, do I need to tell you?"),
            ("getting it right first time",),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "help with a discretionary payment",
            3,
            ("I'm behind with the rent and the landlord is threatening eviction.",),
            ("keeping my home", "someone listening"),
            opens_case=True,
            one_stop=0.0,
        ),
        DemandType(
            "am I entitled to help?",
            14,
            (
                "I'm on a pension, can I get help with council tax?",
                "Could I get anything towards my rent? I work part time.",
            ),
            ("clear advice",),
            one_stop=0.8,
        ),
        DemandType(
            "help filling in the form",
            8,
            (
                "I don't read English well, can someone help me fill in the claim form?",
                "Can I come in and get help with the online form?",
            ),
            ("someone listening", "easy to do"),
            one_stop=0.7,
        ),
    ),
    failure=(
        DemandType(
            "has my claim been processed?",
            18,
            (
                "I sent my claim in {weeks} weeks ago and I haven't heard anything.",
                "Has my claim been done? My landlord keeps asking.",
                "I'm ringing for an update on my claim, it's been ages.",
            ),
            ("money on time", "not having to chase"),
            "progress chasing",
            one_stop=0.3,
        ),
        DemandType(
            "you've asked for documents I already sent",
            8,
            (
                "You've asked for my payslips again, I sent them last month.",
                "I brought my bank statements in on {weekday}, why are you asking again?",
            ),
            ("getting it right first time",),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "my payment is wrong",
            7,
            ("My benefit has gone down and nothing has changed.", "You've stopped my payment and I don't know why."),
            ("money on time", "being treated fairly"),
            "not done right",
            one_stop=0.2,
        ),
        DemandType(
            "I don't understand the decision letter",
            8,
            (
                "I can't make sense of the letter, am I getting money or not?",
                "The letter says overpayment, what does that mean?",
            ),
            ("clear information",),
            "not understood",
            one_stop=0.5,
        ),
        DemandType(
            "passed between the DWP and the council",
            5,
            ("The job centre told me to ring you and you're sending me back to them.",),
            ("one place to ask",),
            "wrong place",
            one_stop=0.2,
        ),
        DemandType(
            "complaint about my claim",
            2,
            ("I want to make a complaint, my claim has taken months.",),
            ("someone taking responsibility",),
            "complaint",
            one_stop=0.05,
        ),
    ),
    steps=(
        Step("Receive claim", "contact", V, "Benefits contact centre", wait=0.02, hours=0.3),
        Step("Scan documents", "hand-off", W, "Scanning team", wait=2, hours=0.1),
        Step("Request evidence", "rework", W, "Benefits assessors", p=0.6, wait=2, hours=0.2, loop=1, repeat=0.35),
        Step("Wait for evidence", "waiting", W, "Benefits assessors", p=None, wait=8, hours=0.05, loop=1),
        Step("Assess claim", "assessment", V, "Benefits assessors", wait=4, hours=1.0),
        Step("Quality check", "check", W, "Benefits quality team", p=0.3, wait=3, hours=0.3),
        Step("Decide claim", "decision", V, "Benefits assessors", wait=1, hours=0.3),
        Step("Pay award", "delivery", V, "Benefits payments", p=0.85, wait=2, hours=0.1),
        Step("Send decision letter", "delivery", V, "Benefits assessors", wait=1, hours=0.1),
    ),
    teams={
        "Benefits contact centre": 14,
        "Scanning team": 4,
        "Benefits assessors": 12,
        "Benefits quality team": 2,
        "Benefits payments": 3,
    },
    season=(1.15, 1.05, 1.0, 1.1, 0.95, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 0.95),
    e2e_target=20,
    own_measures=(
        {
            "id": "right_first_time",
            "name": "Claims right first time (no rework step)",
            "unit": "%",
            "direction": "increase",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_step_of_category": "rework"}},
        },
    ),
)


# ----------------------------------------------------------------------------------------------- a new service
HUB_TEAM = "Community hub team"


@dataclass(frozen=True)
class HubDemand:
    """One demand a new service takes: its type, its weight in each week since the start (the last one held) and its
    workflows, each ``(from, steps)``: a case follows the latest workflow that started on or before it opened."""

    demand: DemandType
    weekly: tuple[float, ...]
    workflows: tuple[tuple[str | None, tuple[Step, ...]], ...]


@dataclass(frozen=True)
class HubDef:
    """A new service built by experiment (the seed's hub): it opens on ``start`` with no old system before it, takes
    ``volume`` contacts a week (by week since the start, the last held), a share of them its own failure demand from
    each date in ``failure``, and keeps a learning log whose entries change its workflows."""

    start: str
    volume: tuple[float, ...]
    failure: tuple[tuple[str, float], ...]
    demands: tuple[HubDemand, ...]
    log: tuple[tuple[str, ...], ...]  #: date, tried, learned, condition, waste, who, status, changed_at, demand type


def _take_call() -> Step:
    return Step("Take the call", "contact", V, HUB_TEAM, wait=0.02, hours=0.3, keep_worker=True)


_PACK = Step("Pack a food parcel", "delivery", V, "Food bank volunteers", wait=1.0, hours=0.5)
_DELIVER = Step("Deliver the food parcel", "delivery", V, "Volunteer drivers", wait=0.8, hours=0.6, f2f=0.9)
_PHARMACY = Step("Ring the pharmacy", "other", V, HUB_TEAM, wait=0.2, hours=0.2, keep_worker=True)
_COLLECT = Step(
    "Collect and deliver the prescription", "delivery", V, "Volunteer drivers", wait=1.0, hours=0.8, f2f=0.8
)
_CHECK_IN = Step("Check in with the citizen", "delivery", V, HUB_TEAM, wait=2.5, hours=0.3, f2f=0.3, keep_worker=True)

HUB_FOOD = HubDemand(
    DemandType(
        "I need a food parcel",
        1,
        (
            "I'm isolating and there's no food in the house.",
            "Can someone bring me some shopping? I can't get out.",
            "My neighbour on {street} has no food, can you help her?",
        ),
        ("food today", "not having to explain twice"),
        opens_case=True,
        one_stop=0.05,
    ),
    (1.0, 0.9, 0.75, 0.6, 0.55, 0.5),
    (
        (
            None,
            (
                _take_call(),
                Step("Check eligibility for a food parcel", "check", W, "Eligibility checks", wait=1.5, hours=0.4),
                Step(
                    "Pass to the food bank", "hand-off", W, "Eligibility checks", wait=0.3, hours=0.2, keep_worker=True
                ),
                _PACK,
                _DELIVER,
            ),
        ),
        (
            "2024-11-18",
            (_take_call(), Step(_PACK.activity, _PACK.category, V, _PACK.team, wait=0.6, hours=0.5), _DELIVER),
        ),
        (
            "2024-12-16",
            (
                _take_call(),
                Step(
                    "Agree the delivery day on the call",
                    "decision",
                    V,
                    HUB_TEAM,
                    wait=0.02,
                    hours=0.1,
                    keep_worker=True,
                ),
                Step(_PACK.activity, _PACK.category, V, _PACK.team, wait=0.6, hours=0.5),
                _DELIVER,
            ),
        ),
    ),
)
HUB_PRESCRIPTIONS = HubDemand(
    DemandType(
        "I need my prescription collected",
        1,
        (
            "My prescription is ready at the chemist but I can't get there.",
            "Can a volunteer pick up my tablets from the pharmacy?",
        ),
        ("my medicine on time",),
        opens_case=True,
        one_stop=0.05,
    ),
    (0.25, 0.45, 0.5, 0.5, 0.45, 0.4),
    (
        (
            None,
            (
                _take_call(),
                _PHARMACY,
                Step("Pass to the driver coordinator", "hand-off", W, HUB_TEAM, wait=0.3, hours=0.1, keep_worker=True),
                Step("Allocate a volunteer driver", "other", W, "Driver coordination", wait=1.0, hours=0.2),
                _COLLECT,
            ),
        ),
        (
            "2025-01-13",
            (
                _take_call(),
                _PHARMACY,
                Step(_COLLECT.activity, "delivery", V, _COLLECT.team, wait=0.7, hours=0.8, f2f=0.8),
            ),
        ),
    ),
)
HUB_EMERGENCY = HubDemand(
    DemandType(
        "I need emergency support",
        1,
        (
            "The electric's run out and I've no money for the meter.",
            "My heating's broken and I'm on my own with the baby.",
            "I've been told to leave my flat on {street} tonight.",
        ),
        ("help today", "someone to talk to"),
        opens_case=True,
        one_stop=0.05,
    ),
    (0.0, 0.08, 0.2, 0.3, 0.35, 0.35),
    (
        (
            None,
            (
                _take_call(),
                Step("Refer to the welfare team", "referral", W, HUB_TEAM, wait=0.2, hours=0.3, keep_worker=True),
                Step("Welfare needs assessment", "assessment", W, "Welfare team", wait=3.0, hours=1.5, f2f=0.5),
                Step("Arrange emergency support", "delivery", V, "Welfare team", wait=1.5, hours=1.0, keep_worker=True),
            ),
        ),
        (
            "2024-12-09",
            (
                _take_call(),
                Step(
                    "Agree support with a manager on the call",
                    "decision",
                    V,
                    HUB_TEAM,
                    wait=0.05,
                    hours=0.3,
                    keep_worker=True,
                ),
                Step("Arrange emergency support", "delivery", V, HUB_TEAM, wait=0.3, hours=1.0, keep_worker=True),
                _CHECK_IN,
            ),
        ),
    ),
)
HUB_OTHER = HubDemand(
    DemandType(
        "something else I need help with",
        1,
        (
            "Can someone help me fill in a form?",
            "My dog needs walking while I'm ill.",
            "I'm lonely and haven't spoken to anyone for a week.",
        ),
        ("someone who listens",),
        opens_case=True,
        one_stop=0.1,
    ),
    (0.0, 0.0, 0.06, 0.12, 0.15, 0.18),
    (
        (
            None,
            (
                _take_call(),
                Step("Find the right help", "delivery", V, HUB_TEAM, wait=1.0, hours=0.8, keep_worker=True),
                _CHECK_IN,
            ),
        ),
    ),
)

HUB_LOG = (
    (
        "2024-11-04",
        "Took every kind of demand in one room; whoever answered kept the case",
        "People ask for help, not for a department",
        "Structure: each department takes only its own demand and passes the rest on",
        "Calls passed between departments and people asked to ring again",
        "Chief Executive",
        "designed out",
        "",
        "",
    ),
    (
        "2024-11-18",
        "Stopped checking eligibility before a food parcel",
        "Everyone who asked for food needed it; the check added two days and a hand-off",
        "Rule: proof of eligibility before a food parcel",
        "Two days waiting, a hand-off and calls chasing the parcel",
        "Head of Community Services",
        "designed out",
        "2024-11-18",
        "I need a food parcel",
    ),
    (
        "2024-12-09",
        "Agreed emergency support on the call, with a manager on the phone",
        "The welfare assessment changed nothing we decided",
        "Procedure: emergency support only after a welfare needs assessment",
        "A referral, an assessment and five days waiting in a crisis",
        "Head of Welfare",
        "designed out",
        "2024-12-09",
        "I need emergency support",
    ),
    (
        "2024-12-16",
        "Agreed the delivery day on the first call",
        "Chasing a food parcel stopped when people knew the day it would come",
        "",
        "",
        "",
        "",
        "",
        "I need a food parcel",
    ),
    (
        "2025-01-13",
        "The person who takes the call arranges the pick-up with the pharmacy and the driver",
        "Prescriptions got lost at the hand-off to the driver coordinator",
        "Structure: a separate coordinator allocates every volunteer driver",
        "A hand-off, a day's wait and prescriptions not delivered",
        "Voluntary Sector Manager",
        "designed out",
        "2025-01-13",
        "I need my prescription collected",
    ),
    (
        "2025-02-10",
        "Kept hub cases in a shared spreadsheet instead of the council's CRM",
        "The CRM cannot hold a case that belongs to no one department",
        "IT system: the CRM records a case only under one department",
        "Every case typed twice",
        "Head of Digital Services",
        "open",
        "",
        "",
    ),
)

COMMUNITY_HUB = ServiceDef(
    "community-hub",
    "Community support hub",
    "Get me what I need to stay safe and well at home, today",
    "CH",
    value=tuple(d.demand for d in (HUB_FOOD, HUB_PRESCRIPTIONS, HUB_EMERGENCY, HUB_OTHER)),
    failure=(
        DemandType(
            "where is my food parcel?",
            6,
            (
                "I rang on {weekday} for a food parcel and nothing has come.",
                "When is my food coming? I've got nothing in.",
            ),
            ("knowing when",),
            "progress chasing",
            one_stop=0.4,
        ),
        DemandType(
            "my prescription hasn't come",
            4,
            ("The volunteer never came with my tablets.", "I was told my prescription would come yesterday."),
            ("my medicine on time",),
            "not done",
            one_stop=0.2,
        ),
        DemandType(
            "nobody called me back",
            3,
            ("Someone said they'd ring me back about the electric and nobody has.",),
            ("someone taking responsibility",),
            "progress chasing",
            one_stop=0.3,
        ),
    ),
    steps=(),
    teams={
        HUB_TEAM: 6,
        "Eligibility checks": 2,
        "Food bank volunteers": 4,
        "Volunteer drivers": 6,
        "Driver coordination": 1,
        "Welfare team": 3,
    },
    season=_FLAT,
    own_measures=(
        {
            "id": "helped_without_referral",
            "name": "Needs met without a referral on",
            "unit": "%",
            "direction": "increase",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_step_of_category": "referral"}},
        },
        {
            "id": "no_repeat_contact",
            "name": "Cases with no repeat contact within 14 days of closing",
            "unit": "%",
            "direction": "increase",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_contact_within_days": 14}},
        },
    ),
    hub=HubDef(
        start="2024-11-04",
        volume=(70, 120, 170, 210, 240, 260, 270),
        failure=(("2024-11-04", 0.2), ("2024-11-18", 0.14), ("2024-12-16", 0.08), ("2025-01-13", 0.06)),
        demands=(HUB_FOOD, HUB_PRESCRIPTIONS, HUB_EMERGENCY, HUB_OTHER),
        log=HUB_LOG,
    ),
)


@dataclass(frozen=True)
class Change:
    """A change in the system from ``date``: each failure type in ``keep`` keeps only that share of its demand;
    with ``experiment`` the service's cases from then on follow its experiment flow."""

    date: str
    label: str
    keep: dict[str, float] = field(default_factory=dict)
    experiment: str | None = None  #: the experiment team's name
    targets: tuple[str, ...] = ()  #: the demand types or steps the change is meant to affect (council.yaml)


@dataclass(frozen=True)
class ServicePlan:
    """How one council runs one service: volume, failure demand and channels differ by council."""

    service: ServiceDef
    contacts: int  #: contacts a year (52 weeks) before any change
    failure_pct: float  #: share of classified contacts that are failure demand before any change
    channels: dict[str, float]
    changes: tuple[Change, ...] = ()
    #: learning-log entries of a team outside an experiment (date, what we tried, ... as ``NORTHSHIRE_LOG``)
    log: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class CouncilPlan:
    slug: str
    name: str
    services: tuple[ServicePlan, ...]
    streets: tuple[str, ...]
    learning_log: tuple[tuple[str, ...], ...] = ()
    rules: bool = False  #: the council classifies imported, unclassified demand by rule (``rules.csv``)


_PHONE_HEAVY = {"phone": 0.55, "email": 0.15, "web": 0.18, "face to face": 0.06, "letter": 0.04, "app": 0.02}
_DIGITAL = {"phone": 0.38, "email": 0.14, "web": 0.36, "face to face": 0.03, "letter": 0.02, "app": 0.07}
_CARE = {"phone": 0.62, "email": 0.2, "web": 0.06, "face to face": 0.07, "letter": 0.05}

SOCIAL_CARE_EXPERIMENT = Change(
    "2024-07-01",
    "Experiment team started in adult social care",
    # the failure demand the team's cases no longer cause, on the share of cases it takes
    keep={
        k: round(1 - EXPERIMENT_SHARE * (1 - v), 3)
        for k, v in {
            "progress chasing": 0.3,
            "not done right": 0.25,
            "wrong place": 0.3,
            "not done": 0.6,
            "not understood": 0.7,
            "complaint": 0.5,
        }.items()
    },
    experiment=EXPERIMENT_TEAM,
)
PLAIN_LETTERS = Change(
    "2024-09-02",
    "Council tax letters rewritten in plain English",
    keep={"not understood": 0.35},
    targets=("I don't understand my bill",),
)

#: Northshire's council tax team tried something two weeks before its end-to-end time shifts down (the data carry
#: no effect of it: the shift is the sample's own): the measure report offers it as a new phase for a person to
#: accept (``analysis.rebase``), and it is a marker on the service's charts.
NORTHSHIRE_COUNCIL_TAX_LOG = (
    (
        "2024-07-22",
        "Answered questions about a bill on the first call instead of booking a call-back from the revenues team",
        "Most questions about a bill needed the account open, not a specialist",
        "",
        "",
        "",
        "",
    ),
)

NORTHSHIRE_LOG = (
    # date, what we tried, what we learned, system condition, waste caused, who can change it, status
    (
        "2024-07-03",
        "Went to see people at home on the first day instead of screening the referral",
        "Most people need a conversation, not a screening form; we knew what mattered in one visit",
        "Procedure: every referral is screened by the duty team before anyone visits",
        "A hand-off, a queue and 3 working days before anyone meets the person",
        "Head of Adult Social Care",
        "changed",
    ),
    (
        "2024-07-10",
        "Arranged a grab rail ourselves on the visit",
        "Simple equipment does not need an occupational therapist",
        "Rule: equipment over 50 pounds needs an OT assessment",
        "A second assessment and 12 days waiting",
        "Principal Occupational Therapist",
        "changed",
    ),
    (
        "2024-07-17",
        "Kept the same worker with the person from first visit to support in place",
        "People stopped ringing to chase when they had one name and number",
        "Structure: duty, locality and review teams each own a slice of the case",
        "Three or more people involved and the story told again each time",
        "Director of Adult Services",
        "in hand",
    ),
    (
        "2024-07-29",
        "Agreed support on the spot with a manager on the phone",
        "The funding panel approved every package we brought; it added a week and no value",
        "Procedure: every package goes to the weekly funding panel",
        "7 to 10 days waiting for a decision",
        "Head of Adult Social Care",
        "in hand",
    ),
    (
        "2024-08-07",
        "Asked the GP practice directly instead of referring to the health partner",
        "A phone call to the practice nurse replaced most referrals",
        "Rule: health needs must go through the single point of access referral form",
        "Referrals that bounce back and weeks waiting",
        "Integrated Care Board commissioning lead",
        "open",
    ),
    (
        "2024-08-21",
        "Stopped the financial assessment for people clearly under the threshold",
        "Half the financial assessments changed nothing for the citizen",
        "Rule: a full financial assessment before any support starts",
        "A form, a visit and a letter that people do not understand",
        "Head of Finance",
        "in hand",
    ),
    (
        "2024-09-04",
        "Recorded the conversation in the person's own words",
        "The case system forces the Care Act assessment form even when it is not needed",
        "IT system: mandatory assessment screens in the case management system",
        "Two hours of typing per case, time away from people",
        "Head of Digital Services",
        "open",
    ),
    (
        "2024-09-25",
        "Counted how often the people we helped came back",
        "Almost nobody came back; in the old system most demand returned",
        "Target: cases closed within 28 days",
        "Cases closed early and reopened as new referrals",
        "Assistant Director of Performance",
        "open",
    ),
    (
        "2024-10-16",
        "Joined the hospital discharge meeting on the ward",
        "We could plan going home with the person before they left",
        "Structure: discharge handled by a separate hospital social work team",
        "A hand-off at the hospital door and a second assessment at home",
        "Director of Adult Services",
        "parked",
    ),
    (
        "2024-11-13",
        "Took on cases from a second GP patch",
        "The way of working holds with more cases if the team keeps its delegated decisions",
        "Procedure: experiment team decisions must be countersigned by a team manager",
        "A day's wait on every decision",
        "Head of Adult Social Care",
        "changed",
    ),
)

COUNCILS = (
    CouncilPlan(
        "northshire",
        "Northshire Council",
        (
            ServicePlan(HOUSING_REPAIRS, 4800, 0.45, _PHONE_HEAVY),
            ServicePlan(COUNCIL_TAX, 8000, 0.52, _DIGITAL, log=NORTHSHIRE_COUNCIL_TAX_LOG),
            ServicePlan(WASTE, 8000, 0.58, _DIGITAL),
            ServicePlan(SOCIAL_CARE, 4800, 0.66, _CARE, (SOCIAL_CARE_EXPERIMENT,)),
            ServicePlan(BENEFITS, 6000, 0.55, _PHONE_HEAVY),
        ),
        ("Mill Lane", "Station Road", "Church Street", "Beacon Way", "Hollins Close", "Moorside Avenue"),
        NORTHSHIRE_LOG,
    ),
    CouncilPlan(
        "eastbrook",
        "Eastbrook Borough Council",
        (
            ServicePlan(COUNCIL_TAX, 9000, 0.6, _PHONE_HEAVY, (PLAIN_LETTERS,)),
            ServicePlan(WASTE, 6000, 0.42, _DIGITAL),
            ServicePlan(PLANNING, 4200, 0.5, _DIGITAL),
            ServicePlan(PARKING, 4000, 0.38, _DIGITAL),
        ),
        ("Brook Street", "Eastgate", "Willow Road", "Marsh Lane", "Abbey Close", "Kingfisher Drive"),
        rules=True,
    ),
    CouncilPlan(
        "westmere",
        "Westmere City Council",
        (
            ServicePlan(HOUSING_REPAIRS, 7000, 0.62, _PHONE_HEAVY),
            ServicePlan(BENEFITS, 5500, 0.48, _DIGITAL),
            ServicePlan(PARKING, 4500, 0.44, _PHONE_HEAVY),
            # a new service built by experiment from 4 November 2024: its volume and mix come from its HubDef
            ServicePlan(COMMUNITY_HUB, 0, 0.0, {"phone": 0.72, "web": 0.12, "email": 0.1, "face to face": 0.06}),
        ),
        ("Harbour Road", "Quay Street", "Cathedral Walk", "Tanners Row", "Westgate", "Lakeside Drive"),
    ),
)


# ------------------------------------------------------------------------------------------------ generation
_WEEKDAY = np.array([1.35, 1.15, 1.05, 1.0, 0.9, 0.3, 0.2])  #: Monday first: the Monday peak councils know
_OFFICE = ("phone", "face to face", "letter")  #: closed at weekends and on bank holidays
#: failure demand is likelier on some channels: phone and face to face carry the chasing, web the least
_FAIL_BY_CHANNEL = {"phone": 1.3, "face to face": 1.15, "letter": 1.1, "email": 0.95, "web": 0.6, "app": 0.6}
_CHASE_BY_CHANNEL = {"phone": 1.7, "face to face": 1.2, "letter": 0.7, "email": 1.0, "web": 0.5, "app": 0.5}
_UNCLEAR_BY_CHANNEL = {"letter": 1.8, "email": 1.3, "face to face": 1.2}
_OPENERS = ("", "", "", "", "Hello. ", "Hi there. ", "Sorry to bother you. ", "Good morning. ")
_CLOSERS = ("", "", "", "", " Thanks.", " Please can someone call me back.", " I'd be grateful for some help.")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_FIRST = ("jane", "sam", "priya", "tom", "aisha", "gareth", "mei", "olu")
_LAST = ("doe", "smith", "patel", "jones", "khan", "evans", "chen", "adeyemi")
_POSTCODES = ("SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB")
UNCLASSIFIED_SHARE = 0.025
EMPTY_VERBATIM_SHARE = 0.003
PERSONAL_DETAILS_SHARE = 0.012
STALLED_SHARE = 0.004  #: cases that stop part-way and are never closed


def _daily_rates(plan: ServicePlan) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Expected contacts per day: weekday pattern x smooth seasonality, scaled to the yearly volume."""
    days = pd.date_range(START.normalize(), END.normalize(), freq="D")
    closed = np.isin(days.values.astype("datetime64[D]"), HOLIDAYS)
    weekday = np.where(closed, _WEEKDAY[6], _WEEKDAY[days.day_of_week])
    mid_month = np.arange(12) * 30.44 + 15
    season = np.interp(
        days.day_of_year.to_numpy(),
        np.r_[mid_month - 365.25, mid_month, mid_month + 365.25],
        np.tile(plan.service.season, 3),
    )
    rate = weekday * season
    return days, rate * plan.contacts * (len(days) / 364) / rate.sum()


def _choose(rng, n: int, weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _nhs_numbers(rng, n: int) -> list[str]:
    """Made-up NHS numbers with a valid check digit (so a redactor that checks the digit still finds them)."""
    out: list[str] = []
    while len(out) < n:
        digits = np.r_[9, rng.integers(0, 10, 8)]
        check = 11 - int((digits * np.arange(10, 1, -1)).sum()) % 11
        check = 0 if check == 11 else check
        if check == 10:
            continue
        s = "".join(map(str, digits)) + str(check)
        out.append(f"{s[:3]} {s[3:6]} {s[6:]}")
    return out


def _contacts(plan: ServicePlan, streets, rng) -> pd.DataFrame:
    """One service's contacts over the period: when, channel, demand type (value or failure) and the verbatim."""
    svc = plan.service
    days, rate = _daily_rates(plan)
    counts = rng.poisson(rate)
    n = int(counts.sum())
    day = np.repeat(days.values, counts)
    closed_day = np.repeat((days.day_of_week >= 5) | np.isin(days.values.astype("datetime64[D]"), HOLIDAYS), counts)

    names = list(plan.channels)
    share = np.array([plan.channels[c] for c in names])
    digital = np.array([c not in _OFFICE for c in names])
    channel = np.empty(n, dtype=object)
    channel[~closed_day] = np.array(names, dtype=object)[_choose(rng, int((~closed_day).sum()), share)]
    channel[closed_day] = np.array(names, dtype=object)[_choose(rng, int(closed_day.sum()), share * digital)]
    office = np.isin(channel, _OFFICE)
    minutes = np.where(office, 510 + rng.beta(1.6, 2.6, n) * 540, 360 + rng.beta(2.0, 2.0, n) * 1020)
    received = day + (minutes.astype(int) * 60_000_000_000).astype("timedelta64[ns]")

    # failure demand: the service's share overall, more of it on phone and face to face than on the web
    mult = np.array([_FAIL_BY_CHANNEL.get(c, 1.0) for c in channel])
    failure = rng.random(n) < np.clip(plan.failure_pct * mult / mult.mean(), 0, 0.92)
    types = svc.value + svc.failure
    kind = np.empty(n, dtype=int)
    kind[~failure] = _choose(rng, int((~failure).sum()), [t.weight for t in svc.value])
    for c in names:  # what fails depends on the channel: phone carries the chasing, letters the confusion
        rows = failure & (channel == c)
        w = [
            t.weight
            * (_CHASE_BY_CHANNEL.get(c, 1.0) if t.failure_type == "progress chasing" else 1.0)
            * (_UNCLEAR_BY_CHANNEL.get(c, 1.0) if t.failure_type == "not understood" else 1.0)
            for t in svc.failure
        ]
        kind[rows] = len(svc.value) + _choose(rng, int(rows.sum()), w)

    keep = np.ones(n, dtype=bool)
    for change in plan.changes:  # failure demand the old system caused falls away after a change
        factor = np.array(
            [change.keep.get(t.phrase, change.keep.get(t.failure_type, 1.0)) if t.failure_type else 1.0 for t in types]
        )
        after = received >= np.datetime64(pd.Timestamp(change.date))
        keep &= ~after | (rng.random(n) < factor[kind])
    frame = pd.DataFrame({"received_at": received, "channel": channel, "kind": kind})[keep]
    frame = frame.sort_values("received_at", kind="stable").reset_index(drop=True)
    return _words(frame, types, streets, svc, rng)


def _words(frame: pd.DataFrame, types, streets, svc: ServiceDef, rng) -> pd.DataFrame:
    """Demand type, classification, verbatim, what matters and one-stop for each contact."""
    n = len(frame)
    kind = frame["kind"].to_numpy()
    t = [types[k] for k in kind]
    frame["demand_type"] = [x.phrase for x in t]
    frame["failure_type"] = [x.failure_type or "" for x in t]
    frame["classification"] = np.where(frame["failure_type"].ne(""), "failure", "value")
    frame["opens_case"] = [x.opens_case for x in t]

    pick, weeks, day = rng.random(n), rng.integers(2, 9, n), rng.integers(2, 28, n)
    weekday, street = rng.integers(0, 5, n), rng.integers(0, len(streets), n)
    opener, closer = rng.integers(0, len(_OPENERS), n), rng.integers(0, len(_CLOSERS), n)
    text = [
        _OPENERS[o]
        + x.verbatims[int(p * len(x.verbatims))].format(weeks=w, day=d, weekday=_WEEKDAYS[wd], street=streets[s])
        + _CLOSERS[c]
        for x, p, w, d, wd, s, o, c in zip(t, pick, weeks, day, weekday, street, opener, closer)
    ]
    # a few citizens give personal details in passing: the reports must redact them
    personal = np.flatnonzero(rng.random(n) < PERSONAL_DETAILS_SHARE)
    form = rng.integers(0, 4, len(personal))
    nhs = _nhs_numbers(rng, len(personal))
    extra = rng.integers(0, 1000, len(personal))
    for i, (row, f) in enumerate(zip(personal, form)):
        if f == 0:
            text[row] += f" You can call me on 07700 900{extra[i]:03d}."
        elif f == 1:
            text[row] += f" My email is {_FIRST[extra[i] % 8]}.{_LAST[extra[i] // 8 % 8]}@example.com."
        elif f == 2:
            text[row] += f" I'm at {extra[i] % 90 + 1} {streets[extra[i] % len(streets)]}, {_POSTCODES[extra[i] % 6]}."
        elif svc.id == "health-social-care":
            text[row] += f" Mum's NHS number is {nhs[i]}."
        else:
            text[row] += f" My mobile is 07700 900{extra[i]:03d}, email {_FIRST[extra[i] % 8]}@example.com."
    verbatim = pd.Series(text, index=frame.index, dtype=object)
    verbatim[rng.random(n) < EMPTY_VERBATIM_SHARE] = ""  # a scanned letter nobody typed up
    frame["verbatim"] = verbatim

    matters = rng.random(n)
    frame["what_matters"] = [x.matters[int(m * len(x.matters))] for x, m in zip(t, matters)]
    frame.loc[rng.random(n) < 0.15, "what_matters"] = ""  # not always asked
    one_stop = rng.random(n) < np.array([x.one_stop for x in t])
    frame["one_stop"] = np.where(one_stop, "yes", "no")
    unclassified = rng.random(n) < UNCLASSIFIED_SHARE  # not yet classified by the team
    frame.loc[unclassified & ~frame["opens_case"], ["classification", "failure_type"]] = ""
    return frame


def _working_time(opened: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``offset`` working days (09:00-17:00, Monday to Friday, no bank holidays) after each ``opened`` time."""
    o = pd.DatetimeIndex(opened)
    d0 = o.values.astype("datetime64[D]")
    open_day = np.is_busday(d0, holidays=HOLIDAYS)
    frac0 = np.where(open_day, np.clip((o.hour + o.minute / 60 - 9) / 8, 0, 0.999), 0.0)
    base = np.busday_offset(d0, 0, roll="forward", holidays=HOLIDAYS)
    w = frac0 + offset
    days = np.busday_offset(base, np.floor(w).astype(int), roll="forward", holidays=HOLIDAYS)
    minutes = np.round(540 + (w - np.floor(w)) * 480).astype(int)
    return days.astype("datetime64[ns]") + (minutes * 60_000_000_000).astype("timedelta64[ns]")


def _flow(opened: np.ndarray, steps: tuple[Step, ...], rng) -> pd.DataFrame:
    """The steps each case goes through, vectorised over cases: rows (case, order, step index, offset days)."""
    n = len(opened)
    parts, order = [], 0
    i = 0
    while i < len(steps):
        block = [i]
        while steps[i].loop and i + len(block) < len(steps) and steps[i + len(block)].loop == steps[i].loop:
            block.append(i + len(block))
        first = steps[block[0]]
        passes = 1 + np.minimum(rng.geometric(1 - first.repeat, n) - 1, 3) if first.loop else np.ones(n, int)
        for rep in range(int(passes.max())):
            prev = passes > rep
            for j in block:
                s = steps[j]
                mask = prev if s.p is None else (passes > rep) & (rng.random(n) < s.p)
                parts.append((np.flatnonzero(mask), order, j))
                prev, order = mask, order + 1
        i += len(block)
    case = np.concatenate([p[0] for p in parts])
    seq = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    step = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    by = np.lexsort((seq, case))
    case, step = case[by], step[by]
    median = np.array([s.wait for s in steps])[step]
    wait = np.maximum(median * rng.lognormal(0, 0.55, len(step)), 0.01)
    first = np.r_[True, case[1:] != case[:-1]]
    wait[first] = np.minimum(wait[first], 0.1)  # the first step is handling the contact itself
    total = np.cumsum(wait)
    start_of_case = np.maximum.accumulate(np.where(first, np.arange(len(case)), 0))
    offset = total - total[start_of_case] + wait[start_of_case]
    return pd.DataFrame({"case": case, "step": step, "offset": offset})


def _events(
    cases: pd.DataFrame, steps: tuple[Step, ...], svc: ServiceDef, workers: dict[str, list[str]], rng
) -> pd.DataFrame:
    """Events for ``cases`` (all following ``steps``): who did each step, when, how long, face to face or not."""
    flow = _flow(cases["opened_at"].to_numpy(), steps, rng)
    case, step = flow["case"].to_numpy(), flow["step"].to_numpy()
    opened = cases["opened_at"].to_numpy()[case]
    stamp = _working_time(opened, flow["offset"].to_numpy())
    stamp = np.maximum(stamp, opened + np.timedelta64(1, "m"))
    team = np.array([s.team for s in steps], dtype=object)[step]
    own = rng.integers(0, 1000, len(cases))[case]  # the case's own worker in each team
    worker = np.empty(len(step), dtype=object)
    keep = np.array([s.keep_worker for s in steps])[step]
    for name in dict.fromkeys(team):
        pool = np.array(workers[name], dtype=object)
        rows = team == name
        pick = np.where(keep[rows], own[rows] % len(pool), rng.integers(0, len(pool), int(rows.sum())))
        worker[rows] = pool[pick]
    hours = np.round(np.maximum(np.array([s.hours for s in steps])[step] * rng.lognormal(0, 0.4, len(step)), 0.05), 2)
    f2f = rng.random(len(step)) < np.array([s.f2f for s in steps])[step]
    prev = np.r_[opened[:1], stamp[:-1]]
    prev = np.where(np.r_[True, case[1:] != case[:-1]], opened, prev)
    began = stamp - (hours * 3_600_000_000_000).astype("timedelta64[ns]")
    began = np.maximum(began, prev).astype("datetime64[m]").astype("datetime64[ns]")
    known = (hours >= 0.25) & (rng.random(len(step)) < 0.5)  # start times only where the system records them
    return pd.DataFrame(
        {
            "case": cases.index.to_numpy()[case],
            "order": np.arange(len(case)),
            "activity": np.array([s.activity for s in steps], dtype=object)[step],
            "timestamp": stamp.astype("datetime64[m]").astype("datetime64[ns]"),
            "start": pd.Series(began).where(known).to_numpy(),
            "worker": worker,
            "team": team,
            "hours": hours,
            "face_to_face": np.where(f2f, "yes", "no"),
        }
    )


def _worker_pools(plan: CouncilPlan) -> dict[str, list[str]]:
    """Worker ids (W101, W102, ...) per team, numbered across the council in a fixed order."""
    pools, next_id = {}, 101
    for sp in plan.services:
        for team, size in sp.service.teams.items():
            if team not in pools:
                pools[team] = [f"W{next_id + k}" for k in range(size)]
                next_id += size
    return pools


def _closed_at(cases: pd.DataFrame, events: pd.DataFrame, rng) -> tuple[pd.DataFrame, pd.Series]:
    """The data end on 30 March 2025: later steps have not happened yet, and a few cases stall part-way. Returns the
    events that happened and each case's close (its last step; NaT for a case still open)."""
    stalled = np.flatnonzero(rng.random(len(cases)) < STALLED_SHARE)
    position = events.groupby("case").cumcount().to_numpy()
    cut = pd.Series(3, index=stalled).reindex(events["case"].to_numpy()).to_numpy()
    happened = (events["timestamp"] <= END).to_numpy() & ~(position >= np.nan_to_num(cut, nan=1e9))
    unfinished = events.loc[~happened, "case"].unique()
    events = events[happened]
    closed = events.groupby("case")["timestamp"].max().reindex(cases.index)
    closed[cases.index.isin(unfinished)] = pd.NaT
    return events, closed


def _service(sp: ServicePlan, streets, pools, rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One service's contacts, cases and events."""
    svc = sp.service
    contacts = _contacts(sp, streets, rng)
    opening = contacts.index[contacts["opens_case"]]
    cases = pd.DataFrame({"opened_at": contacts.loc[opening, "received_at"].to_numpy()})
    cases["case_id"] = [f"{svc.prefix}-{k:05d}" for k in range(1, len(cases) + 1)]
    contacts["case_id"] = ""
    contacts.loc[opening, "case_id"] = cases["case_id"].to_numpy()
    experiment = next((c for c in sp.changes if c.experiment), None)
    after = (
        (cases["opened_at"] >= pd.Timestamp(experiment.date)).to_numpy() if experiment else np.zeros(len(cases), bool)
    )
    # alongside the old system: from the start, new cases are allocated at random to either way of working
    in_experiment = after & (rng.random(len(cases)) < EXPERIMENT_SHARE) if experiment else after
    events = pd.concat(
        [
            _events(cases[~in_experiment], svc.steps, svc, pools, rng),
            _events(cases[in_experiment], svc.experiment_steps, svc, pools, rng) if in_experiment.any() else None,
        ]
    ).sort_values(["case", "order"], kind="stable")
    events, cases["closed_at"] = _closed_at(cases, events, rng)
    cases["service"] = svc.id
    if svc.wanted_days:
        lo, hi = svc.wanted_days
        cases["wanted_by"] = cases["opened_at"].dt.normalize() + pd.to_timedelta(
            rng.integers(lo, hi + 1, len(cases)), unit="D"
        )
    else:
        cases["wanted_by"] = pd.NaT
    cases["cohort"], cases["demand_returns"] = "", ""
    if experiment:
        # baseline: the old system's cases over the same months; earlier cases are in neither cohort
        cases["cohort"] = np.where(in_experiment, "experiment", np.where(after, "baseline", ""))
        judged = in_experiment | (rng.random(len(cases)) < 0.7)  # the team judged most old cases too
        returns = rng.random(len(cases)) < np.where(in_experiment, 0.03, 0.71)
        cases["demand_returns"] = np.where(judged, np.where(returns, "yes", "no"), "")
    return contacts, cases, events


def _hub_contacts(sp: ServicePlan, streets, rng) -> pd.DataFrame:
    """A new service's contacts from its start: a volume that grows week by week, a mix of demand that shifts (each
    type's weight in each week since the start), and its own failure demand at a share that falls as it learns."""
    svc, hub = sp.service, sp.service.hub
    if hub is None:
        raise ValueError(f"{svc.id} is not a new service: it has no hub to plan")
    start = pd.Timestamp(hub.start)
    days = pd.date_range(start, END.normalize(), freq="D")
    week = np.asarray((days - start).days // 7)
    closed = np.isin(days.values.astype("datetime64[D]"), HOLIDAYS)
    weekday = np.where(closed, _WEEKDAY[6], _WEEKDAY[days.day_of_week])
    volume = np.array(hub.volume, dtype=float)[np.minimum(week, len(hub.volume) - 1)]
    counts = rng.poisson(volume / 7 * weekday / _WEEKDAY.mean())
    n = int(counts.sum())
    day, wk = np.repeat(days.values, counts), np.repeat(week, counts)
    names = list(sp.channels)
    channel = np.array(names, dtype=object)[_choose(rng, n, [sp.channels[c] for c in names])]
    minutes = 480 + rng.beta(1.6, 2.2, n) * 660  # 08:00 to 19:00: the hub answers into the evening
    received = day + (minutes.astype(int) * 60_000_000_000).astype("timedelta64[ns]")
    share = np.zeros(n)
    for since, value in hub.failure:
        share[received >= np.datetime64(pd.Timestamp(since))] = value
    failure = rng.random(n) < share
    kind = np.empty(n, dtype=int)
    for w in np.unique(wk):
        rows = ~failure & (wk == w)
        weights = [d.weekly[min(int(w), len(d.weekly) - 1)] for d in hub.demands]
        kind[rows] = _choose(rng, int(rows.sum()), weights)
    kind[failure] = len(svc.value) + _choose(rng, int(failure.sum()), [t.weight for t in svc.failure])
    frame = pd.DataFrame({"received_at": received, "channel": channel, "kind": kind})
    frame = frame.sort_values("received_at", kind="stable").reset_index(drop=True)
    return _words(frame, svc.value + svc.failure, streets, svc, rng)


def _hub_service(sp: ServicePlan, streets, pools, rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A new service's contacts, cases (every one the team's: cohort experiment) and events: each case follows the
    workflow of its demand type that was current when it opened."""
    svc, hub = sp.service, sp.service.hub
    if hub is None:
        raise ValueError(f"{svc.id} is not a new service: it has no hub to plan")
    contacts = _hub_contacts(sp, streets, rng)
    opening = contacts.index[contacts["opens_case"]]
    cases = pd.DataFrame({"opened_at": contacts.loc[opening, "received_at"].to_numpy()})
    cases["case_id"] = [f"{svc.prefix}-{k:05d}" for k in range(1, len(cases) + 1)]
    contacts["case_id"] = ""
    contacts.loc[opening, "case_id"] = cases["case_id"].to_numpy()
    types = contacts.loc[opening, "demand_type"].to_numpy()
    parts = []
    for d in hub.demands:
        for k, (since, steps) in enumerate(d.workflows):
            later = d.workflows[k + 1][0] if k + 1 < len(d.workflows) else None
            rows = (types == d.demand.phrase) & (cases["opened_at"] >= pd.Timestamp(since or hub.start)).to_numpy()
            if later is not None:
                rows &= (cases["opened_at"] < pd.Timestamp(later)).to_numpy()
            if rows.any():
                parts.append(_events(cases[rows], steps, svc, pools, rng))
    events = pd.concat(parts).sort_values(["case", "order"], kind="stable")
    events, cases["closed_at"] = _closed_at(cases, events, rng)
    cases["service"], cases["wanted_by"] = svc.id, pd.NaT
    cases["cohort"], cases["demand_returns"] = "experiment", ""
    return contacts, cases, events


def build_council(plan: CouncilPlan, *, seed: int = 2024, index: int = 0) -> dict[str, pd.DataFrame]:
    """Every table of one sample council as typed frames (``write_sample_councils`` formats and writes them). A new
    service's contacts follow the others' in demand.csv (its ids after theirs), so adding one to a council changes no
    other service's rows."""
    pools = _worker_pools(plan)
    demand_parts: list[pd.DataFrame] = []
    hub_parts: list[pd.DataFrame] = []
    case_parts: list[pd.DataFrame] = []
    event_parts: list[pd.DataFrame] = []
    for si, sp in enumerate(plan.services):
        svc = sp.service
        rng = np.random.default_rng([seed, index, si])
        build = _hub_service if svc.hub else _service
        contacts, cases, events = build(sp, plan.streets, pools, rng)
        contacts["service"], contacts["order"] = svc.id, si
        chase = link_contacts(contacts, cases, rng)  # chasing while open, repeats after closing
        contacts["case_id"] = contacts["case_id"].where(contacts["case_id"].ne(""), chase)
        events["case_id"] = cases["case_id"].to_numpy()[events["case"].to_numpy()]
        events["service"], events["svc_order"] = svc.id, si
        (hub_parts if svc.hub else demand_parts).append(contacts)
        case_parts.append(cases)
        event_parts.append(events)

    demand = pd.concat(
        [
            pd.concat(part).sort_values(["received_at", "order"], kind="stable")
            for part in (demand_parts, hub_parts)
            if part
        ]
    ).reset_index(drop=True)
    demand["contact_id"] = [f"C-{k:06d}" for k in range(1, len(demand) + 1)]
    cases = pd.concat(case_parts, ignore_index=True)
    events = pd.concat(event_parts).sort_values(["svc_order", "case", "order"], kind="stable")
    return {
        "demand": demand,
        "cases": cases,
        "events": events,
        "activities": _activities(plan),
        "rules": _rules() if plan.rules else None,
        "learning_log": _learning_log(plan),
        "system_conditions": _system_conditions(plan),
    }


def _activities(plan: CouncilPlan) -> pd.DataFrame:
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    for sp in plan.services:
        hub = sp.service.hub
        flows = [steps for d in hub.demands for _, steps in d.workflows] if hub else []
        for s in sp.service.steps + sp.service.experiment_steps + tuple(x for steps in flows for x in steps):
            rows.setdefault((sp.service.id, s.activity), (s.step_type, s.category))
    return pd.DataFrame(
        [(svc, act, st, cat) for (svc, act), (st, cat) in rows.items()],
        columns=["service", "activity", "step_type", "category"],
    )


def _rules() -> pd.DataFrame:
    """Classification rules for contacts nobody has classified yet (first match wins): the council's own failure
    demand types, words in the verbatim that signal failure, then its value demand types."""
    return pd.DataFrame(
        [
            (
                "",
                "demand_type",
                r"^when |what's happening|has my .* been|where is my|processed .* yet",
                "failure",
                "progress chasing",
            ),
            ("", "demand_type", r"^complaint", "failure", "complaint"),
            (
                "",
                "demand_type",
                r"wrong department|passed between|passed around|sent to the wrong|another number",
                "failure",
                "wrong place",
            ),
            (
                "",
                "demand_type",
                r"don't understand|can't use the online form|returned as invalid",
                "failure",
                "not understood",
            ),
            ("council-tax", "demand_type", r"bill wrong|already paid", "failure", "not done right"),
            (
                "",
                "demand_type",
                r"ticket but I have a permit|left rubbish|taken but not returned|already (?:told|sent)"
                r"|payment is wrong|didn't fix",
                "failure",
                "not done right",
            ),
            ("", "demand_type", r"wasn't collected|didn't (?:turn up|arrive)", "failure", "not done"),
            (
                "",
                "verbatim",
                r"still waiting|chasing|any update|heard nothing|nobody has been in touch",
                "failure",
                "progress chasing",
            ),
            (
                "",
                "verbatim",
                r"(?:didn't|did not|never) (?:turn up|come|arrive)|nobody came|missed my bin",
                "failure",
                "not done",
            ),
            ("", "verbatim", r"don't understand|what does .* mean|can't make sense", "failure", "not understood"),
            ("", "verbatim", r"complain", "failure", "complaint"),
            (
                "",
                "demand_type",
                r"^(?:I'm moving|I'm struggling|apply|set up|pay my|a copy|what band|order a|book a|"
                r"help with|what day|subscribe|submit|do I need|pre-application|comment on|renew|change the car|buy|how much)",
                "value",
                "",
            ),
        ],
        columns=["service", "column", "pattern", "classification", "failure_type"],
    )


_LOG_COLUMNS = [
    "date",
    "what_we_tried",
    "what_we_learned",
    "system_condition",
    "waste_caused",
    "who_can_change",
    "status",
]


def _learning_log(plan: CouncilPlan) -> pd.DataFrame | None:
    """The council's learning log: its experiment team's entries, then each new service's (with the date a condition
    was designed out and the demand type whose workflow the entry changed)."""
    parts = []
    service = next((sp.service.id for sp in plan.services if any(c.experiment for c in sp.changes)), None)
    if plan.learning_log and service is not None:
        frame = pd.DataFrame(plan.learning_log, columns=_LOG_COLUMNS)
        frame.insert(1, "service", service)
        parts.append(frame)
    for sp in plan.services:
        if sp.log:
            frame = pd.DataFrame(sp.log, columns=_LOG_COLUMNS)
            frame.insert(1, "service", sp.service.id)
            parts.append(frame)
        if sp.service.hub:
            frame = pd.DataFrame(sp.service.hub.log, columns=[*_LOG_COLUMNS, "changed_at", "demand_type"])
            frame.insert(1, "service", sp.service.id)
            parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else None


#: System conditions a sample council's team raised (Check step 5), by council: Westmere removed a pre-inspection
#: rule in repairs on 4 November 2024, so its capability charts show that phase (the data carry no effect of it).
SYSTEM_CONDITIONS = {
    "westmere": (
        (
            "SC-001",
            "housing-repairs",
            "2024-03-11",
            "flow",
            "Progress chasing while a job waits for a surveyor, and a second visit",
            "Rule: every job over 250 pounds waits for a surveyor's pre-inspection",
            "Surveyors must check spending or costs will run away",
            "Head of Repairs",
            "changed",
            "2024-11-04",
            "yes",
            "pre-inspection over 250 pounds removed",
        ),
        (
            "SC-002",
            "housing-repairs",
            "2024-03-11",
            "demand",
            "Repeat calls to book a second trade",
            "IT system: a job ticket can hold only one trade",
            "One job, one trade keeps contractor invoices simple",
            "Repairs systems manager",
            "open",
            "",
            "",
            "",
        ),
    )
}


def _system_conditions(plan: CouncilPlan) -> pd.DataFrame | None:
    rows = SYSTEM_CONDITIONS.get(plan.slug)
    return (
        None
        if not rows
        else pd.DataFrame(
            rows,
            columns=[
                "id",
                "service",
                "raised_at",
                "raised_in",
                "waste_seen",
                "system_condition",
                "thinking",
                "who_can_change",
                "status",
                "changed_at",
                "phase",
                "what_changed",
            ],
        )
    )


def council_yaml(plan: CouncilPlan) -> dict:
    """``council.yaml`` for a sample council: services, purposes, measures, experiment and system changes."""
    services, changes = [], []
    for sp in plan.services:
        svc = sp.service
        # no targets: a measure shows what the system predictably achieves (METHOD.md); a council sets one only
        # where the citizen's purpose gives it
        e2e = {"id": "end_to_end_days", "direction": "decrease"}
        measures = [
            e2e,
            {"id": "failure_demand_pct", "direction": "decrease"},
            {"id": "weekly_demand", "direction": "neutral"},
            {"id": "one_stop_pct", "direction": "increase"},
        ]
        if svc.wanted_days:
            measures.append({"id": "delivered_when_wanted_pct", "direction": "increase"})
        measures += [dict(m) for m in svc.own_measures]
        entry: dict[str, object] = {"id": svc.id, "name": svc.name, "purpose": svc.purpose, "measures": measures}
        for c in sp.changes:
            if c.experiment:
                entry["experiment"] = {
                    "start": dt.date.fromisoformat(c.date),
                    "team": c.experiment,
                    "description": "A small team takes new referrals end to end: one worker, a conversation at "
                    "home about what matters, and support arranged on the spot.",
                }
            change = {"date": dt.date.fromisoformat(c.date), "label": c.label, "services": [svc.id]}
            changes.append(change | ({"targets": list(c.targets)} if c.targets else {}))
        if svc.hub:  # built by experiment: no old system, so no change at its start to phase on
            entry["experiment"] = {
                "start": dt.date.fromisoformat(svc.hub.start),
                "team": HUB_TEAM,
                "design": "new service",
                "description": "Staff from several departments in one room take whatever demand comes and build a "
                "workflow for each as it arrives.",
            }
        services.append(entry)
    return {
        "name": plan.name,
        "services": services,
        "system_changes": sorted(changes, key=lambda c: (c["date"], c["label"])),
    }


def _csv(frame: pd.DataFrame, columns: list[str]) -> str:
    """Fixed formatting: dates to the minute, hours to 2 decimals, blanks empty, Unix newlines."""
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            fmt = "%Y-%m-%d" if col in ("wanted_by", "date") else "%Y-%m-%d %H:%M"
            out[col] = s.dt.strftime(fmt).fillna("")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.map("{:.2f}".format)
        else:
            out[col] = s.fillna("").astype(str)
    return out.to_csv(index=False, lineterminator="\n")


def write_sample_councils(out_dir=None, *, seed: int = 2024) -> list[Path]:
    """Write the three sample councils into ``out_dir`` (default ``data/councils``); returns their folders."""
    out = Path(out_dir) if out_dir is not None else config.COUNCILS_DIR
    return [write_council(plan, out / plan.slug, seed=seed, index=index) for index, plan in enumerate(COUNCILS)]


def write_council(plan: CouncilPlan, folder, *, seed: int = 2024, index: int = 0) -> Path:
    """Write one council of ``plan`` into ``folder`` (a sample council, or one a test builds from the sample's
    services and changes: the same seed and index give the same rows)."""
    from systemic_lib.data.contract import TABLES

    folder = Path(folder)
    tables = build_council(plan, seed=seed, index=index)
    for name, frame in tables.items():
        if frame is not None:
            columns = [c for c in TABLES[name].column_names if c in frame.columns]  # optional ones it has
            atomic_write_text(folder / f"{name}.csv", _csv(frame, columns))
        else:  # a table this council does not have, left by an older version of the generator
            (folder / f"{name}.csv").unlink(missing_ok=True)
    text = yaml.safe_dump(council_yaml(plan), sort_keys=False, allow_unicode=True, width=110)
    atomic_write_text(
        folder / "council.yaml", f"# {plan.name}: a fictional council (systemic sample data, seed {seed})\n" + text
    )
    return folder


def sample_files(plan: CouncilPlan) -> list[str]:
    """The files a complete sample council folder holds."""
    names = ["council.yaml"] + [f"{t}.csv" for t in TABLE_FILES]
    return (
        names
        + (["learning_log.csv"] if plan.learning_log or any(sp.service.hub or sp.log for sp in plan.services) else [])
        + (["rules.csv"] if plan.rules else [])
        + (["system_conditions.csv"] if plan.slug in SYSTEM_CONDITIONS else [])
    )


def samples_complete(out_dir) -> bool:
    """True if every sample council folder in ``out_dir`` holds all its files."""
    out = Path(out_dir)
    return all((out / plan.slug / name).is_file() for plan in COUNCILS for name in sample_files(plan))


@click.command("sample")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the councils (default: data/councils in the project).",
)
@click.option("--seed", type=int, default=2024, show_default=True, help="Random seed: the same seed, the same files.")
@click.option("--force", is_flag=True, help="Write the councils again even if they are already there.")
def sample_command(out_dir, seed, force):
    """Write three fictional sample councils (65 weeks of demand, cases and events each)."""
    out = Path(out_dir) if out_dir else config.COUNCILS_DIR
    if samples_complete(out) and not force:
        click.echo(f"The sample councils are already in {out} (use --force to write them again).")
        return
    for folder in write_sample_councils(out, seed=seed):
        n = sum(1 for _ in open(folder / "demand.csv", encoding="utf-8")) - 1
        click.echo(f"{folder}: {n:,} contacts")
