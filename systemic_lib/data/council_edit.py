"""Edits to a council's ``council.yaml`` that keep everything else: comments, key order, quoting and other keys.

The coach's app writes a service's purpose and measures and the system changes the team marks. Each edit reads the
file round-trip (``ruamel.yaml``), changes only what it must, checks the result with ``council.load_council`` and
only then replaces the file, atomically, under the file's lock, with the previous version kept as
``council.yaml.prev``. An edit that would make the council invalid is refused with a plain message and the file is
left as it was.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from pathlib import Path

import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from systemic_lib.data.council import MEASURES, load_council
from systemic_lib.data.files import atomic_write_text, locked
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "set_purpose",
    "add_system_change",
    "edit_system_change",
    "remove_system_change",
    "accept_phase",
    "decline_phase",
    "AlreadyDecided",
    "DIRECTIONS",
]

DIRECTIONS = ("increase", "decrease", "neutral")
#: A person's name or initials, as the coach's workshop takes it.
MAX_WHO = 60


class AlreadyDecided(SystemicError):
    """A rebase suggestion someone accepted or declined meanwhile (on another screen): it is not decided twice."""


def set_purpose(council_dir, service_id: str, purpose: str, measures: list[dict]) -> None:
    """Set a service's purpose (in the citizen's terms) and the measures that follow from it.

    Each measure is ``{"id", "direction", "target"}``: ``id`` one of ``council.MEASURES`` (the service's own measures
    defined in council.yaml are kept as they are), ``direction`` increase,
    decrease or neutral (blank: the measure's usual direction), ``target`` optional and left out when None (METHOD.md:
    measures derive from purpose, not arbitrary targets). The service's other keys (its experiment, name) stay.
    """
    purpose = str(purpose or "").strip()
    if not purpose:
        raise SystemicError("write the service's purpose in the citizen's terms: it cannot be blank")
    entries = []
    for m in measures or []:
        if not isinstance(m, dict) or not str(m.get("id") or "").strip():
            raise SystemicError("each measure needs an id, one of: " + ", ".join(MEASURES))
        unknown = sorted(set(m) - {"id", "direction", "target"})
        if unknown:
            raise SystemicError(f"a measure has id, direction and target only, not {', '.join(unknown)}")
        entry = CommentedMap(id=str(m["id"]).strip())
        direction = str(m.get("direction") or "").strip()
        if direction:
            entry["direction"] = direction
        if m.get("target") is not None and str(m.get("target")).strip() != "":
            try:
                target = float(m["target"])
            except (TypeError, ValueError):
                raise SystemicError(f"the target for {entry['id']} must be a number, not '{m['target']}'") from None
            entry["target"] = int(target) if target.is_integer() else target
        entry.fa.set_flow_style()
        entries.append(entry)
    ids = [e["id"] for e in entries]
    if len(set(ids)) < len(ids):
        raise SystemicError(
            "each measure once: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})) + " is chosen twice"
        )

    def change(data):
        service = _service(data, service_id)
        service.fa.set_block_style()  # a one-line {id: ..., purpose: ...} would not hold a list of measures readably
        service["purpose"] = purpose
        # the service's own measures (defined in council.yaml, not one of the built-in ids) are kept as written
        own = [
            m
            for m in service.get("measures") or []
            if isinstance(m, dict) and m.get("id") not in MEASURES and m.get("id") not in ids
        ]
        if entries or own:
            service["measures"] = CommentedSeq(entries + own)
        elif "measures" in service:
            del service["measures"]

    _edit(council_dir, change)


def add_system_change(council_dir, date, label: str, services: list[str] | None) -> None:
    """Mark a date as a system change (a new phase for the capability charts) with a label, for ``services`` (None:
    every service). Adding the same change twice keeps one."""
    label = str(label or "").strip()
    if not label:
        raise SystemicError("give the system change a label: what changed on that date")
    try:
        day = pd.Timestamp(date).date()
    except (TypeError, ValueError):
        raise SystemicError(f"'{date}' is not a date: write it as YYYY-MM-DD") from None
    if pd.isna(pd.Timestamp(date)):
        raise SystemicError("the system change needs a date (YYYY-MM-DD)")
    wanted = None if services is None else [str(s).strip() for s in services if str(s).strip()]

    def change(data):
        known = [str(s.get("id")) for s in data.get("services") or [] if isinstance(s, dict)]
        if wanted is not None:
            unknown = [s for s in wanted if s not in known]
            if unknown:
                raise SystemicError(
                    f"no service {', '.join(unknown)} in council.yaml; services are: " + ", ".join(known)
                )
        changes = data.get("system_changes")
        if changes is None:
            changes = data["system_changes"] = CommentedSeq()
        for c in changes:
            if (
                _as_date(c.get("date")) == day
                and str(c.get("label", "")).strip() == label
                and (None if c.get("services") is None else list(c.get("services"))) == wanted
            ):
                return False
        entry = CommentedMap(date=day, label=label)
        if wanted is not None:
            entry["services"] = CommentedSeq(wanted)
            entry["services"].fa.set_flow_style()
        changes.append(entry)

    _edit(council_dir, change)


def edit_system_change(council_dir, date, label: str, *, new_date=None, new_label: str | None = None) -> None:
    """Correct a system change marked by mistake or mistyped: the entry with this ``date`` and ``label`` gets
    ``new_date`` and/or ``new_label`` (the services it applies to stay). The previous council.yaml is kept.
    SystemicError if there is no such change (someone else changed it meanwhile: reload)."""
    day = _day(date)
    new_day = None if new_date is None else _day(new_date)
    text = None if new_label is None else str(new_label).strip()
    if text == "":
        raise SystemicError("give the system change a label: what changed on that date")

    def change(data):
        entry = _find_change(data, day, label)
        if new_day is not None:
            entry["date"] = new_day
        if text is not None:
            entry["label"] = text

    _edit(council_dir, change)


def remove_system_change(council_dir, date, label: str) -> None:
    """Remove a system change (the entry with this ``date`` and ``label``, for every service it names); the previous
    council.yaml is kept, so it can be brought back."""
    day = _day(date)

    def change(data):
        entry = _find_change(data, day, label)
        data["system_changes"].remove(entry)

    _edit(council_dir, change)


def accept_phase(council_dir, service: str, date, label: str, who: str, *, now: dt.datetime | None = None) -> None:
    """A person accepts a rebase suggestion (``analysis.rebase``): the recorded change becomes a system change of
    ``service`` (a new phase from ``date``, named ``label``), with ``accepted_by`` and ``accepted_at`` (UTC). Written
    as every system change is (round-trip, checked, atomic, the previous council.yaml kept). ``AlreadyDecided`` when
    the service already has a phase or a declined suggestion on that date: the suggestion the person saw is gone."""
    _decide_phase(council_dir, service, date, label, who, into="system_changes", verb="accepted", now=now)


def decline_phase(council_dir, service: str, date, label: str, who: str, *, now: dt.datetime | None = None) -> None:
    """A person declines a rebase suggestion: recorded in council.yaml's ``declined_phases`` with who and when, so it
    is not offered again (and the chart keeps its limits). ``AlreadyDecided`` as for ``accept_phase``."""
    _decide_phase(council_dir, service, date, label, who, into="declined_phases", verb="declined", now=now)


def _decide_phase(
    council_dir, service: str, date, label: str, who: str, *, into: str, verb: str, now: dt.datetime | None
) -> None:
    """One decision on a suggested phase, appended to council.yaml's list ``into`` with ``<verb>_by``/``<verb>_at``."""
    day, label, who = _day(date), _label(label), _who(who)

    def change(data):
        _undecided(data, service, day)
        entry = CommentedMap(date=day, label=label)
        entry["services"] = CommentedSeq([service])
        entry["services"].fa.set_flow_style()
        entry[f"{verb}_by"] = who
        entry[f"{verb}_at"] = _stamp(now)
        decided = data.get(into)
        if decided is None:
            decided = data[into] = CommentedSeq()
        decided.append(entry)

    _edit(council_dir, change)


