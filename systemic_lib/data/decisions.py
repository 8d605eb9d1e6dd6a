"""The demand workshop's store: classifier decisions kept in SQLite beside the council, folded into demand.csv later.

One decision used to rewrite the whole ``demand.csv`` (1.4 s on a 341k-contact council); a room of people would queue
behind it. Here a decision is one short SQLite transaction in ``<council>/.systemic/decisions.sqlite`` (WAL mode,
``busy_timeout``), safe with several writers, threads or processes. Every decision is appended and never lost; a
person's latest decision counts (undo takes their last one back). ``next_contact`` leases a contact to one person
so that two people never get the same contact at the same moment, and ``decide`` refuses a decision on a contact
that is not leased to that person (``NotOnScreen``): a decision is always on the contact the person was shown. A
contact someone skips goes back to the room once no contact nobody has skipped is left, so the workshop ends only
when every contact has a decision. A **calibration round** (``start_round``) gives the same contacts to everyone,
so that the room can see how far it agrees (``round_labels``; ``analysis.agreement`` reads them). A store another
program holds locked answers within about a second (``StoreBusy``) instead of waiting. ``fold`` writes the decisions into
``demand.csv`` (or ``.xlsx``), the file councils exchange, atomically and under the file's lock, with the previous
version kept and ``classified_by = coach:<person>``; the batch folds before it renders (``fold_council``).

>>> store = DecisionStore("data/councils/northshire")               # doctest: +SKIP
>>> contact = store.next_contact("housing-repairs", "AB")          # doctest: +SKIP
>>> store.decide(contact["contact_id"], "AB", "failure", failure_type="progress chasing")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from systemic_lib.data.contract import (
    CLASSIFICATIONS,
    FAILURE_TYPES,
    TABLES,
    find_table_file,
    normalise_category,
    read_raw,
    read_table,
)
from systemic_lib.data.files import atomic_write_bytes, locked, write_table_atomic
from systemic_lib.data.redact import redact
from systemic_lib.errors import SystemicError

__all__ = [
    "DecisionStore",
    "calibration",
    "NotOnScreen",
    "StoreBusy",
    "StoreError",
    "fold_council",
    "store_path",
    "COACH",
    "ROUND_SIZE",
]

STORE = Path(".systemic") / "decisions.sqlite"
COACH = "coach:"  #: ``classified_by`` of a workshop decision is ``coach:<person>``
NO_DEMAND_TYPE = "(no demand type)"
#: How long a write waits for another writer before saying the store is busy: a decision is one short
#: transaction, so only a store another program holds locked waits this long.
_BUSY_MS = 1_000
#: How long the batch's fold waits for a store another program holds (it has no one waiting at a keyboard).
BATCH_WAIT = 30.0
#: Contacts in a calibration round: the same ones to everyone.
ROUND_SIZE = 20
#: Seconds a contact stays leased to the person it was shown to (the app renews it while it is on screen).
LEASE_SECONDS = 120
_CLASS = TABLES["demand"].column("classification")
_FAILURE = TABLES["demand"].column("failure_type")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id TEXT NOT NULL,
    person TEXT NOT NULL,
    classification TEXT NOT NULL,
    failure_type TEXT,
    demand_type TEXT,
    what_matters TEXT,
    decided_at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    folded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_contact ON decisions (contact_id);
CREATE INDEX IF NOT EXISTS decisions_person ON decisions (person);
CREATE TABLE IF NOT EXISTS leases (contact_id TEXT PRIMARY KEY, person TEXT NOT NULL, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS skips (contact_id TEXT NOT NULL, person TEXT NOT NULL, PRIMARY KEY (contact_id, person));
CREATE TABLE IF NOT EXISTS rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    contacts TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
"""
#: Columns added to a store made before them (``ALTER TABLE`` once): the calibration round a decision was made in.
_ADDED = {"decisions": {"round": "INTEGER"}}
#: Each contact's decision that counts: the latest one not undone.
_LIVE = """
SELECT d.contact_id, d.person, d.classification, d.failure_type, d.demand_type, d.what_matters, d.seq, d.folded
FROM decisions d JOIN (SELECT contact_id, MAX(seq) AS seq FROM decisions WHERE undone = 0 GROUP BY contact_id) m
ON d.seq = m.seq
"""


class NotOnScreen(SystemicError):
    """A decision on a contact that is not (or no longer) leased to the person: it was not on their screen."""


class StoreBusy(SystemicError):
    """Another program holds the decision store locked: nothing was written; try again in a moment."""


