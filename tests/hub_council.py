"""Hubshire: a small new service built by experiment, its figures worked out by hand (tests of the experiment page of a
new service share it).

One service, ``hub`` (the Community hub), declared in council.yaml as ``experiment: {design: new service}`` from
Monday 4 November 2024, 42 days (6 whole weeks) of contacts, every case the Hub team's (cohort experiment):

* **Demand emerging.** "I need food" from day 0 (week 1), 3 a day; "I need my prescription" from day 7 (week 2),
  2 a day; "I need emergency support" from day 14 (week 3), 1 a day. Each is a value contact that opens its own case.
  From day 7, every other day, one "where is my food parcel?" contact (progress chasing: the hub's own failure
  demand), linked to no case: 18 in all. So week 1 has 21 contacts, week 2 35 + 3 or 4 chasing, and weeks 3-6
  42 value contacts a week. 126 + 70 + 28 = 224 cases, 224 + 18 = 242 contacts, all classified.
* **Workflows.** Food cases opened before 18 November 2024 go Take the call (A) → Check eligibility (B, day 2) →
  Pass to the food bank (B, day 2.5) → Deliver food (C, day 4): 4 steps, 3 people, 4 days. From 18 November (the
  learning-log entry that designs out the eligibility rule, for "I need food") they go Take the call (A) → Deliver
  food (A, day 1): 2 steps, 1 person, 1 day. Prescriptions: Take the call (A) → Collect prescription (D, day 1);
  emergency support: Take the call (A) → Arrange support (A, day 2). 42 food cases before the entry, 84 after.
* **Open cases.** The 3 food cases of the last day (day 41) have only their first step: open, no closed_at.
* **Learning log.** 4 Nov: one room for every demand (designed out, no date: kept out from the start, no phase);
  18 Nov: eligibility for food designed out on 18 Nov (a phase on every capability chart); 2 Dec: the CRM, open
  (about every type but no change: it splits no workflow).
"""

from __future__ import annotations

import pandas as pd

HUB_YAML = """\
name: Hubshire Council
services:
  - id: hub
    name: Community hub
    purpose: Get me what I need to stay safe at home, today
    measures:
      - id: end_to_end_days
        direction: decrease
      - id: weekly_demand
        direction: neutral
    experiment:
      start: 2024-11-04
      team: Hub team
      design: new service
"""
START = pd.Timestamp("2024-11-04 09:00")
CHANGE = pd.Timestamp("2024-11-18")
PLAN = (("I need food", 0, 3), ("I need my prescription", 7, 2), ("I need emergency support", 14, 1))
ACTIVITIES = (
    "service,activity,step_type,category\n"
    "hub,Take the call,value,contact\nhub,Check eligibility,waste,check\nhub,Pass to the food bank,waste,hand-off\n"
    "hub,Deliver food,value,delivery\nhub,Collect prescription,value,delivery\nhub,Arrange support,value,delivery\n"
)
LOG = (
    "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status,changed_at,"
    "demand_type\n"
    "2024-11-04,hub,Took every demand in one room,People ask for help not a department,"
    "Structure: each department takes only its own demand,Calls passed on,Chief Executive,designed out,,\n"
    "2024-11-18,hub,Stopped checking eligibility for food,Everyone who asked needed it,"
    "Rule: proof of eligibility before a food parcel,Two days waiting,Head of Community,designed out,2024-11-18,"
    "I need food\n"
    "2024-12-02,hub,Logged cases in a spreadsheet,The CRM cannot hold a hub case,"
    "IT system: the CRM holds one department's cases,Typing twice,Head of Digital,open,,\n"
)


def _steps(demand_type: str, opened: pd.Timestamp) -> list[tuple[str, str, float]]:
    if demand_type == "I need food":
        if opened < CHANGE:
            return [("Take the call", "A", 0), ("Check eligibility", "B", 2), ("Pass to the food bank", "B", 2.5),
                    ("Deliver food", "C", 4)]  # fmt: skip
        return [("Take the call", "A", 0), ("Deliver food", "A", 1)]
    if demand_type == "I need my prescription":
        return [("Take the call", "A", 0), ("Collect prescription", "D", 1)]
    return [("Take the call", "A", 0), ("Arrange support", "A", 2)]


def hub_files(*, declared: bool = True) -> dict[str, str]:
    """Hubshire's files; ``declared=False`` leaves ``design: new service`` out of council.yaml (every case is still
    the team's, so the service is read as a new one all the same)."""
    files = {"council.yaml": HUB_YAML if declared else HUB_YAML.replace("      design: new service\n", "")}
    files["activities.csv"] = ACTIVITIES
    demand = ["contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,case_id"]
    cases = ["case_id,service,opened_at,closed_at,cohort"]
    events = ["case_id,service,activity,timestamp,worker,hours,face_to_face"]
    k = 0
    for day in range(42):
        when = START + pd.Timedelta(days=day)
        for demand_type, first_day, per_day in PLAN:
            for j in range(per_day if day >= first_day else 0):
                k += 1
                cid, at = f"H{k:04d}", when + pd.Timedelta(hours=j)
                demand.append(f"C{k:05d},hub,{at:%Y-%m-%d %H:%M},phone,Please help,{demand_type},value,,{cid}")
                steps = _steps(demand_type, at)
                still_open = day == 41 and demand_type == "I need food"
                done = "" if still_open else f"{at + pd.Timedelta(days=steps[-1][2]):%Y-%m-%d %H:%M}"
                cases.append(f"{cid},hub,{at:%Y-%m-%d %H:%M},{done},experiment")
                for act, worker, d in steps[:1] if still_open else steps:
                    stamp = at + pd.Timedelta(days=d, minutes=5)
                    events.append(f"{cid},hub,{act},{stamp:%Y-%m-%d %H:%M},{worker},0.5,no")
        if day >= 7 and day % 2 == 1:  # chasing a food parcel: the hub's own failure demand
            k += 1
            demand.append(
                f"C{k:05d},hub,{when + pd.Timedelta(hours=5):%Y-%m-%d %H:%M},phone,Where is it?,"
                "where is my food parcel?,failure,progress chasing,"
            )
    files["demand.csv"] = "\n".join(demand) + "\n"
    files["cases.csv"] = "\n".join(cases) + "\n"
    files["events.csv"] = "\n".join(events) + "\n"
    files["learning_log.csv"] = LOG
    return files
