"""The hash chain built by revision 0005 over a store's existing audit log, frozen as of
that revision: the tables as they were then, their canonical text and the SHA-256 chain
over it, copied from contract_sync.store.chain as it was when 0005 was written. A store
migrated through 0005 holds these digests, whatever the chain's code becomes: never make
this module follow later changes (a revision that needs another chain has its own code)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from contract_sync.store.migrations.scaled_0001 import Scaled

GENESIS = "0" * 64
CHUNK = 20_000  # chain entries inserted per statement

_tables = sa.MetaData()
_time = sa.DateTime(timezone=True)

# The chained tables at revision 0005, with the types their values are read with.
SYNC_RUNS = sa.Table(
    "sync_runs",
    _tables,
    sa.Column("id", sa.String(36)),
    sa.Column("company_id", sa.Integer),
    sa.Column("trigger", sa.String(20)),
    sa.Column("deployment", sa.String(120)),
    sa.Column("actor", sa.String(80)),
    sa.Column("parameters", sa.JSON),
    sa.Column("dry_run", sa.Boolean),
    sa.Column("started_at", _time),
)
RUN_ENDS = sa.Table(
    "run_ends",
    _tables,
    sa.Column("run_id", sa.String(36)),
    sa.Column("status", sa.String(20)),
    sa.Column("at", _time),
    sa.Column("contracts_repeated", sa.Integer),
)
AUDIT_CONTRACTS = sa.Table(
    "audit_contracts",
    _tables,
    sa.Column("id", sa.Integer),
    sa.Column("run_id", sa.String(36)),
    sa.Column("erp_company", sa.Integer),
    sa.Column("contract_no", sa.String(40)),
    sa.Column("project_id", sa.Integer),
    sa.Column("contract_id", sa.Integer),
    sa.Column("outcome", sa.String(20)),
    sa.Column("reasons", sa.String(400)),
    sa.Column("failed_expectations", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("items_added", sa.Integer),
    sa.Column("items_changed", sa.Integer),
    sa.Column("items_removed", sa.Integer),
    sa.Column("items_unchanged", sa.Integer),
    sa.Column("header_changes", sa.Integer),
    sa.Column("amount_before", Scaled(15, 2)),
    sa.Column("amount_after", Scaled(15, 2)),
    sa.Column("erp_hash", sa.String(64)),
    sa.Column("version_before", sa.Integer),
    sa.Column("version_after", sa.Integer),
    sa.Column("recorded_at", _time),
)
AUDIT_CHANGES = sa.Table(
    "audit_changes",
    _tables,
    sa.Column("id", sa.Integer),
    sa.Column("audit_id", sa.Integer),
    sa.Column("item_no", sa.String(40)),
    sa.Column("change", sa.String(10)),
    sa.Column("field", sa.String(40)),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("overwritten", sa.Boolean),
)
DIRECTORY_CHANGES = sa.Table(
    "directory_changes",
    _tables,
    sa.Column("id", sa.Integer),
    sa.Column("change_set", sa.String(36)),
    sa.Column("recorded_at", _time),
    sa.Column("actor", sa.String(80)),
    sa.Column("source", sa.Text),
    sa.Column("erp_company", sa.Integer),
    sa.Column("entry", sa.String(400)),
    sa.Column("kind", sa.String(20)),
    sa.Column("action", sa.String(10)),
    sa.Column("before", sa.JSON(none_as_null=True)),
    sa.Column("after", sa.JSON(none_as_null=True)),
    sa.Column("security_event", sa.Boolean),
)
AUDIT_CHAIN = sa.Table(
    "audit_chain",
    _tables,
    sa.Column("seq", sa.Integer),
    sa.Column("record_table", sa.String(40)),
    sa.Column("record_key", sa.String(40)),
    sa.Column("digest", sa.String(64)),
)

# The records chained, in this order at equal times: (table, its key, the time it was
# recorded at; None for a field change, which takes the time of its audit_contracts row).
CHAINED = [
    (SYNC_RUNS, "id", "started_at"),
    (RUN_ENDS, "run_id", "at"),
    (AUDIT_CONTRACTS, "id", "recorded_at"),
    (AUDIT_CHANGES, "id", None),
    (DIRECTORY_CHANGES, "id", "recorded_at"),
]
KEYS = {table.name: key for table, key, _time_column in CHAINED}


def rebuild(connection: sa.Connection) -> int:
    """Chain every record of the existing log, in the order of time; how many were chained."""
    events, times = [], {}
    for rank, (table, key, time_column) in enumerate(CHAINED):
        for row in connection.execute(sa.select(table)):
            record = dict(row._mapping)
            if time_column is not None:
                at = _plain(record[time_column])
                times[(table.name, record[key])] = at
            else:
                at = times[("audit_contracts", record["audit_id"])]
            events.append((at, rank, record[key], table.name, record))
    events.sort(key=lambda event: event[:3])
    _chain(connection, [(table, record) for *_, table, record in events])
    return len(events)


def canonical(table: str, row: Mapping) -> str:
    """One record as text: its table and every column that holds a value, keys sorted,
    times in UTC."""
    values = {name: _plain(value) for name, value in row.items() if value is not None}
    return json.dumps([table, values], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _utc(value: datetime) -> datetime:
    """A stored time in UTC (SQLite gives it back without a zone: it was written in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _next(previous: str, text: str) -> str:
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()


def _head(connection: sa.Connection) -> tuple[int, str]:
    c = AUDIT_CHAIN.c
    last = connection.execute(sa.select(c.seq, c.digest).order_by(c.seq.desc()).limit(1)).first()
    return (last.seq, last.digest) if last else (0, GENESIS)


def _chain(connection: sa.Connection, records: list[tuple[str, dict]]) -> None:
    """Append (table, record) pairs to the chain, in this order."""
    seq, previous = _head(connection)
    entries = []
    for table, record in records:
        seq += 1
        previous = _next(previous, canonical(table, record))
        key = str(record[KEYS[table]])
        entries.append({"seq": seq, "record_table": table, "record_key": key, "digest": previous})
    for start in range(0, len(entries), CHUNK):
        connection.execute(AUDIT_CHAIN.insert(), entries[start : start + CHUNK])
