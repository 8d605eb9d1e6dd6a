"""How the sample councils' contacts link to cases (``demand.case_id``), so that demand joined to flow reads true.

* **Progress chasing grows with waiting.** A progress-chasing contact belongs to a case of its service open at the
  time, picked at random among every case open then: each open case draws chasing at the same rate per week, so a
  case open twice as long is chased about twice as often (the cost of waiting is a positive, believable rate).
  ``CHASE_LINKED`` of them carry the case id (the rest were not recorded against a case, as in real contact logs).
* **The need comes back.** A "not done right" contact (the repair did not fix it, the bill is still wrong) belongs to
  a case of its service that closed in the ``REPEAT_DAYS`` before it: repeat demand after closing, so "fixed for
  good (no repeat contact within 30 days of closing)" is not a flat 100%. As many are linked as make about
  ``REPEAT_SHARE`` of the service's cases come back (at most ``REPEAT_LINKED`` of those contacts): the rest of that
  failure demand is about needs the service never opened a case for.

Seeded by the caller's generator; only ``case_id`` of those contacts changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CHASE_LINKED", "REPEAT_LINKED", "REPEAT_SHARE", "REPEAT_DAYS", "link_contacts"]

CHASE_LINKED = 0.85  #: progress-chasing contacts recorded against their case
REPEAT_LINKED = 0.8  #: at most this share of "not done right" contacts is recorded against a closed case
REPEAT_SHARE = 0.12  #: about this share of a service's cases get a repeat contact after closing
REPEAT_DAYS = 30  #: a repeat contact comes within this many days of the case closing
_CHUNK = 512


def _pick(rng, eligible: np.ndarray) -> np.ndarray:
    """A random True column per row of ``eligible`` (rows x cases), -1 where a row has none."""
    k = eligible.sum(axis=1)
    r = np.floor(rng.random(len(k)) * np.maximum(k, 1)).astype(np.int64)
    pos = np.argmax(np.cumsum(eligible, axis=1) > r[:, None], axis=1)
    return np.where(k > 0, pos, -1)


def link_contacts(demand: pd.DataFrame, cases: pd.DataFrame, rng) -> pd.Series:
    """Case ids for one service's failure contacts (chasing while open, repeats after closing); "" elsewhere."""
    case_id = pd.Series("", index=demand.index, dtype=object)
    if cases.empty or demand.empty:
        return case_id
    opened = cases["opened_at"].to_numpy(dtype="datetime64[ns]")
    closed = cases["closed_at"].to_numpy(dtype="datetime64[ns]")
    never = np.isnat(closed)
    ids = cases["case_id"].to_numpy(dtype=object)
    t = demand["received_at"].to_numpy(dtype="datetime64[ns]")
    ft = demand["failure_type"].to_numpy(dtype=object)
    window = np.timedelta64(REPEAT_DAYS, "D")
    chase = np.flatnonzero((ft == "progress chasing") & (rng.random(len(t)) < CHASE_LINKED))
    wrong = ft == "not done right"
    chance = min(REPEAT_LINKED, REPEAT_SHARE * len(cases) / max(int(wrong.sum()), 1))
    repeat = np.flatnonzero(wrong & (rng.random(len(t)) < chance))
    found = np.full(len(t), -1)
    for rows, kind in ((chase, "open"), (repeat, "closed")):
        for lo in range(0, len(rows), _CHUNK):
            part = rows[lo : lo + _CHUNK]
            at = t[part][:, None]
            if kind == "open":  # open at the time: opened before it, not closed yet
                eligible = (opened[None, :] < at) & (never[None, :] | (closed[None, :] > at))
            else:  # closed in the REPEAT_DAYS before it
                eligible = ~never[None, :] & (closed[None, :] < at) & (closed[None, :] >= at - window)
            found[part] = _pick(rng, eligible)
    linked = found >= 0
    case_id[linked] = ids[found[linked]]
    return case_id