def store_path(council_dir) -> Path:
    """Where a council's decisions are kept (the file exists once someone has used the workshop)."""
    return Path(council_dir) / STORE


class DecisionStore:
    """The workshop's decisions for one council folder. Safe to share between threads; open one per process."""

    def __init__(self, council_dir, *, wait: float = _BUSY_MS / 1000):
        self.folder = Path(council_dir)
        self.wait = wait  # seconds a write waits for another writer before StoreBusy
        self.path = store_path(self.folder)
        demand_path = find_table_file(self.folder, "demand")
        if demand_path is None:
            raise SystemicError(
                f"{self.folder}: no demand.csv or demand.xlsx to classify. Add the demand file "
                "(see README, the data contract) first."
            )
        self.demand_path: Path = demand_path
        self._local = threading.local()
        self._cache_lock = threading.Lock()
        self._contacts: pd.DataFrame | None = None
        self._stamp: tuple | None = None
        self._base: dict[str, dict] = {}
        self._redacted: dict[str, str] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db().executescript(_SCHEMA)  # idempotent; several processes may open a new store at once
            self._add_columns()
        except sqlite3.OperationalError as exc:
            raise _plain(exc, self.path) from None

    def _add_columns(self) -> None:
        db = self._db()
        for table, columns in _ADDED.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    try:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise

    # ------------------------------------------------------------------------------------------------ storage
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.wait, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(self.wait * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # a committed decision survives a crash, not only a kill
            self._local.db = db
        return db

    class _Transaction:
        def __init__(self, db, path):
            self.db, self.path = db, path

        def __enter__(self):
            try:
                self.db.execute("BEGIN IMMEDIATE")  # the write lock now: no two writers interleave a read and a write
            except sqlite3.OperationalError as exc:
                raise _plain(exc, self.path) from None
            return self.db

        def __exit__(self, kind, exc, tb):
            try:
                self.db.execute("COMMIT" if kind is None else "ROLLBACK")
            except sqlite3.OperationalError as err:
                if kind is None:
                    self.db.execute("ROLLBACK")
                    raise _plain(err, self.path) from None
            if kind is not None and issubclass(kind, sqlite3.OperationalError):
                raise _plain(exc, self.path) from None
            return False

    def _write(self):
        return self._Transaction(self._db(), self.path)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -------------------------------------------------------------------------------------------- the demand file
    @property
    def contacts(self) -> pd.DataFrame:
        """The demand file's contacts as read once (again only when the file changes, e.g. another process folded
        or the council re-imported): contact_id, service, received_at, channel, verbatim, demand_type,
        classification (as in the file, normalised; blank if unclassified), failure_type."""
        stamp = _stamp(self.demand_path)
        with self._cache_lock:
            if self._contacts is None or stamp != self._stamp:
                result = self._read_demand()
                frame = result.frame
                if frame.empty and result.errors:
                    raise SystemicError(
                        f"{self.demand_path.name} cannot be read: " + "; ".join(p.describe() for p in result.errors[:3])
                    )
                cols = [
                    "contact_id",
                    "service",
                    "received_at",
                    "channel",
                    "verbatim",
                    "demand_type",
                    "classification",
                    "failure_type",
                ]
                frame = frame[cols].copy()
                frame = frame[frame["contact_id"].notna()].drop_duplicates("contact_id").reset_index(drop=True)
                frame["contact_id"] = frame["contact_id"].astype(str)
                self._contacts = frame.set_index("contact_id", drop=False)
                self._base = {}
                self._stamp = stamp
            return self._contacts

    def _read_demand(self):
        """The demand table parsed: the one this process already holds (``council.held``: the coach app's kernel
        reads its council ahead) when the folder is unchanged, else read from the file."""
        from systemic_lib.data.council import held as held_council

        held = held_council(self.folder)
        if held is not None and find_table_file(self.folder, "demand") == self.demand_path:
            return held.load("demand")
        return read_table(self.demand_path, "demand")

    def _service_base(self, service: str | None) -> dict:
        """Per service (cached): the file's contacts in order, which are unclassified, and the file's tally."""
        contacts = self.contacts
        key = service or ""
        with self._cache_lock:
            if key not in self._base:
                mine = contacts if service is None else contacts[contacts["service"] == service]
                cls = mine["classification"]
                pareto: dict[str, Counter] = {"value": Counter(), "failure": Counter()}
                types = mine["demand_type"].fillna(NO_DEMAND_TYPE)
                for c in CLASSIFICATIONS:
                    pareto[c].update(types[cls == c].value_counts().to_dict())
                self._base[key] = {
                    "ids": set(mine.index),
                    "file": dict(zip(mine.index, zip(cls.where(cls.isin(CLASSIFICATIONS), None), types))),
                    "open": mine.index[~cls.isin(CLASSIFICATIONS)].tolist(),
                    "counts": Counter(cls.where(cls.isin(CLASSIFICATIONS), "unclassified").tolist()),
                    "pareto": pareto,
                }
            return self._base[key]

    def _shown(self, text) -> str:
        """Redacted text, cached (demand types repeat)."""
        if text is None or (not isinstance(text, str) and pd.isna(text)):
            return ""
        if text not in self._redacted:
            self._redacted[text] = redact(text)
        return self._redacted[text]

    # ------------------------------------------------------------------------------------------------- leasing
    def next_contact(self, service: str | None, person: str, *, lease_seconds: int = LEASE_SECONDS) -> dict | None:
        """The next contact for ``person``, leased to them for ``lease_seconds``; None when there is none for them.

        In a calibration round (``start_round``) that is the round's next contact this person has not decided: the
        same contacts, in the same order, to everyone. Otherwise it is an unclassified contact (no classification in
        the file, no decision in the workshop) that nobody else holds a live lease on: first those nobody has
        skipped; once none of those is left, the skipped ones come back to the room, those this person did not skip
        first. A person holding a live lease on a contact still open gets the same one again (a reloaded browser
        resumes where it was). The contact's ``back`` is True when it had been skipped.
        """
        person = _person(person)
        base = self._service_base(service)
        now = time.time()
        with self._write() as db:
            active = self._active_round(db, service)
            if active is not None:
                chosen, back = self._round_next(db, active, person), False
            else:
                chosen, back = self._open_next(db, base, service, person, now)
            db.execute("DELETE FROM leases WHERE person = ?", (person,))
            if chosen is None:
                return None
            if active is None:
                db.execute(
                    "INSERT OR REPLACE INTO leases (contact_id, person, until) VALUES (?, ?, ?)",
                    (chosen, person, now + lease_seconds),
                )
        return {**self._shown_contact(chosen), "back": back, "round": None if active is None else active["id"]}

    def _open_next(self, db, base: dict, service, person: str, now: float) -> tuple[str | None, bool]:
        """The contact to lease outside a round (see ``next_contact``) and whether it had been skipped."""
        decided = {r[0] for r in db.execute("SELECT DISTINCT contact_id FROM decisions WHERE undone = 0")}
        open_ids = self._open_ids(service)
        held = [r[0] for r in db.execute("SELECT contact_id FROM leases WHERE person = ? AND until > ?", (person, now))]
        for c in held:
            if c in base["ids"] and c in open_ids and c not in decided:
                return c, False
        taken = {
            r[0] for r in db.execute("SELECT contact_id FROM leases WHERE person != ? AND until > ?", (person, now))
        }
        skips: dict[str, set] = {}
        for contact, who in db.execute("SELECT contact_id, person FROM skips"):
            skips.setdefault(contact, set()).add(who)
        later_mine = later_theirs = None
        for c in base["open"]:
            if c in decided or c in taken:
                continue
            if c not in skips:
                return c, False
            if person in skips[c]:
                later_mine = later_mine or c
            else:
                later_theirs = later_theirs or c
        chosen = later_theirs or later_mine
        return chosen, chosen is not None

    def _shown_contact(self, contact_id: str) -> dict:
        row = self.contacts.loc[contact_id]
        received = row["received_at"]
        return {
            "contact_id": contact_id,
            "service": _text(row["service"]),
            "received_at": "" if pd.isna(received) else received.strftime("%Y-%m-%d %H:%M"),
            "channel": _text(row["channel"]),
            "verbatim": self._shown(row["verbatim"]),
            "demand_type": self._shown(row["demand_type"]),
        }

    def shown_verbatim(self, contact_id: str) -> str:
        """A contact's verbatim as the room may see it (redacted)."""
        if contact_id not in self.contacts.index:
            return ""
        return self._shown(self.contacts.at[contact_id, "verbatim"])

    def _open_ids(self, service: str | None) -> set:
        base = self._service_base(service)
        if "open_set" not in base:
            base["open_set"] = set(base["open"])
        return base["open_set"]

    def renew(self, contact_id: str, person: str, *, lease_seconds: int = LEASE_SECONDS) -> bool:
        """Keep ``person``'s lease on a contact they are still looking at (a room discussing one contact for a few
        minutes); False if it is no longer theirs."""
        person = _person(person)
        with self._write() as db:
            n = db.execute(
                "UPDATE leases SET until = ? WHERE contact_id = ? AND person = ?",
                (time.time() + lease_seconds, str(contact_id), person),
            ).rowcount
        return n > 0

    def waiting(self, service: str | None, person: str) -> int:
        """How many unclassified contacts are on someone else's screen now (leased to them, live)."""
        person = _person(person)
        ids = self._open_ids(service)
        now = time.time()
        rows = self._db().execute("SELECT contact_id FROM leases WHERE person != ? AND until > ?", (person, now))
        return sum(1 for (c,) in rows if c in ids)

    # ----------------------------------------------------------------------------------------------- deciding
    def decide(
        self,
        contact_id: str,
        person: str,
        classification: str,
        *,
        failure_type=None,
        demand_type=None,
        what_matters=None,
        on_screen: bool = True,
    ) -> None:
        """Record ``person``'s decision on a contact (value or failure, with what failed). Raises SystemicError with
        a plain message if a value is not one the data contract allows, and ``NotOnScreen`` if the contact is not
        leased to ``person`` (``on_screen=False``, for a decision made elsewhere, such as the room settling a
        disagreement, skips that check); nothing is recorded then."""
        person = _person(person)
        contact_id = str(contact_id).strip()
        if contact_id not in self.contacts.index:
            raise SystemicError(f"there is no contact '{contact_id}' in {self.demand_path.name}")
        cls = normalise_category(pd.Series([str(classification or "")]), _CLASS).iloc[0]
        if cls not in CLASSIFICATIONS:
            raise SystemicError(f"'{classification}' is not a classification: say value or failure")
        ftype = _blank(failure_type)
        if ftype is not None:
            ftype = normalise_category(pd.Series([ftype]), _FAILURE).iloc[0]
            if ftype not in FAILURE_TYPES:
                raise SystemicError(f"'{failure_type}' is not a failure type: use one of {', '.join(FAILURE_TYPES)}")
            if cls != "failure":
                raise SystemicError("a failure type goes with failure demand only: leave it blank for value demand")
        service = _text(self.contacts.at[contact_id, "service"]) or None
        with self._write() as db:
            round_id = self._check_on_screen(db, contact_id, person, service) if on_screen else None
            db.execute(
                "INSERT INTO decisions (contact_id, person, classification, failure_type, demand_type, "
                "what_matters, decided_at, round) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    contact_id,
                    person,
                    cls,
                    ftype,
                    _blank(demand_type),
                    _blank(what_matters),
                    pd.Timestamp.now().isoformat(timespec="seconds"),
                    round_id,
                ),
            )
            db.execute("DELETE FROM leases WHERE contact_id = ?", (contact_id,))

    def _check_on_screen(self, db, contact_id: str, person: str, service) -> int | None:
        """The round the decision belongs to (None outside a round), or NotOnScreen when ``person`` was not given
        this contact: in a round, one of its contacts they have not decided yet; otherwise, their lease (run out or
        not, as long as nobody else has taken it since)."""
        active = self._active_round(db, service)
        if active is not None and contact_id in active["contacts"]:
            again = db.execute(
                "SELECT 1 FROM decisions WHERE round = ? AND contact_id = ? AND person = ? AND undone = 0",
                (active["id"], contact_id, person),
            ).fetchone()
            if again:
                raise NotOnScreen(f"you have already classified {contact_id} in this calibration round")
            return active["id"]
        holder = db.execute("SELECT person FROM leases WHERE contact_id = ?", (contact_id,)).fetchone()
        if holder is None or holder[0] != person:
            whose = "" if holder is None else f" (it is on {holder[0]}'s screen now)"
            raise NotOnScreen(f"{contact_id} was not on your screen any more{whose}: nothing was saved for it")
        return None

    def skip(self, contact_id: str, person: str) -> None:
        """``person`` passes on this contact: it goes back to the room once every contact nobody skipped is taken
        (``next_contact``). In a calibration round everyone classifies every contact, so a skip is refused."""
        person = _person(person)
        contact_id = str(contact_id).strip()
        service = _text(self.contacts.at[contact_id, "service"]) if contact_id in self.contacts.index else None
        with self._write() as db:
            active = self._active_round(db, service or None)
            if active is not None and contact_id in active["contacts"]:
                raise SystemicError(
                    "in a calibration round everyone classifies every contact: decide it as best you can"
                )
            db.execute("INSERT OR IGNORE INTO skips (contact_id, person) VALUES (?, ?)", (contact_id, person))
            db.execute("DELETE FROM leases WHERE contact_id = ? AND person = ?", (contact_id, person))

    def undo(self, person: str, *, lease_seconds: int = LEASE_SECONDS) -> str | None:
        """Take back ``person``'s last decision not yet folded into the demand file; return its contact id (None if
        there is none). The contact is leased back to them (in a round, it is their next round contact again), so
        ``next_contact`` shows it again. The decision stays in the store, marked undone."""
        person = _person(person)
        with self._write() as db:
            row = db.execute(
                "SELECT seq, contact_id, round FROM decisions WHERE person = ? AND undone = 0 AND folded = 0 "
                "ORDER BY seq DESC LIMIT 1",
                (person,),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE decisions SET undone = 1 WHERE seq = ?", (row[0],))
            db.execute("DELETE FROM leases WHERE person = ?", (person,))
            if row[2] is None:
                db.execute(
                    "INSERT OR REPLACE INTO leases (contact_id, person, until) VALUES (?, ?, ?)",
                    (row[1], person, time.time() + lease_seconds),
                )
            return row[1]

    # -------------------------------------------------------------------------------------- calibration rounds
    def start_round(self, service: str, *, size: int = ROUND_SIZE, seed: int | None = None) -> dict:
        """Start a calibration round for ``service``: ``size`` of its unclassified contacts (drawn at random), the
        same to everyone, until ``end_round``. Returns the round (``id``, ``contacts``, ``started_at``). Refused
        (SystemicError) while a round is open, or with fewer than 2 contacts left to classify."""
        base = self._service_base(service)
        with self._write() as db:
            if self._active_round(db, service) is not None:
                raise SystemicError("a calibration round is already running for this service: end it first")
            decided = {r[0] for r in db.execute("SELECT DISTINCT contact_id FROM decisions WHERE undone = 0")}
            pool = [c for c in base["open"] if c not in decided]
            if len(pool) < 2:
                raise SystemicError("fewer than 2 contacts are left to classify: too few for a calibration round")
            chosen = random.Random(seed).sample(pool, min(size, len(pool)))
            started = pd.Timestamp.now().isoformat(timespec="seconds")
            cur = db.execute(
                "INSERT INTO rounds (service, contacts, started_at) VALUES (?, ?, ?)",
                (service, json.dumps(chosen), started),
            )
            db.executemany("DELETE FROM leases WHERE contact_id = ?", [(c,) for c in chosen])
            return {"id": cur.lastrowid, "service": service, "contacts": chosen, "started_at": started}

    def end_round(self, service: str) -> dict | None:
        """End the open calibration round of ``service`` (the decisions stay); returns it, or None if none was open."""
        with self._write() as db:
            active = self._active_round(db, service)
            if active is None:
                return None
            db.execute(
                "UPDATE rounds SET ended_at = ? WHERE id = ?",
                (pd.Timestamp.now().isoformat(timespec="seconds"), active["id"]),
            )
            return active

    def round(self, service: str | None) -> dict | None:
        """The open calibration round of ``service`` (``id``, ``contacts``, ``started_at``, ``done``: how many of
        its contacts each person has decided), or None."""
        db = self._db()
        active = self._active_round(db, service)
        if active is None:
            return None
        done = dict(
            db.execute(
                "SELECT person, COUNT(DISTINCT contact_id) FROM decisions WHERE round = ? AND undone = 0 "
                "GROUP BY person ORDER BY person",
                (active["id"],),
            ).fetchall()
        )
        return {**active, "done": done}

    def _active_round(self, db, service: str | None) -> dict | None:
        if service is None:
            return None
        row = db.execute(
            "SELECT id, contacts, started_at FROM rounds WHERE service = ? AND ended_at IS NULL ORDER BY id DESC",
            (service,),
        ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "service": service, "contacts": json.loads(row[1]), "started_at": row[2]}

    def _round_next(self, db, active: dict, person: str) -> str | None:
        mine = {
            r[0]
            for r in db.execute(
                "SELECT contact_id FROM decisions WHERE round = ? AND person = ? AND undone = 0", (active["id"], person)
            )
        }
        return next((c for c in active["contacts"] if c not in mine and c in self.contacts.index), None)

    def round_labels(self, service: str | None = None) -> pd.DataFrame:
        """Every calibration round's decisions, each person's latest on each contact: round, started_at, ended_at,
        contact_id, person, classification, failure_type (one row per round, contact and person)."""
        cols = ["round", "started_at", "ended_at", "contact_id", "person", "classification", "failure_type"]
        frame = pd.read_sql_query(
            "SELECT r.id AS round, r.started_at, r.ended_at, d.contact_id, d.person, d.classification, d.failure_type "
            "FROM decisions d JOIN (SELECT round, contact_id, person, MAX(seq) AS seq FROM decisions "
            "WHERE undone = 0 AND round IS NOT NULL GROUP BY round, contact_id, person) m ON d.seq = m.seq "
            "JOIN rounds r ON r.id = d.round"
            + (" WHERE r.service = ?" if service is not None else "")
            + " ORDER BY r.id, d.contact_id, d.person",
            self._db(),
            params=(service,) if service is not None else None,
        )
        return frame[cols]

    def discard_all(self) -> int:
        """Take back every decision, folded or not (``systemic import demand --replace`` discards the team's
        classifications in the file, so the workshop offers those contacts again); return how many contacts had
        one. The decisions stay in the store, marked undone."""
        with self._write() as db:
            (decided,) = db.execute("SELECT COUNT(DISTINCT contact_id) FROM decisions WHERE undone = 0").fetchone()
            db.execute("UPDATE decisions SET undone = 1 WHERE undone = 0")
            db.execute("DELETE FROM leases")
            db.execute("DELETE FROM skips")
        self._base = {}
        return int(decided)

    # ------------------------------------------------------------------------------------------------ reading
    def live(self) -> pd.DataFrame:
        """Each decided contact's decision that counts (the latest not undone), with who made it."""
        return pd.read_sql_query(_LIVE, self._db())

    def tally(self, service: str | None) -> dict:
        """Value, failure and unclassified contacts over the file's classifications and the workshop's decisions,
        how many the workshop decided, and the Pareto of demand types (most failure first)."""
        base = self._service_base(service)
        counts = Counter(base["counts"])
        pareto = {c: Counter(base["pareto"][c]) for c in CLASSIFICATIONS}
        in_file = base["file"]
        decided = 0
        for contact, classification, demand_type in self._db().execute(
            "SELECT contact_id, classification, demand_type FROM (" + _LIVE + ")"
        ):
            if contact not in in_file:
                continue
            decided += 1
            old, old_type = in_file[contact]
            if old in CLASSIFICATIONS:
                counts[old] -= 1
                pareto[old][old_type] -= 1
            else:
                counts["unclassified"] -= 1
            counts[classification] += 1
            pareto[classification][demand_type or old_type] += 1
        types = set(pareto["value"]) | set(pareto["failure"])
        rows = [
            {"demand_type": t, "value": int(pareto["value"][t]), "failure": int(pareto["failure"][t])}
            for t in types
            if pareto["value"][t] or pareto["failure"][t]
        ]
        rows.sort(key=lambda r: (-r["failure"], -r["value"], r["demand_type"]))
        for r in rows:
            r["demand_type"] = self._shown(r["demand_type"]) if r["demand_type"] != NO_DEMAND_TYPE else NO_DEMAND_TYPE
        return {
            "value": int(counts["value"]),
            "failure": int(counts["failure"]),
            "unclassified": int(counts["unclassified"]),
            "decided_in_workshop": decided,
            "pareto": rows,
        }

    def disagreements(self, service) -> pd.DataFrame:
        """Contacts where people decided differently (each person's latest decision): contact_id, demand_type,
        people (how many decided it) and said ("AB: failure (progress chasing); CD: value")."""
        cols = ["contact_id", "demand_type", "people", "said"]
        latest = pd.read_sql_query(
            "SELECT d.contact_id, d.person, d.classification, d.failure_type FROM decisions d JOIN "
            "(SELECT contact_id, person, MAX(seq) AS seq FROM decisions WHERE undone = 0 GROUP BY contact_id, person)"
            " m ON d.seq = m.seq ORDER BY d.contact_id, d.person",
            self._db(),
        )
        if service is not None:
            ids = self._service_base(service)["ids"]
            latest = latest[[c in ids for c in latest["contact_id"]]]
        if latest.empty:
            return pd.DataFrame(columns=cols)
        latest["what"] = np.where(
            latest["failure_type"].notna() & latest["classification"].eq("failure"),
            latest["classification"] + " (" + latest["failure_type"].fillna("") + ")",
            latest["classification"],
        )
        out = []
        for contact, group in latest.groupby("contact_id", sort=True):
            if group["what"].nunique() > 1:
                said = "; ".join(f"{p}: {w}" for p, w in zip(group["person"], group["what"]))
                demand_type = self.contacts.at[contact, "demand_type"] if contact in self.contacts.index else None
                out.append(
                    {"contact_id": contact, "demand_type": self._shown(demand_type), "people": len(group), "said": said}
                )
        return pd.DataFrame(out, columns=cols)

    # --------------------------------------------------------------------------------------------------- folding
    def fold(self) -> int:
        """Write the decisions not yet folded into the demand file; return how many contacts changed.

        The file is rewritten atomically under its lock with the previous version kept (``demand.csv.prev``); its
        other rows and columns stay as they were. Each decided row gets its classification, failure type (blank for
        value), demand type and what matters where the team gave them, and ``classified_by = coach:<person>``.
        Folded decisions are marked so that they are not folded twice.
        """
        live = self.live()
        todo = live[live["folded"] == 0]
        if todo.empty:
            return 0
        with locked(self.demand_path):
            raw, problems = read_raw(self.demand_path, "demand")
            if raw is None:
                raise SystemicError(
                    f"cannot fold the workshop's decisions into {self.demand_path.name}: "
                    + "; ".join(p.describe() for p in problems)
                )
            for col in ("classification", "failure_type", "demand_type", "what_matters", "classified_by"):
                if col not in raw.columns:
                    raw[col] = ""
            position = pd.Series(np.arange(len(raw)), index=raw["contact_id"].astype(str).str.strip())
            position = position[~position.index.duplicated()]
            todo = todo[todo["contact_id"].isin(position.index)]
            rows = position.loc[todo["contact_id"]].to_numpy()
            new = pd.DataFrame(
                {
                    "classification": todo["classification"].to_numpy(),
                    "failure_type": np.where(todo["classification"].eq("failure"), todo["failure_type"].fillna(""), ""),
                    "demand_type": todo["demand_type"]
                    .fillna(pd.Series(raw["demand_type"].to_numpy()[rows], index=todo.index))
                    .to_numpy(),
                    "what_matters": todo["what_matters"]
                    .fillna(pd.Series(raw["what_matters"].to_numpy()[rows], index=todo.index))
                    .to_numpy(),
                    "classified_by": (COACH + todo["person"]).to_numpy(),
                }
            )
            old = raw.iloc[rows][list(new.columns)].reset_index(drop=True).astype(str)
            changed = int((old.to_numpy() != new.to_numpy().astype(str)).any(axis=1).sum())
            if changed and self.demand_path.suffix.lower() == ".xlsx":
                _update_workbook(self.demand_path, todo["contact_id"].tolist(), new)
            elif changed:
                col_index = [raw.columns.get_loc(c) for c in new.columns]
                for j, col in zip(col_index, new.columns):
                    raw.iloc[rows, j] = new[col].to_numpy()
                write_table_atomic(raw, self.demand_path, keep_previous=True)
            self._mark_folded(todo)
        return changed

    def _mark_folded(self, todo: pd.DataFrame) -> None:
        """Mark the folded decisions (and any older ones for the same contacts) and update the cached file."""
        with self._write() as db:
            db.executemany(
                "UPDATE decisions SET folded = 1 WHERE contact_id = ? AND seq <= ? AND folded = 0",
                list(zip(todo["contact_id"], todo["seq"].astype(int))),
            )
        if self._contacts is not None:
            with self._cache_lock:
                ids = todo["contact_id"]
                self._contacts.loc[ids, "classification"] = todo["classification"].to_numpy()
                self._contacts.loc[ids, "demand_type"] = (
                    todo["demand_type"]
                    .fillna(pd.Series(self._contacts.loc[ids, "demand_type"].to_numpy(), index=todo.index))
                    .to_numpy()
                )
                self._base = {}
                self._stamp = _stamp(self.demand_path)  # our own fold: the cache is up to date, no re-read


def calibration(council_dir, service: str | None) -> pd.DataFrame:
    """The labels of a service's latest calibration round (``DecisionStore.round_labels`` of its last round), read
    without opening the store for writing (a report never creates or changes one); empty without a store or a round.
    A store that cannot be read gives none (the batch says so where it folds: ``fold_council``)."""
    cols = ["round", "started_at", "ended_at", "contact_id", "person", "classification", "failure_type"]
    path = store_path(council_dir)
    if not path.exists():
        return pd.DataFrame(columns=cols)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BATCH_WAIT) as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'rounds'").fetchone():
                return pd.DataFrame(columns=cols)
            frame = pd.read_sql_query(
                "SELECT r.id AS round, r.started_at, r.ended_at, d.contact_id, d.person, d.classification, "
                "d.failure_type FROM decisions d JOIN (SELECT round, contact_id, person, MAX(seq) AS seq FROM "
                "decisions WHERE undone = 0 AND round IS NOT NULL GROUP BY round, contact_id, person) m ON d.seq = "
                "m.seq JOIN rounds r ON r.id = d.round WHERE r.id = (SELECT MAX(id) FROM rounds WHERE service IS ?) "
                "ORDER BY d.contact_id, d.person",
                db,
                params=(service,),
            )
    except (sqlite3.Error, pd.errors.DatabaseError):
        return pd.DataFrame(columns=cols)
    return frame[cols]