def _label(label) -> str:
    text = " ".join(str(label or "").split())
    if not text:
        raise SystemicError("give the new phase a label: what changed on that date")
    return text


def _who(who) -> str:
    text = " ".join(str(who or "").split())
    if not text or len(text) > MAX_WHO:
        raise SystemicError(f"say who decides: a name or initials (at most {MAX_WHO} characters)")
    return text


def _stamp(now: dt.datetime | None) -> str:
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _undecided(data, service: str, day: dt.date) -> None:
    """Refuse (``AlreadyDecided``) a decision on a date the service already has a phase or a decline on."""
    _service(data, service)
    for key, verb in (("system_changes", "is already a phase"), ("declined_phases", "was declined")):
        for entry in data.get(key) or []:
            services = entry.get("services") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or _as_date(entry.get("date")) != day:
                continue
            if services is None or service in list(services):
                who = entry.get("accepted_by") or entry.get("declined_by")
                said = f" by {who}" if who else ""
                raise AlreadyDecided(
                    f"{day:%d %b %Y} {verb}{said} (decided meanwhile, on another screen?): nothing was changed"
                )


def _day(date) -> dt.date:
    try:
        stamp = pd.Timestamp(date)
    except (TypeError, ValueError):
        raise SystemicError(f"'{date}' is not a date: write it as YYYY-MM-DD") from None
    if pd.isna(stamp):
        raise SystemicError("the system change needs a date (YYYY-MM-DD)")
    return stamp.date()


