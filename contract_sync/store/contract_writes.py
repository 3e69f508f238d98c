"""Writes of store contracts, many at a time: re-imports, first imports, baselines.

Each function writes a set of contracts in a few set-based statements; the caller decides
how many contracts share a transaction (contract_sync.stages.apply: a group, in a savepoint,
and each contract in a savepoint of its own when the group's writes fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import (
    BASELINE_HEADER_FIELDS,
    BASELINE_ITEM_KEY,
    HEADER_FIELDS,
    ITEM_FIELDS,
)
from contract_sync.store import schema as s
from contract_sync.store.bulk import (
    delete_rows,
    insert_columns,
    insert_frame,
    records,
    update_columns,
    upsert_columns,
)
from contract_sync.store.db import WRITE_LOCK
from contract_sync.store.writes import now
from contract_sync.vocabulary import IMPORTED_STATUS, ContractStatus, ItemChange

IN_CHUNK = 5_000  # ids per IN list, within every database's bound parameters


class StaleContract(RuntimeError):
    """The store contract changed after it was compared."""


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when a lock is not had in time


class LockedContract(RuntimeError):
    """Another run is writing this contract right now."""


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that writes contracts: SQLite's write lock taken at BEGIN (waited for
    up to the busy timeout); on PostgreSQL see `hold_contracts`. Raises LockedContract when
    SQLite's lock is not had."""
    try:
        with (
            engine.connect().execution_options(**{WRITE_LOCK: True}) as connection,
            connection.begin(),
        ):
            yield connection
    except sa.exc.OperationalError as error:
        if "database is locked" in str(error.orig):
            raise LockedContract("the store is being written by another run") from error
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:  # lock_timeout
            raise LockedContract("items of these contracts are held by another writer") from error
        raise


def hold_contracts(connection: sa.Connection, contract_ids: list[int]) -> pd.DataFrame:
    """Lock these contracts for this transaction, in id order, never waiting: on PostgreSQL
    the rows another transaction holds are skipped (SQLite's write lock holds them all).
    Returns contract_id, version, held: the contracts that exist; held False for one that
    another run holds."""
    c = s.main_contracts.c
    ids = sorted(contract_ids)
    query = sa.select(c.id.label("contract_id"), c.version).order_by(c.id)
    postgresql = connection.dialect.name == "postgresql"
    locking = query.with_for_update(skip_locked=True) if postgresql else query
    held = _select_in(connection, locking, c.id, ids).assign(held=True)
    if not postgresql or len(held) == len(ids):
        return held
    found = set(held["contract_id"])
    missing = [i for i in ids if i not in found]
    others = _select_in(connection, query, c.id, missing).assign(held=False)
    return pd.concat([held, others], ignore_index=True)


def _select_in(
    connection: sa.Connection, query: sa.Select, column: sa.Column, values: list
) -> pd.DataFrame:
    rows = []
    for start in range(0, len(values), IN_CHUNK):
        part = query.where(column.in_(values[start : start + IN_CHUNK]))
        rows += connection.execute(part).all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def reimport_contracts(
    connection: sa.Connection, headers: pd.DataFrame, items: pd.DataFrame
) -> None:
    """Write the re-import of these contracts, which this transaction holds.

    `headers`: contract_id, version (as compared) and the target header fields; `items`:
    the compared items of the same contracts (contract_id, item_id, item_code, change and
    target fields). Each version moves on by one; StaleContract if one moved meanwhile.
    Their baselines are the caller's (replace_baselines).
    """
    c = s.main_contracts.c
    update = (
        s.main_contracts.update()
        .where(c.id == sa.bindparam("contract_id"), c.version == sa.bindparam("version_before"))
        .values(
            {
                **{f: sa.bindparam(f"new_{f}") for f in HEADER_FIELDS},
                "version": sa.bindparam("version_after"),
                "updated_at": now(),
            }
        )
    )
    values = headers[["contract_id", *HEADER_FIELDS]].assign(
        version_before=headers["version"], version_after=headers["version"] + 1
    )
    updated = connection.execute(
        update, records(values.rename(columns={f: f"new_{f}" for f in HEADER_FIELDS}))
    )
    if updated.rowcount != len(headers):
        raise StaleContract("a contract changed in the store since compare")
    removed = items.loc[items["change"] == ItemChange.removed, "item_id"].astype("int64").tolist()
    for start in range(0, len(removed), IN_CHUNK):
        chunk = removed[start : start + IN_CHUNK]
        connection.execute(s.line_items.delete().where(s.line_items.c.id.in_(chunk)))
    changed = items[items["change"].isin([ItemChange.changed, ItemChange.renumbered])]
    update_columns(
        connection,
        s.line_items,
        changed[["item_id", *ITEM_FIELDS]].rename(columns={"item_id": "id"}),
        within=("contract_id", headers["contract_id"].astype("int64").tolist()),
    )
    added = items[items["change"] == ItemChange.added]
    insert_columns(
        connection,
        s.line_items,
        added[["contract_id", "item_code", *ITEM_FIELDS]].rename(
            columns={"item_code": "origin_id"}
        ),
    )


