"""How far a room agrees when several people classify the same contacts (a calibration round of the demand workshop).

Tables in, figures out: ``agreement(labels)`` takes one row per contact and person (``contact_id``, ``person``,
``classification``, ``failure_type``) and returns Fleiss' kappa, which corrects the share of agreeing pairs for the
agreement chance alone would give (1 = everyone agrees on every contact, 0 = no better than chance), with its n:

* on the classification (value or failure), and per category (value, and each failure type: how reliably the room
  puts a contact there);
* on the full label (value, or failure with what failed);
* the two labels the room mixes up most, and the contacts where people said different things (to discuss).

Fleiss' kappa is used in its form for a varying number of people per contact, over the contacts at least two people
classified; with two people on every contact it is Scott's pi, close to Cohen's kappa. In words (after Landis and
Koch, 1977): below 0 no better than chance, up to 0.2 hardly, up to 0.4 poorly, up to 0.6 moderately, up to 0.8
well, above 0.8 very well.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from systemic_lib import words

__all__ = ["Agreement", "agreement", "fleiss", "in_words", "label_of", "sentences", "disagreements"]

VALUE = "value"


@dataclass(frozen=True)
class Kappa:
    """Fleiss' kappa (None where every answer was the same one, so chance explains it all), over ``contacts``
    classified by ``people`` people in all; ``observed`` is the share of pairs of people who agreed."""

    kappa: float | None
    contacts: int
    people: int
    observed: float | None


@dataclass
class Agreement:
    """A round's agreement: ``classification`` (value or failure), ``label`` (value or what failed), ``per_label``
    (label -> Kappa for that category), ``confused`` ((label, label) -> pairs of people who split that way) and
    ``split`` (the contacts people classified differently, with who said what)."""

    classification: Kappa
    label: Kappa
    per_label: dict[str, Kappa] = field(default_factory=dict)
    confused: list[tuple[tuple[str, str], int]] = field(default_factory=list)
    split: pd.DataFrame = field(default_factory=pd.DataFrame)


def label_of(classification, failure_type) -> str:
    """ "value", the failure type ("not done"), or "failure" where what failed was not said."""
    if classification != "failure":
        return str(classification)
    return str(failure_type) if isinstance(failure_type, str) and failure_type.strip() else "failure"


def _table(labels: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str], int]:
    """Counts per contact (rows) and category (columns) over contacts rated by 2+ people; the categories; people."""
    rated = labels.groupby("contact_id")["person"].transform("nunique") >= 2
    kept = labels[rated]
    if kept.empty:
        return np.zeros((0, 0)), [], 0
    counts = pd.crosstab(kept["contact_id"], kept[column])
    return counts.to_numpy(dtype=float), [str(c) for c in counts.columns], int(kept["person"].nunique())


def fleiss(counts: np.ndarray) -> tuple[float | None, float | None]:
    """Fleiss' kappa and the observed agreement for a contacts x categories table of counts (any number of raters
    per contact, each at least 2)."""
    if counts.size == 0:
        return None, None
    n_i = counts.sum(axis=1)
    observed = float(np.mean((counts * (counts - 1)).sum(axis=1) / (n_i * (n_i - 1))))
    p_j = counts.sum(axis=0) / n_i.sum()
    expected = float((p_j**2).sum())
    if expected >= 1 - 1e-12:
        return None, observed
    return float((observed - expected) / (1 - expected)), observed


def per_category(counts: np.ndarray, categories: list[str]) -> dict[str, float | None]:
    """Fleiss' kappa for each category: how reliably the room puts a contact in it (or not)."""
    if counts.size == 0:
        return {}
    n_i = counts.sum(axis=1)
    p_j = counts.sum(axis=0) / n_i.sum()
    out = {}
    for j, name in enumerate(categories):
        spread = p_j[j] * (1 - p_j[j]) * n_i.sum()
        within = float((counts[:, j] * (n_i - counts[:, j]) / (n_i - 1)).sum())
        out[name] = None if spread <= 0 else float(1 - within / spread)
    return out