def fold_council(council_dir) -> int:
    """Fold a council's workshop decisions into its demand file if it has a store; return how many contacts
    changed (0 if there is no store). The batch calls this before rendering. A store that cannot be read (damaged,
    locked for longer than the busy timeout, or some other program's database) raises StoreError, in plain words."""
    if not store_path(council_dir).exists() or find_table_file(Path(council_dir), "demand") is None:
        return 0
    try:
        store = DecisionStore(council_dir, wait=BATCH_WAIT)
        try:
            return store.fold()
        finally:
            store.close()
    except sqlite3.Error as exc:
        raise StoreError(store_path(council_dir), exc) from None
    except StoreBusy:
        raise StoreError(store_path(council_dir), sqlite3.OperationalError("database is locked")) from None


class StoreError(SystemicError):
    """The demand workshop's store cannot be read: what is wrong with it and how to fix it, without a traceback."""

    def __init__(self, path: Path, exc: sqlite3.Error):
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            what = f"is locked by another program for more than {BATCH_WAIT:.0f} s"
            fix = "finish or close the demand workshop (systemic coach) for this council, then run the report again"
        elif "not a database" in text or "malformed" in text or "corrupt" in text:
            what = "is damaged"
            fix = (
                "move it aside (it holds the team's decisions not yet written into the demand file) and run the "
                "report again; the workshop starts a new store"
            )
        else:
            what = f"is not a demand workshop store ({exc})"
            fix = "move it aside and run the report again; the workshop starts a new store"
        self.what, self.fix = what, fix
        super().__init__(f"{path.parent.parent.name}/{STORE.as_posix()} {what}. Fix: {fix}")