def fill_baseline_statuses(connection: sa.Connection, statuses: pd.DataFrame) -> None:
    """Baselines of these contracts (contract_id, erp_hash, erp_status) that hold no ERP
    status take it, where their hash is still the given one."""
    b = s.import_baselines
    fill = (
        b.update()
        .where(
            b.c.contract_id == sa.bindparam("id"),
            b.c.erp_hash == sa.bindparam("hash"),
            b.c.erp_status.is_(None),
        )
        .values(erp_status=sa.bindparam("status"))
    )
    rows = statuses.rename(
        columns={"contract_id": "id", "erp_hash": "hash", "erp_status": "status"}
    )
    connection.execute(fill, records(rows))


def replace_baselines(
    connection: sa.Connection, headers: pd.DataFrame, changes: pd.DataFrame
) -> None:
    """The baselines of these contracts become the ERP's values: `headers` holds contract_id,
    erp_hash and the `erp_` header fields; `changes` the baseline items that differ from
    the ERP's (contract_sync.stages.baselines.baseline_changes: contract_id, item_no, item
    fields, gone), written or, when gone, deleted."""
    ids = headers["contract_id"].astype("int64").tolist()
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        table = s.import_baselines
        connection.execute(table.delete().where(table.c.contract_id.in_(chunk)))
    baselines = headers[["contract_id", "erp_hash", *(f"erp_{f}" for f in BASELINE_HEADER_FIELDS)]]
    insert_frame(  # a few rows, and a time: SQLAlchemy's own conversions
        connection,
        s.import_baselines,
        baselines.rename(columns={f"erp_{f}": f for f in BASELINE_HEADER_FIELDS}).assign(
            imported_at=now()
        ),
    )
    gone = changes["gone"].to_numpy(dtype=bool)
    rows = changes[[*BASELINE_ITEM_KEY, *ITEM_FIELDS]]
    delete_rows(connection, s.baseline_items, rows.loc[gone, BASELINE_ITEM_KEY])
    upsert_columns(connection, s.baseline_items, rows[~gone])


def record_undo_images(
    connection: sa.Connection, run_id: str, images: pd.Series, contract_ids: pd.Series
) -> None:
    """The undo images (by contract_id) of these contracts, recorded for the run writing them."""
    ids = contract_ids.astype("int64")
    found = images.reindex(ids.to_numpy()).dropna()
    if found.empty:
        return
    rows = pd.DataFrame(
        {"run_id": run_id, "contract_id": found.index.astype("int64"), "image": found.to_numpy()}
    )
    connection.execute(s.undo_images.insert(), records(rows))


def import_contracts(
    connection: sa.Connection, company_id: int, headers: pd.DataFrame, erp_items: pd.DataFrame
) -> pd.Series:
    """Create the store contracts of these ERP contracts (headers: contract_no, contract_code,
    project_id, erp_status, erp_hash and the header fields), their items and baselines.
    Returns their new ids, by contract_no."""
    contracts = headers[["project_id", *HEADER_FIELDS]].assign(
        company_id=company_id,
        origin_id=headers["contract_code"],
        number=headers["contract_no"],
        status=headers["erp_status"].map(IMPORTED_STATUS).fillna(ContractStatus.draft),
        version=1,
        updated_at=now(),
    )
    inserted = connection.execute(
        s.main_contracts.insert().returning(s.main_contracts.c.id, sort_by_parameter_order=True),
        records(contracts),
    )
    ids = pd.Series(inserted.scalars().all(), index=headers["contract_no"].to_numpy())
    items = erp_items.assign(contract_id=erp_items["contract_no"].map(ids))
    insert_columns(
        connection,
        s.line_items,
        items[["contract_id", "item_code", *ITEM_FIELDS]].rename(
            columns={"item_code": "origin_id"}
        ),
    )
    baselines = headers.assign(contract_id=headers["contract_no"].map(ids).to_numpy())
    replace_baselines(
        connection,
        baselines.rename(columns={f: f"erp_{f}" for f in BASELINE_HEADER_FIELDS}),
        items[[*BASELINE_ITEM_KEY, *ITEM_FIELDS]].assign(gone=False),  # no baseline yet: all new
    )
    return ids
