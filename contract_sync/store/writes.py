"""Writes to the store: one contract's re-import, audit rows and run records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from contract_sync.bulk import insert_frame, records
from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS
from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.db import WRITE_LOCK
from contract_sync.store.liveness import is_dead
from contract_sync.vocabulary import IMPORTED_STATUS, RunStatus

log = logging.getLogger(__name__)

AUDIT_COLUMNS = [
    c.name for c in s.audit_contracts.columns if c.name not in ("id", "run_id", "recorded_at")
]
CHANGE_COLUMNS = ["item_no", "change", "field", "before", "after", "overwritten"]


class StaleContract(RuntimeError):
    """The store contract changed after it was compared."""


class LockedContract(RuntimeError):
    """Another run is writing this contract right now."""


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for FOR UPDATE NOWAIT on a locked row


@contextmanager
def contract_transaction(engine: sa.Engine, contract_id: int) -> Iterator[sa.Connection]:
    """One contract's write transaction, holding its lock: the row lock on PostgreSQL (never
    waited for), SQLite's write lock (taken at BEGIN). Raises LockedContract."""
    try:
        with (
            engine.connect().execution_options(**{WRITE_LOCK: True}) as connection,
            connection.begin(),
        ):
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.select(s.main_contracts.c.id)
                    .where(s.main_contracts.c.id == contract_id)
                    .with_for_update(nowait=True)
                )
            yield connection
    except sa.exc.OperationalError as error:
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate == LOCK_NOT_AVAILABLE or "database is locked" in str(error.orig):
            raise LockedContract(
                f"contract {contract_id} is being written by another run"
            ) from error
        raise


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


def unfinished_runs(connection: sa.Connection) -> list[str]:
    r, e = s.sync_runs.c, s.run_ends.c
    return list(
        connection.execute(
            sa.select(r.id).where(r.id.not_in(sa.select(e.run_id))).order_by(r.started_at)
        ).scalars()
    )


def mark_abandoned(engine: sa.Engine) -> list[str]:
    """End, as abandoned (now: when it was found), every run without an end whose process
    is gone. Returns their ids."""
    with engine.connect() as connection:
        dead = [run_id for run_id in unfinished_runs(connection) if is_dead(engine, run_id)]
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
        changes["contract_no"].isin(audit["contract_no"]) & changes["change"].ne("kept")
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


def reimport_contract(
    connection: sa.Connection,
    header: pd.Series,
    items: pd.DataFrame,
    erp_items: pd.DataFrame,
    erp_hash: str,
) -> int:
    """Write one contract's re-import; returns the new version. Raises StaleContract."""
    contract_id, version = int(header["contract_id"]), int(header["version"])
    values = {f: (None if pd.isna(header[f]) else header[f]) for f in HEADER_FIELDS}
    updated = connection.execute(
        s.main_contracts.update()
        .where(s.main_contracts.c.id == contract_id, s.main_contracts.c.version == version)
        .values(**values, version=version + 1, updated_at=now())
    )
    if updated.rowcount != 1:
        raise StaleContract(f"contract {header['contract_no']} changed in the store since compare")
    removed = items.loc[items["change"] == "removed", "item_id"].astype(int).tolist()
    if removed:
        connection.execute(s.line_items.delete().where(s.line_items.c.id.in_(removed)))
    changed = items[items["change"].isin(["changed", "renumbered"])]
    if not changed.empty:
        connection.execute(
            s.line_items.update()
            .where(s.line_items.c.id == sa.bindparam("item_id"))
            .values({f: sa.bindparam(f) for f in ITEM_FIELDS}),
            records(changed[["item_id", *ITEM_FIELDS]]),
        )
    added = items[items["change"] == "added"]
    added = added.assign(
        item_code=added["item_no"].map(erp_items.set_index("item_no")["item_code"])
    )
    insert_frame(
        connection,
        s.line_items,
        added[["item_code", *ITEM_FIELDS]]
        .rename(columns={"item_code": "origin_id"})
        .assign(contract_id=contract_id),
    )
    _replace_baseline(connection, contract_id, header, erp_items, erp_hash)
    return version + 1


def settle_baseline(
    connection: sa.Connection,
    contract_id: int,
    erp_header: pd.Series,
    erp_items: pd.DataFrame,
    erp_hash: str,
) -> None:
    """The baseline becomes the ERP's current values (the store already matches them)."""
    _replace_baseline(connection, contract_id, erp_header, erp_items, erp_hash)


def _replace_baseline(
    connection: sa.Connection,
    contract_id: int,
    header: pd.Series,
    erp_items: pd.DataFrame,
    erp_hash: str,
) -> None:
    baseline = {
        f: (None if pd.isna(header[f"erp_{f}"]) else header[f"erp_{f}"]) for f in HEADER_FIELDS
    }
    connection.execute(
        s.import_baselines.delete().where(s.import_baselines.c.contract_id == contract_id)
    )
    connection.execute(
        s.import_baselines.insert(),
        {**baseline, "contract_id": contract_id, "erp_hash": erp_hash, "imported_at": now()},
    )
    connection.execute(
        s.baseline_items.delete().where(s.baseline_items.c.contract_id == contract_id)
    )
    insert_frame(
        connection,
        s.baseline_items,
        erp_items[["item_no", *ITEM_FIELDS]].assign(contract_id=contract_id),
    )


def import_contract(
    connection: sa.Connection,
    company_id: int,
    project_id: int,
    header: pd.Series,
    erp_items: pd.DataFrame,
    erp_hash: str,
) -> int:
    """Create the store contract of an ERP contract, its items and baseline; returns its id."""
    values = {f: (None if pd.isna(header[f]) else header[f]) for f in HEADER_FIELDS}
    contract_id = connection.execute(
        s.main_contracts.insert().returning(s.main_contracts.c.id),
        {
            **values,
            "company_id": company_id,
            "project_id": project_id,
            "origin_id": header["contract_code"],
            "number": header["contract_no"],
            "status": IMPORTED_STATUS.get(header["erp_status"], "Draft"),
            "version": 1,
            "updated_at": now(),
        },
    ).scalar_one()
    insert_frame(
        connection,
        s.line_items,
        erp_items[["item_code", *ITEM_FIELDS]]
        .rename(columns={"item_code": "origin_id"})
        .assign(contract_id=contract_id),
    )
    _replace_baseline(
        connection, contract_id, header.rename(lambda f: f"erp_{f}"), erp_items, erp_hash
    )
    return contract_id
