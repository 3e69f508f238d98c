"""The audit log's hash chain: every audit record (run starts and ends, contract rows, field
changes, directory changes) is chained to the one before it. Record N's digest is SHA-256
over record N-1's digest and record N's canonical content, read back from the database as
`verify` reads it. Appends are serialised (PostgreSQL: a transaction-level advisory lock;
SQLite: the write lock of BEGIN IMMEDIATE) and take their timestamps under that lock, so
the chain's order is also the order of time.

`verify` writes nothing. It names an audit table or column that is not there and every
append-only guard missing, disabled or altered; recomputes the chain and names the first
record altered, missing, backdated or inserted outside it (checked against a head kept
elsewhere, it also catches a chain that was rewritten or cut short); and names each run
with no end whose process is gone (marking it abandoned is writes.mark_abandoned's job).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from contract_sync.store import schema as s
from contract_sync.store.append_only import guard_problems
from contract_sync.store.liveness import Life, life, unfinished_runs

GENESIS = "0" * 64
CHAIN_LOCK = 7_246_117_001  # PostgreSQL advisory lock key of the chain's end
CHUNK = 20_000  # chain entries verified per round trip
# A record dated this much before the one chained before it is backdated; less is a clock
# that stepped back (NTP), or two writers' clocks a little apart.
CLOCK_TOLERANCE = timedelta(minutes=1)


def lock(connection: sa.Connection) -> None:
    """Hold the chain's end for this transaction (on SQLite the caller's BEGIN IMMEDIATE
    already does). Take it before the timestamps of the records to append."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def canonical(table: str, row: Mapping) -> str:
    """One record as text: its table and every column that holds a value, keys sorted,
    times in UTC. (A column added later, empty in older records, leaves their text as is.)"""
    values = {name: _plain(value) for name, value in row.items() if value is not None}
    return json.dumps([table, values], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _next(previous: str, text: str) -> str:
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()


def _records(connection: sa.Connection, table: str, keys: list) -> dict[str, dict]:
    """The records of `table` with these keys, by key as text."""
    key_column = s.CHAINED[table][0]
    found = {}
    for start in range(0, len(keys), 5_000):
        query = sa.select(key_column.table).where(key_column.in_(keys[start : start + 5_000]))
        for row in connection.execute(query):
            found[str(row._mapping[key_column.name])] = dict(row._mapping)
    return found


def head(connection: sa.Connection) -> tuple[int, str]:
    """(seq, digest) of the chain's last entry; (0, GENESIS) when it is empty."""
    c = s.audit_chain.c
    last = connection.execute(sa.select(c.seq, c.digest).order_by(c.seq.desc()).limit(1)).first()
    return (last.seq, last.digest) if last else (0, GENESIS)


def append(connection: sa.Connection, table: str, keys: list) -> None:
    """Chain the records `keys` of `table`, inserted in this transaction (under `lock`)."""
    if not keys:
        return
    records = _records(connection, table, keys)
    key_name = s.CHAINED[table][0].name
    ordered = sorted(records.values(), key=lambda record: record[key_name])
    _chain(connection, [(table, record) for record in ordered])


def _chain(connection: sa.Connection, records: list[tuple[str, dict]]) -> None:
    """Append (table, record) pairs to the chain, in this order."""
    seq, previous = head(connection)
    entries = []
    for table, record in records:
        seq += 1
        previous = _next(previous, canonical(table, record))
        key = str(record[s.CHAINED[table][0].name])
        entries.append({"seq": seq, "record_table": table, "record_key": key, "digest": previous})
    for start in range(0, len(entries), CHUNK):
        connection.execute(s.audit_chain.insert(), entries[start : start + CHUNK])


def rebuild(connection: sa.Connection, tables: list[str] | None = None) -> int:
    """Chain every record of a log that has no chain yet, in the order of time (a store's
    existing log, when the chain is introduced): of `tables`, by default every chained one.
    Returns how many were chained."""
    events, times = [], {}
    chained = [(t, s.CHAINED[t]) for t in tables or s.CHAINED]
    for rank, (table, (key_column, time_column)) in enumerate(chained):
        for row in connection.execute(sa.select(key_column.table)):
            record = dict(row._mapping)
            if time_column is not None:
                at = _plain(record[time_column.name])
                times[(table, record[key_column.name])] = at
            else:  # a field change takes the time of its audit_contracts row
                at = times[("audit_contracts", record["audit_id"])]
            events.append((at, rank, record[key_column.name], table, record))
    events.sort(key=lambda event: event[:3])
    _chain(connection, [(table, record) for *_, table, record in events])
    return len(events)


@dataclass(frozen=True)
class Verdict:
    """What `verify` found (it wrote nothing)."""

    records: int  # chain entries checked
    head: tuple[int, str]  # (seq, digest) of the last entry
    # What was done to the log, in words: a table, column or guard gone or altered, and the
    # chain's first record broken.
    tampering: tuple[str, ...] = ()
    unended: tuple[tuple[str, Life], ...] = ()  # each run with no end: its id, its lock's word

    @property
    def problems(self) -> tuple[str, ...]:
        """Everything wrong: the tampering, then each run with no end and no process."""
        ended = tuple(_no_end(run, life) for run, life in self.unended if life is not Life.ALIVE)
        return self.tampering + ended

    @property
    def problem(self) -> str | None:
        """The problems in one line; None when the log is intact."""
        return "; ".join(self.problems) or None

    @property
    def running(self) -> list[str]:
        """The runs with no end yet whose process holds its lock: still running."""
        return [run for run, life in self.unended if life is Life.ALIVE]


def _no_end(run_id: str, found: Life) -> str:
    then = {
        Life.DEAD: "`contract-sync audit mark-abandoned` records it abandoned",
        Life.UNKNOWN: "killed, or this is a copy of the database without its runs' lock files",
    }[found]
    return f"run {run_id} has no end, and {found.value} ({then})"


def verify(connection: sa.Connection, kept_head: tuple[int, str] | None = None) -> Verdict:
    """Check the log, writing nothing: its tables and guards, its chain (the first record
    broken; against a head kept elsewhere, a chain rewritten or cut short), and its runs
    with no end. A table that is not there is reported, and the chain left unread."""
    absent = set(s.APPEND_ONLY_TABLES) - set(sa.inspect(connection).get_table_names())
    guards = guard_problems(connection, skipped=absent)
    if missing := missing_columns(connection, absent):
        return Verdict(0, (0, GENESIS), (*missing, *guards))
    walk = _Walk()
    broken = (
        _broken_record(connection, walk)
        or (kept_head and _against(connection, kept_head, walk.seq))
        or _unchained(connection)
    )
    unended = tuple((run, life(connection.engine, run)) for run in unfinished_runs(connection))
    tampering = ((broken,) if broken else ()) + tuple(guards)
    return Verdict(walk.seq, (walk.seq, walk.previous), tampering, unended)


def _broken_record(connection: sa.Connection, walk: _Walk) -> str | None:
    """The chain walked from its start: the first record that breaks it, in words."""
    for entries in _chain_chunks(connection):
        records = _records_of(connection, entries)
        for entry in entries:
            if problem := walk.step(entry, records[entry.record_table].get(entry.record_key)):
                return problem
    return None


def missing_columns(connection: sa.Connection, absent: set[str]) -> list[str]:
    """Each audit table (of `absent`), or column of one, that the schema has and the
    database lacks."""
    inspector = sa.inspect(connection)
    missing = []
    for name in s.APPEND_ONLY_TABLES:
        if name in absent:
            missing.append(f"the audit table {name} is missing: renamed or dropped")
            continue
        columns = {column["name"] for column in inspector.get_columns(name)}
        gone = [c.name for c in s.metadata.tables[name].columns if c.name not in columns]
        if gone:
            missing.append(
                f"the audit table {name} has no column {', '.join(gone)}: renamed or dropped"
            )
    return missing


class _Walk:
    """The chain read in order: its digests, the order of time (with CLOCK_TOLERANCE for
    clocks that step back), and the order of each run (start, its records, end)."""

    def __init__(self) -> None:
        self.seq, self.previous, self.latest = 0, GENESIS, None
        self.started: set[str] = set()
        self.ended: set[str] = set()
        self.audit_runs: dict[str, str] = {}  # audit_contracts id -> its run

    def step(self, entry: sa.Row, record: dict | None) -> str | None:
        where = f"record {entry.record_table} {entry.record_key} (chain entry {entry.seq})"
        if entry.seq != self.seq + 1:
            return f"chain entries {self.seq + 1} to {entry.seq - 1} are missing"
        if record is None:
            return f"{where} is missing: deleted"
        digest = _next(self.previous, canonical(entry.record_table, record))
        if digest != entry.digest:
            return f"{where} was altered: its content is not the one chained"
        at = _time(entry.record_table, record)
        if at is not None and self.latest is not None and at < self.latest - CLOCK_TOLERANCE:
            return f"{where} is dated {at}, before the record chained before it: backdated"
        if problem := self._run_order(entry.record_table, entry.record_key, record):
            return f"{where} {problem}"
        self.seq, self.previous = entry.seq, digest
        self.latest = max(self.latest or at, at) if at is not None else self.latest
        return None

    def _run_order(self, table: str, key: str, record: dict) -> str | None:
        """How the record breaks its run's order (start, its records, end); None if not."""
        if table in ("directory_changes", "web_events"):
            return None
        if table == "sync_runs":
            self.started.add(record["id"])
            return None
        changes = table == "audit_changes"
        run = self.audit_runs.get(str(record["audit_id"])) if changes else record["run_id"]
        if run not in self.started:
            return "belongs to no run started before it"
        if run in self.ended:
            return "was recorded after its run had ended"
        if table == "run_ends":
            self.ended.add(run)
        elif table == "audit_contracts":
            self.audit_runs[key] = run
        return None


def _records_of(connection: sa.Connection, entries: list[sa.Row]) -> dict[str, dict[str, dict]]:
    """table -> key -> record, for the records these chain entries name."""
    keys: dict[str, list] = {table: [] for table in s.CHAINED}
    for entry in entries:
        if entry.record_table in keys:  # an entry naming no audit table names no record
            keys[entry.record_table].append(_typed_key(entry))
    found = {table: _records(connection, table, wanted) for table, wanted in keys.items()}
    return {**{entry.record_table: {} for entry in entries}, **found}


def _chain_chunks(connection: sa.Connection) -> Iterator[list]:
    c = s.audit_chain.c
    after = 0
    while True:
        entries = connection.execute(
            sa.select(c.seq, c.record_table, c.record_key, c.digest)
            .where(c.seq > after)
            .order_by(c.seq)
            .limit(CHUNK)
        ).all()
        if not entries:
            return
        yield entries
        after = entries[-1].seq


def _typed_key(entry: sa.Row) -> object:
    key_column = s.CHAINED[entry.record_table][0]
    numeric = isinstance(key_column.type, sa.Integer) and entry.record_key.isdigit()
    return int(entry.record_key) if numeric else entry.record_key


def _time(table: str, record: dict) -> datetime | None:
    time_column = s.CHAINED[table][1]
    if time_column is None or record.get(time_column.name) is None:
        return None
    return utc(record[time_column.name])


def utc(value: datetime) -> datetime:
    """A stored time in UTC (SQLite gives it back without a zone: it was written in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _against(connection: sa.Connection, kept: tuple[int, str], length: int) -> str | None:
    seq, digest = kept
    if length < seq:
        return f"the chain ends at entry {length}, before the head you kept ({seq}): cut short"
    c = s.audit_chain.c
    found = connection.execute(sa.select(c.digest).where(c.seq == seq)).scalar_one_or_none()
    if found != digest:
        return f"the chain's entry {seq} is {found}, not the head you kept: it was rewritten"
    return None


def _unchained(connection: sa.Connection) -> str | None:
    """The first record that is in no chain entry: inserted outside contract-sync."""
    c = s.audit_chain.c
    for table, (key_column, _time_column) in s.CHAINED.items():
        chained = sa.exists().where(
            c.record_table == table, c.record_key == sa.cast(key_column, sa.String)
        )
        key = connection.execute(
            sa.select(key_column).where(~chained).order_by(key_column).limit(1)
        ).scalar_one_or_none()
        if key is not None:
            return f"record {table} {key} is in no chain entry: inserted outside contract-sync"
    return None
