"""Linkshire: a small council where demand joined to flow is computed by hand (tests of ``joined``, its chart and
its sections share it).

One service, housing repairs. Cases K01..K32 all start on 1 Jan 2024 09:00 with a value contact carrying their id
(``roof`` for K01-K12, ``boiler`` for K13-K32). Case Kk is open for w = (k-1)//8 + 1 weeks: K01-K08 1 week,
K09-K16 2, K17-K24 3, K25-K32 4 (K29-K32 still open: the censoring date is the last date, 29 Jan 09:00, K25-K28's
closing, so they too count 4 weeks so far).

Failure contacts while open (progress chasing, on day 1 and day 2): K01-K04 1 and K05-K08 0 (mean 0.5 at 1 week),
K09-K16 1 (mean 1 at 2 weeks), K17-K20 1 and K21-K24 2 (mean 1.5 at 3 weeks), K25-K32 2 (mean 2 at 4 weeks): 40 in
all. The group means lie on 0.5 x weeks, so the least-squares line through the 32 cases has slope 0.5 exactly
(within a group the weeks are equal, so only the group means move the slope) and intercept 0.

Not counted: K01's "not done right" contact 3 days after it closed (1 after closing), K02's unclassified contact
while open, and one failure contact with no case id.

Paths (value steps: Log repair, Fix; waste: Inspect): roof K01-K09 Log → Fix, K10-K12 Log → Inspect → Fix: most
common Log → Fix = the clean flow, followed by 9 of 12 finished (0.75); median 7 days (8 of 12 take 7 days: the
survival falls to 4/12 at 7). Boiler: K13-K22 Log → Inspect → Fix (10), K23-K28 Log → Fix (6), K29-K32 Log →
Inspect (open): most common Log → Inspect → Fix, clean flow Log → Fix, followed by 6 of 16 finished (0.375); median
21 days (S(14) = 16/20, S(21) = 0.8 x 8/16 = 0.4), 4 open.
"""

from __future__ import annotations

import pandas as pd

START = pd.Timestamp("2024-01-01 09:00")
YAML = "name: Linkshire Council\nservices:\n  - {id: housing-repairs, name: Housing repairs, purpose: Fix it}\n"
ACTIVITIES = (
    "service,activity,step_type,category\nhousing-repairs,Log repair,value,contact\n"
    "housing-repairs,Inspect,waste,check\nhousing-repairs,Fix,value,delivery\n"
)


def _t(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")


def weeks(k: int) -> int:
    return (k - 1) // 8 + 1


def failures(k: int) -> int:
    return {1: 1 if k <= 4 else 0, 2: 1, 3: 1 if k <= 20 else 2, 4: 2}[weeks(k)]


def tables(n: int = 32, *, roof: str = "roof", boiler: str = "boiler") -> dict[str, str]:
    """The council's tables as CSV text for ``council_factory`` (``n`` cases: the first n of K01..K32)."""
    demand = ["contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,case_id"]
    cases = ["case_id,service,opened_at,closed_at"]
    events = ["case_id,service,activity,timestamp,worker,team"]
    c = 0

    def contact(at, kind, cls, ftype, case):
        nonlocal c
        c += 1
        quoted = '"' + kind.replace('"', '""') + '"'
        demand.append(f"C{c:03d},housing-repairs,{_t(at)},phone,words,{quoted},{cls},{ftype},{case}")

    for k in range(1, n + 1):
        cid = f"K{k:02d}"
        is_open = k >= 29
        closed = START + pd.Timedelta(days=7 * weeks(k))
        contact(START, roof if k <= 12 else boiler, "value", "", cid)
        for d in range(failures(k)):
            contact(
                START + pd.Timedelta(days=1 + d, hours=1), "when will it be done", "failure", "progress chasing", cid
            )
        cases.append(f"{cid},housing-repairs,{_t(START)},{'' if is_open else _t(closed)}")
        inspect = (k <= 12 and k >= 10) or (13 <= k <= 22) or is_open
        events.append(f"{cid},housing-repairs,Log repair,{_t(START)},W1,Desk")
        if inspect:
            events.append(f"{cid},housing-repairs,Inspect,{_t(START + pd.Timedelta(days=1))},W2,Surveyors")
        if not is_open:
            events.append(f"{cid},housing-repairs,Fix,{_t(closed)},W3,Trades")
    contact(START + pd.Timedelta(days=10), "it is broken again", "failure", "not done right", "K01")
    contact(START + pd.Timedelta(days=3), "anything", "", "", "K02")
    contact(START + pd.Timedelta(days=3), "when will it be done", "failure", "progress chasing", "")
    return {
        "council_yaml": YAML,
        "demand": "\n".join(demand) + "\n",
        "cases": "\n".join(cases) + "\n",
        "events": "\n".join(events) + "\n",
        "activities": ACTIVITIES,
    }