def _update_workbook(path: Path, contacts: list[str], new: pd.DataFrame) -> None:
    """Set the decided cells in the workbook's ``demand`` sheet, leaving every other cell (typed dates, numbers,
    other sheets, drop-downs) as it was; atomic, previous version kept."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book["demand"]
    header = [str(c.value).strip() if c.value is not None else "" for c in sheet[1]]
    for name in new.columns:
        if name not in header:
            header.append(name)
            sheet.cell(row=1, column=len(header), value=name).data_type = "s"
    column = {name: header.index(name) + 1 for name in new.columns}
    id_col = header.index("contact_id") + 1
    where: dict[str, int] = {}
    for r in range(2, sheet.max_row + 1):
        value = sheet.cell(row=r, column=id_col).value
        if value is not None:
            where.setdefault(str(value).strip(), r)
    for contact, values in zip(contacts, new.itertuples(index=False)):
        for name, value in zip(new.columns, values):
            cell = sheet.cell(row=where[contact], column=column[name])
            cell.value = value if isinstance(value, str) and value != "" else None
            if cell.value is not None:
                cell.data_type = "s"  # text, never a formula
    buf = io.BytesIO()
    book.save(buf)
    atomic_write_bytes(path, buf.getvalue(), keep_previous=True)


def _stamp(path: Path) -> tuple:
    """What changes when the file is replaced: its modification time and size."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def _blank(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    value = str(value).strip()
    return value or None


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _person(person) -> str:
    name = _blank(person)
    if name is None:
        raise SystemicError("say who is deciding: a name or initials")
    if len(name) > 60:
        raise SystemicError("a name or initials, please (at most 60 characters)")
    return name


def _plain(exc: sqlite3.OperationalError, path: Path) -> Exception:
    """A store another program holds locked, in words a coach can act on (StoreBusy); any other error as it is
    (``fold_council`` says what it means for the batch: StoreError)."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreBusy(
            f"the decision store ({path.name}) is locked by another program, so nothing was saved: "
            "try again in a moment (what you typed is kept)"
        )
    return exc
