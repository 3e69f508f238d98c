"""The audit log's hash chain: every audit record (run starts and ends, contract rows, field
changes, directory changes) is chained to the one before it. Record N's digest is SHA-256
over record N-1's digest and record N's canonical content, read back from the database as
`verify` reads it. Appends are serialised (PostgreSQL: a transaction-level advisory lock;
SQLite: the write lock of BEGIN IMMEDIATE) and take their timestamps under that lock, so
the chain's order is also the order of time.

`verify` recomputes the chain and names the first record altered, missing, backdated or
inserted outside it; checked against a head kept elsewhere, it also catches a chain that
was rewritten or cut short.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from contract_sync.store import schema as s

GENESIS = "0" * 64
CHAIN_LOCK = 7_246_117_001  # PostgreSQL advisory lock key of the chain's end
CHUNK = 20_000  # chain entries verified per round trip


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
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()
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


def rebuild(connection: sa.Connection) -> int:
    """Chain every record of a log that has no chain yet, in the order of time (a store's
    existing log, when the chain is introduced). Returns how many were chained."""
    events, times = [], {}
    for rank, (table, (key_column, time_column)) in enumerate(s.CHAINED.items()):
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
    records: int  # chain entries checked
    head: tuple[int, str]  # (seq, digest) of the last entry
    problem: str | None  # the first thing wrong, in words; None when the log is intact


def verify(connection: sa.Connection, kept_head: tuple[int, str] | None = None) -> Verdict:
    """Recompute the chain from the records; the first problem found, in words."""
    seq, previous, latest = 0, GENESIS, None
    for entries in _chain_chunks(connection):
        records = _records_of(connection, entries)
        for entry in entries:
            record = records[entry.record_table].get(entry.record_key)
            digest = (
                None if record is None else _next(previous, canonical(entry.record_table, record))
            )
            at = None if record is None else _time(entry.record_table, record)
            if problem := _entry_problem(entry, seq, record, digest, at, latest):
                return Verdict(seq, (seq, previous), problem)
            seq, previous, latest = entry.seq, digest, at or latest
    problem = (kept_head and _against(connection, kept_head, seq)) or _unchained(connection)
    return Verdict(seq, (seq, previous), problem or None)


def _entry_problem(
    entry: sa.Row,
    seq: int,
    record: dict | None,
    digest: str | None,
    at: str | None,
    latest: str | None,
) -> str | None:
    where = f"record {entry.record_table} {entry.record_key} (chain entry {entry.seq})"
    if entry.seq != seq + 1:
        return f"chain entries {seq + 1} to {entry.seq - 1} are missing"
    if record is None:
        return f"{where} is missing: deleted"
    if digest != entry.digest:
        return f"{where} was altered: its content is not the one chained"
    if at is not None and latest is not None and at < latest:
        return f"{where} is dated {at}, before the record chained before it ({latest}): backdated"
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


def _time(table: str, record: dict) -> str | None:
    time_column = s.CHAINED[table][1]
    return None if time_column is None else _plain(record[time_column.name])


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
        chained = sa.select(c.record_key).where(c.record_table == table)
        key = connection.execute(
            sa.select(key_column)
            .where(sa.cast(key_column, sa.String).not_in(chained))
            .order_by(key_column)
            .limit(1)
        ).scalar_one_or_none()
        if key is not None:
            return f"record {table} {key} is in no chain entry: inserted outside contract-sync"
    return None