def agreement(labels: pd.DataFrame) -> Agreement:
    """The room's agreement over ``labels`` (contact_id, person, classification, failure_type: each person's one
    answer per contact)."""
    labels = labels.assign(label=[label_of(c, f) for c, f in zip(labels["classification"], labels["failure_type"])])
    out = {}
    for column in ("classification", "label"):
        counts, categories, people = _table(labels, column)
        kappa, observed = fleiss(counts)
        out[column] = (Kappa(kappa, len(counts), people, observed), counts, categories)
    counts, categories = out["label"][1], out["label"][2]
    people = out["label"][0].people
    per_label = {name: Kappa(k, len(counts), people, None) for name, k in per_category(counts, categories).items()}
    return Agreement(out["classification"][0], out["label"][0], per_label, _confused(labels), disagreements(labels))


def _confused(labels: pd.DataFrame) -> list[tuple[tuple[str, str], int]]:
    pairs: Counter = Counter()
    for _, group in labels.groupby("contact_id"):
        for a, b in combinations(group["label"].tolist(), 2):
            if a != b:
                pairs[tuple(sorted((a, b)))] += 1
    return pairs.most_common()


def disagreements(labels: pd.DataFrame) -> pd.DataFrame:
    """The contacts people classified differently: contact_id, people, said ("AB: value; CD: not done")."""
    if "label" not in labels:
        labels = labels.assign(label=[label_of(c, f) for c, f in zip(labels["classification"], labels["failure_type"])])
    rows = []
    for contact, group in labels.sort_values(["contact_id", "person"]).groupby("contact_id", sort=True):
        if group["label"].nunique() > 1:
            said = "; ".join(f"{p}: {lab}" for p, lab in zip(group["person"], group["label"]))
            rows.append({"contact_id": contact, "people": len(group), "said": said})
    return pd.DataFrame(rows, columns=["contact_id", "people", "said"])


def in_words(kappa: float | None) -> str:
    """Kappa in words: "very well", "well", "moderately", "poorly", "hardly" or "no better than chance"."""
    if kappa is None:
        return "on every contact with the same answer"
    if kappa < 0:
        return "no better than chance"
    for limit, said in ((0.2, "hardly"), (0.4, "poorly"), (0.6, "moderately"), (0.8, "well")):
        if kappa <= limit:
            return said
    return "very well"


def _k(kappa: float | None) -> str:
    return "kappa not defined" if kappa is None else f"kappa {kappa:.2f}"


def sentences(a: Agreement) -> list[str]:
    """What a room reads: how far it agrees on value or failure and on what failed, each with its n, and where it
    agrees least (the two labels it mixes up most)."""
    c = a.classification
    if not c.contacts:
        return ["No contact has been classified by two or more people yet, so the room's agreement is not known."]
    n = f"{words.count(c.contacts, 'contact')} classified by {words.count(c.people, 'person', 'people')}"
    out = [
        f"On value or failure the room agrees {in_words(c.kappa)} ({_k(c.kappa)}; {n}; "
        f"{words.percent(100 * (c.observed or 0.0))} of pairs of people agreed)."
    ]
    shown = {k: v.kappa for k, v in a.per_label.items() if v.kappa is not None}
    if shown:
        best = max(shown, key=shown.__getitem__)
        worst = min(shown, key=shown.__getitem__)
        text = f"It agrees {in_words(shown[best])} on {_name(best)} ({_k(shown[best])})"
        if worst != best:
            text += f", {in_words(shown[worst])} on {_name(worst)} ({_k(shown[worst])})"
        out.append(text + ".")
    if a.confused:
        (x, y), times = a.confused[0]
        out.append(
            f"The labels it mixes up most are {_name(x)} and {_name(y)} "
            f"({words.count(times, 'pair')} of people split that way)."
        )
    if len(a.split):
        out.append(f"{words.count(len(a.split), 'contact')} to discuss: people classified them differently.")
    return out


def _name(label: str) -> str:
    return label if label == VALUE else f"\u2018{label}\u2019"


def table(a: Agreement) -> pd.DataFrame:
    """Per label: kappa, in words, and n (contacts and people), for a table beside the sentences."""
    rows = [
        {
            "label": name,
            "agreement": in_words(k.kappa),
            "kappa": None if k.kappa is None else round(k.kappa, 2),
            "contacts": k.contacts,
            "people": k.people,
        }
        for name, k in sorted(a.per_label.items(), key=lambda kv: (kv[0] != VALUE, kv[0]))
    ]
    return pd.DataFrame(rows, columns=["label", "agreement", "kappa", "contacts", "people"])