def _find_change(data, day: dt.date, label: str):
    for entry in data.get("system_changes") or []:
        if (
            isinstance(entry, dict)
            and _as_date(entry.get("date")) == day
            and str(entry.get("label", "")).strip() == (str(label).strip())
        ):
            return entry
    raise SystemicError(
        f"no system change “{label}” on {day:%d %b %Y} in council.yaml (changed meanwhile? reload the page)"
    )


# ------------------------------------------------------------------------------------------------------ the edit
def _edit(council_dir, change) -> None:
    """Read council.yaml round-trip, apply ``change`` (returns False for no change), check, then replace."""
    folder = Path(council_dir)
    path = folder / "council.yaml"
    if not path.exists():
        raise SystemicError(f"{folder}: no council.yaml to change. A council folder holds council.yaml (see README).")
    with locked(path):
        text = path.read_text(encoding="utf-8")
        try:
            data = YAML().load(text)
        except YAMLError as exc:
            raise SystemicError(
                f"council.yaml is not valid YAML, so it was not changed ({exc}); fix it first"
            ) from None
        if not isinstance(data, dict):
            raise SystemicError("council.yaml does not hold a council (name and services); fix it first")
        if change(data) is False:
            return
        yaml = _yaml(text)
        out = io.StringIO()
        yaml.dump(data, out)
        new = out.getvalue()
        _check(new)
        atomic_write_text(path, new, keep_previous=True)


def _yaml(text: str) -> YAML:
    """A round-trip YAML writer that indents as ``text`` does (comments, order and quoting are kept)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 110  # as the sample councils are written, so long values fold where they did
    mapping, offset = _indents(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _indents(text: str) -> tuple[int, int]:
    """How ``text`` indents: a nested mapping's keys (default 2), and a list's dash under its key (default 0)."""
    mapping = offset = None
    previous = None  # (indent, is a "key:" line with nothing after it)
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if previous is not None and previous[1] and indent > previous[0]:
            if stripped.startswith("- "):
                offset = indent - previous[0] if offset is None else offset
            elif mapping is None:
                mapping = indent - previous[0]
        previous = (indent, bool(re.match(r"[^\s#'\"][^#]*:\s*(#.*)?$", stripped)))
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset or 0


def _check(text: str) -> None:
    """Refuse (SystemicError, every problem in plain words) a council.yaml that ``load_council`` would refuse."""
    with tempfile.TemporaryDirectory(prefix="council-check-") as tmp:
        (Path(tmp) / "council.yaml").write_text(text, encoding="utf-8")
        try:
            load_council(tmp)
        except ContractError as exc:
            said = "; ".join(f"{p.column + ': ' if p.column else ''}{p.message}" for p in exc.problems)
            raise SystemicError(f"council.yaml was not changed: the change would make it invalid ({said})") from None


def _service(data, service_id: str):
    for service in data.get("services") or []:
        if isinstance(service, dict) and str(service.get("id")) == service_id:
            return service
    known = ", ".join(str(s.get("id")) for s in data.get("services") or [] if isinstance(s, dict))
    raise SystemicError(f"no service '{service_id}' in council.yaml; services are: {known}")


def _as_date(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(str(value)).date()
    except (TypeError, ValueError):
        return None
