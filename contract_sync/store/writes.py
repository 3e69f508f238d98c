"""Writes to the store: audit rows and run records (contracts: contract_writes)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.bulk import insert_frame
from contract_sync.store.db import WRITE_LOCK
from contract_sync.store.liveness import is_dead, unfinished_runs
from contract_sync.vocabulary import ItemChange, RunStatus

log = logging.getLogger(__name__)

AUDIT_COLUMNS = [
    c.name for c in s.audit_contracts.columns if c.name not in ("id", "run_id", "recorded_at")
]
CHANGE_COLUMNS = ["item_no", "change", "field", "before", "after", "overwritten"]


def now(connection: sa.Connection | None = None) -> datetime:
    """The time a record is stamped with: on PostgreSQL the database server's clock (one
    clock for every machine that writes), on SQLite this machine's."""
    if connection is not None and connection.dialect.name == "postgresql":
        return connection.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
    return datetime.now(UTC)


@contextmanager
def audit_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that appends to the audit log: the write lock taken at BEGIN on
    SQLite, the chain's end held on both."""
    with (
        engine.connect().execution_options(**{WRITE_LOCK: True}) as connection,
        connection.begin(),
    ):
        chain.lock(connection)
        yield connection


def start_run(engine: sa.Engine, run: dict) -> None:
    """A run's start record; runs found dead without an end are marked abandoned first."""
    mark_abandoned(engine)
    with audit_transaction(engine) as connection:
        connection.execute(s.sync_runs.insert(), {**run, "started_at": now(connection)})
        chain.append(connection, "sync_runs", [run["id"]])


def finish_run(engine: sa.Engine, run_id: str, status: str, repeated: int | None = None) -> None:
    """A run's end record."""
    with audit_transaction(engine) as connection:
        _end(connection, run_id, status, repeated)


def _end(connection: sa.Connection, run_id: str, status: str, repeated: int | None) -> None:
    """A run's end; none when it has one already (found abandoned while it still ran: its
    life lock was lost with its database session). The end stays as it was recorded."""
    ended = connection.execute(
        sa.select(s.run_ends.c.status).where(s.run_ends.c.run_id == run_id)
    ).scalar_one_or_none()
    if ended is not None:
        log.warning("run %s ends %s, but was recorded as %s before: kept", run_id, status, ended)
        return
    connection.execute(
        s.run_ends.insert(),
        {"run_id": run_id, "status": status, "at": now(connection), "contracts_repeated": repeated},
    )
    chain.append(connection, "run_ends", [run_id])


def mark_abandoned(engine: sa.Engine) -> list[str]:
    """End, as abandoned (now: when it was found), every run without an end whose process
    is gone. A run whose start is in no chain entry (inserted outside contract-sync) is
    never given an end: `audit verify` reports it. Returns the ids of the runs marked."""
    with engine.connect() as connection:
        unfinished = unfinished_runs(connection, chained_only=True)
    dead = [run_id for run_id in unfinished if is_dead(engine, run_id)]
    if not dead:
        return []
    with audit_transaction(engine) as connection:
        still = set(unfinished_runs(connection))  # one may have ended since
        found = [run_id for run_id in dead if run_id in still]
        for run_id in found:
            _end(connection, run_id, RunStatus.abandoned, None)
    return found


def insert_audit(
    connection: sa.Connection,
    run_id: str,
    audit: pd.DataFrame,
    changes: pd.DataFrame | None = None,
) -> None:
    """Audit rows for several contracts of one run, and their field changes."""
    if audit.empty:
        return
    chain.lock(connection)  # before the time is taken: the chain's order is time's order
    rows = audit[AUDIT_COLUMNS].assign(run_id=run_id, recorded_at=now(connection))
    # A refusal is recorded even for a code too long for the log (quarantined for it; its
    # full text is in failed_expectations).
    rows["contract_no"] = fit(rows["contract_no"], s.audit_contracts.c.contract_no)
    insert_frame(connection, s.audit_contracts, rows)
    numbers = rows["contract_no"].unique().tolist()
    ids = {}
    for start in range(0, len(numbers), 5_000):  # within every database's bound parameters
        ids |= dict(
            connection.execute(
                sa.select(s.audit_contracts.c.contract_no, s.audit_contracts.c.id).where(
                    s.audit_contracts.c.run_id == run_id,
                    s.audit_contracts.c.contract_no.in_(numbers[start : start + 5_000]),
                )
            ).all()
        )
    chain.append(connection, "audit_contracts", sorted(ids.values()))
    if changes is None:
        return
    changes = changes[
        changes["contract_no"].isin(audit["contract_no"]) & changes["change"].ne(ItemChange.kept)
    ]
    if changes.empty:
        return
    changes = changes.assign(
        contract_no=fit(changes["contract_no"], s.audit_contracts.c.contract_no),
        item_no=fit(changes["item_no"], s.audit_changes.c.item_no),
    )
    audit_changes = changes.assign(audit_id=changes["contract_no"].map(ids))
    insert_frame(connection, s.audit_changes, audit_changes[["audit_id", *CHANGE_COLUMNS]])
    chain.append(
        connection,
        "audit_changes",
        connection.execute(
            sa.select(s.audit_changes.c.id).where(
                s.audit_changes.c.audit_id.in_(sorted(set(audit_changes["audit_id"])))
            )
        )
        .scalars()
        .all(),
    )


def fit(values: pd.Series, column: sa.Column) -> pd.Series:
    """Text cut to the column's length, marked with an ellipsis where it was cut."""
    text = values.astype("string")
    length = column.type.length
    return text.where(text.str.len().fillna(0) <= length, text.str[: length - 1] + "…")
