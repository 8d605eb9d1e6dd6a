"""A hostile council: script payloads and personal data in every free-text field of every table (issue 13).

Rendered by the batch as a real run would be, nothing personal may appear in any file under the reports folder
(HTML, JSON, SVG, notebooks kept for debugging) and every payload must come out escaped.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from systemic_lib.data.contract import TABLES
from systemic_lib.run.batch import run_batch

from conftest import TESTSHIRE

PERSONAL = {
    "phone": "07700 900461",
    "email": "leak.person@example.org",
    "NI number": "QQ 12 34 56 C",
    "NI number, no spaces": "QQ654321C",
    "date of birth": "14/02/1961",
    "sort code": "20-45-77",
    "account": "41234567",
    "postcode": "SW1A 2AA",
    "NHS number": "943 476 5919",
    # issue 23: written variants that used to pass
    "date of birth after 'is'": "03/05/1962",
    "date of birth with spaces": "04 06 1963",
    "account written in two fours": "5123 4568",
    "phone glued to a word": "07700900462",
    "house with a letter, short street": "Quillanbury",
    "short gardens": "Threlkeldbrook",
    "IBAN": "6016 1331 9268 19",
    "card": "4929 1111 2222 3333",
    "NI without its letter": "QQ765432",
    "e-mail with spaces": "leaky.example",
}
SAID = (
    "ring 07700 900461 or leak.person@example.org, NI QQ 12 34 56 C or QQ654321C, born 14/02/1961, "
    "sort code 20-45-77 account 41234567, at SW1A 2AA, NHS 943 476 5919; dob is 03/05/1962, DOB 04 06 1963, "
    "sort code 20-45-78, account number 5123 4568, phone07700900462, 14a Quillanbury Av, 14 Threlkeldbrook Gdns, "
    "IBAN GB29 NWBK 6016 1331 9268 19, card 4929 1111 2222 3333, NI number QQ765432, jo @ leaky.example.com"
)
PAYLOADS = ('<script>alert("x")</script>', "<img src=x onerror=alert(1)>")
HOSTILE = f" {SAID} {PAYLOADS[0]} {PAYLOADS[1]}"


def hostile_yaml() -> str:
    """council.yaml with the personal data and payloads in every name and label a team types (often in the coach
    app): the council's name, each service's name and purpose, a measure's name, the experiment team and its
    description, a system change's label."""
    import yaml

    services = [
        {
            "id": "housing-repairs",
            "name": "Housing repairs" + HOSTILE,
            "purpose": "Fix my home properly first time" + HOSTILE,
            "measures": [
                {"id": "end_to_end_days"},
                {
                    "id": "chasing",
                    "name": "Contacts chasing" + HOSTILE,
                    "direction": "decrease",
                    "share": {"of": "demand", "matching": {"column": "classification", "equals": "failure"}},
                },
            ],
            "experiment": {"start": "2024-01-04", "team": "Repairs team" + HOSTILE, "description": "Try" + HOSTILE},
        },
        {"id": "council-tax", "name": "Council tax" + HOSTILE, "purpose": "Pay the right amount" + HOSTILE},
        {"id": "waste", "name": "Waste collection", "purpose": "Take my bins when you said"},
    ]
    changes = [{"date": "2024-01-10", "label": "New triage" + HOSTILE, "services": ["housing-repairs"]}]
    return yaml.safe_dump({"name": "Testshire Council" + HOSTILE, "services": services, "system_changes": changes})


def leaks_in(root, files) -> list[str]:
    """Every personal detail of ``PERSONAL`` found in ``files`` (read as text, spaces ignored too)."""
    found = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        low = text.lower()
        compact = low.replace(" ", "")
        for kind, value in PERSONAL.items():
            if value.lower() in low or value.replace(" ", "").lower() in compact:
                found.append(f"{kind} in {path.relative_to(root)}")
    return found


LOG = (
    "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status\n"
    "2024-01-15,housing-repairs,Diagnose on the first call,Most visits need no inspection,Pre-inspection rule,"
    "A second visit,Head of Repairs,open\n"
)


def _hostile(table: str, text: str) -> str:
    """The table with personal data and payloads appended to every free-text cell (ids and dates kept)."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for col in [c.name for c in TABLES[table].columns if c.kind == "text" and c.name in frame.columns]:
        frame[col] = frame[col] + HOSTILE
    return frame.to_csv(index=False)


@pytest.mark.slow
def test_a_hostile_council_leaks_nothing_and_every_payload_is_escaped(council_factory, tmp_path):
    tables = {**TESTSHIRE, "learning_log.csv": LOG}
    cases = pd.read_csv(io.StringIO(TESTSHIRE["cases.csv"]), dtype=str, keep_default_na=False)
    cases["cohort"] = cases["case_id"].map({"R2": "experiment", "R4": "experiment"}).fillna("baseline")
    tables["cases.csv"] = cases.to_csv(index=False)  # an experiment team, so that its page shows the team's name
    files = {
        name.removesuffix(".csv"): _hostile(name.removesuffix(".csv"), text)
        for name, text in tables.items()
        if name.endswith(".csv") and name != "rules.csv"
    }
    assert "learning_log" in files and "activities" in files
    folder = council_factory("hostile", council_yaml=hostile_yaml(), **files)
    out = tmp_path / "reports"
    result = run_batch([folder], out, jobs=1, progress=False, echo=lambda text: None, cache_dir=tmp_path / "cache")
    outputs = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in outputs) and any(p.suffix == ".json" for p in outputs)
    assert result.ok and not result.failed, [(r.council, r.service, r.stage, r.error) for r in result.failed]
    leaks = leaks_in(out, outputs)
    for path in outputs:
        low = path.read_text(encoding="utf-8", errors="replace").lower()
        if path.suffix in (".html", ".svg"):
            for payload in PAYLOADS:
                if payload.lower() in low:
                    leaks.append(f"unescaped {payload} in {path.relative_to(out)}")
    assert not leaks, "\n".join(leaks)
    from test_cache import cache_text

    stored = cache_text(tmp_path / "cache")  # the table cache the batch filled, Parquet read back as text
    assert len(stored) > 20
    cached = [
        f"{kind} in {path.relative_to(tmp_path)}"
        for path, text in stored.items()
        for kind, value in PERSONAL.items()
        if value.lower() in text.lower() or value.replace(" ", "").lower() in text.lower().replace(" ", "")
    ]
    assert not cached, "\n".join(cached)
    shown = "".join(p.read_text(encoding="utf-8", errors="replace") for p in outputs if p.suffix == ".html")
    for placeholder in ("[phone]", "[email]", "[NI number]", "[date of birth]", "[bank details]", "[postcode]"):
        assert placeholder in shown  # the hostile text did reach the reports, redacted
    assert "&lt;script&gt;" in shown
    data = "".join(p.read_text(encoding="utf-8") for p in outputs if p.suffix == ".json")
    for name in ("Testshire Council", "Housing repairs", "Contacts chasing", "Repairs team", "New triage"):
        assert name in shown + data, name  # council.yaml's names and labels did reach the reports
