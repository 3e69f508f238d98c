"""Reads what the store holds for one company and actor, set-based, as frames."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from contract_sync.arrow_reads import available, read_arrow_together
from contract_sync.columns import (
    BASELINE_HEADER_FIELDS,
    HEADER_FIELDS,
    ITEM_COLUMNS,
    ITEM_FIELDS,
    normal_text,
    run_starts,
)
from contract_sync.errors import UserError
from contract_sync.model import LAST_RECORDED_COLUMNS, StoreState
from contract_sync.store import schema as s
from contract_sync.store.bulk import read_bulk, read_frame
from contract_sync.store.types import exact
from contract_sync.vocabulary import PERMISSION_LEVELS, PermissionLevel, Tool

LOG = logging.getLogger(__name__)


class UnknownCompany(UserError, LookupError):
    pass


def load_state(
    engine: sa.Engine, erp_company: int, actor: str, contract_nos: Sequence[str] | None = None
) -> StoreState:
    """The store side of a run, without items: a fixed number of queries."""
    with engine.connect() as connection:
        company = connection.execute(
            sa.select(s.companies.c.id).where(s.companies.c.erp_company == erp_company)
        ).scalar()
        if company is None:
            raise UnknownCompany(f"ERP company {erp_company} is not in the project store")
        user_id = connection.execute(
            sa.select(s.users.c.id).where(s.users.c.login == actor)
        ).scalar()
        # An unknown actor is refused by the gates (unknown_user), recorded, not a crash:
        # with no user row it holds no permission (user id None matches no row).
        integration = connection.execute(
            sa.select(s.erp_integrations).where(s.erp_integrations.c.company_id == company)
        ).first()
        permissions = read_frame(
            connection,
            sa.select(
                s.tool_permissions.c.tool,
                s.tool_permissions.c.project_id,
                s.tool_permissions.c.level,
            )
            .where(s.tool_permissions.c.user_id == user_id)
            .where(s.tool_permissions.c.company_id == company),
        )
        contracts_query = sa.select(
            s.main_contracts.c.id.label("contract_id"),
            s.main_contracts.c.project_id,
            sa.func.trim(s.main_contracts.c.origin_id).label("contract_no"),
            s.main_contracts.c.status,
            s.main_contracts.c.version,
            *(s.main_contracts.c[f] for f in HEADER_FIELDS),
            s.main_contracts.c.change_orders_approved,
        ).where(s.main_contracts.c.company_id == company, s.main_contracts.c.origin_id.is_not(None))
        if contract_nos is not None:
            wanted = [normal_text(c) for c in contract_nos]
            contracts_query = contracts_query.where(
                sa.func.trim(s.main_contracts.c.origin_id).in_(wanted)
            )
        in_scope = contracts_query.with_only_columns(s.main_contracts.c.id).scalar_subquery()
        contracts = read_frame(connection, contracts_query)
        baselines = read_frame(connection, _baselines_query(in_scope))
        projects = read_frame(
            connection,
            sa.select(
                s.projects.c.id.label("project_id"),
                s.projects.c.number.label("project"),
                s.projects.c.name.label("project_name"),
            ).where(s.projects.c.company_id == company),
        )
        last_recorded = _last_recorded(connection, erp_company, contract_nos)
        partial = read_frame(connection, _intents_query(erp_company))
        synced = read_frame(
            connection,
            sa.select(
                sa.func.trim(s.synced_jobs.c.erp_job_no).label("job_no"), s.synced_jobs.c.project_id
            ).where(s.synced_jobs.c.company_id == company),
        )
    company_level = permissions[permissions["tool"] == Tool.erp_integrations]["level"]
    return StoreState(
        company_id=company,
        erp_type=integration.erp_type if integration else None,
        integration_configured=bool(integration and integration.configured),
        actor=actor,
        actor_known=user_id is not None,
        erp_integrations_level=(
            company_level.iloc[0] if len(company_level) else PermissionLevel.none
        ),
        main_contracts_levels=_project_levels(
            permissions[permissions["tool"] == Tool.main_contracts], projects
        ),
        synced_jobs=synced,
        projects=projects,
        contracts=contracts,
        items=_frame_of(ITEM_COLUMNS_LOADED),
        baselines=baselines,
        baseline_items=_frame_of(BASELINE_ITEM_COLUMNS),
        last_recorded=last_recorded,
        partial=partial,
    )


def _intents_query(erp_company: int) -> sa.Select:
    """Contracts a run began to write to a store without transactions and did not finish."""
    i = s.store_intents.c
    return sa.select(i.contract_no, i.kind, i.run_id, i.started_at, i.detail).where(
        i.erp_company == erp_company
    )


def _last_recorded(
    connection: sa.Connection, erp_company: int, contract_nos: Sequence[str] | None
) -> pd.DataFrame:
    a = s.audit_contracts.c
    latest = sa.select(sa.func.max(a.id)).where(a.erp_company == erp_company)
    if contract_nos is not None:
        latest = latest.where(a.contract_no.in_([normal_text(c) for c in contract_nos]))
    query = (
        sa.select(*(a[c] for c in LAST_RECORDED_COLUMNS if c != "actor"), s.sync_runs.c.actor)
        .join(s.sync_runs, s.sync_runs.c.id == a.run_id)
        .where(a.id.in_(latest.group_by(a.contract_no)))
    )
    return read_frame(connection, query)


def _project_levels(rows: pd.DataFrame, projects: pd.DataFrame) -> pd.DataFrame:
    """One row per project of the company (project_id, level): the actor's row for that
    project if there is one, else its row for every project (project_id null, written "*"
    in the directory file), else no row (no permission). Of several rows for one project,
    the lowest level counts."""
    rank = {level: i for i, level in enumerate(PERMISSION_LEVELS)}
    rows = rows.assign(rank=rows["level"].map(rank))
    everywhere = rows[rows["project_id"].isna()]
    specific = (
        rows[rows["project_id"].notna()]
        .astype({"project_id": "int64"})
        .sort_values("rank")
        .drop_duplicates("project_id")
    )
    levels = projects[["project_id"]].merge(specific[["project_id", "level"]], how="left")
    if len(everywhere):
        levels["level"] = levels["level"].fillna(everywhere.sort_values("rank")["level"].iloc[0])
    return levels.dropna(subset=["level"]).reset_index(drop=True)


ITEM_COLUMNS_LOADED = ["contract_id", "item_id", "contract_no", "item_no", *ITEM_FIELDS]
BASELINE_ITEM_COLUMNS = ["contract_id", "item_no", *ITEM_FIELDS]


def _frame_of(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


# PostgreSQL: each item row's version, the transaction that wrote it (xmin). Any write to a
# row makes a new version, so the items' ids and versions say all that their values say, and
# a stale check reads two numbers per item instead of all its fields.
ITEM_VERSION = "item_version"


def _item_version() -> sa.ColumnElement:
    return sa.literal_column(f"{s.line_items.name}.xmin::text::bigint", sa.BigInteger).label(
        ITEM_VERSION
    )


def _items_query(contract_ids: list[int], dialect: str) -> sa.Select:
    versions = [_item_version()] if dialect == "postgresql" else []
    return (
        sa.select(
            s.line_items.c.contract_id,
            s.line_items.c.id.label("item_id"),
            sa.func.trim(s.main_contracts.c.origin_id, type_=sa.String).label("contract_no"),
            sa.func.trim(s.line_items.c.origin_id, type_=sa.String).label("item_no"),
            *(exact(s.line_items.c[f], dialect) for f in ITEM_FIELDS),
            *versions,
        )
        .join(s.main_contracts, s.main_contracts.c.id == s.line_items.c.contract_id)
        .where(s.line_items.c.contract_id.in_(contract_ids), s.line_items.c.origin_id.is_not(None))
    )


def items_digests(items: pd.DataFrame, by: str = "contract_no") -> pd.Series:
    """A digest of each contract's store items as read, by contract_no (or `by`, another
    key of a contract: the same rows give the same digest): any edit to any of them changes
    it, and so does an item deleted and made again (its id changes). Of their ids and
    values; where the items were read with their row versions (PostgreSQL), of their ids
    and versions, which change with any write (a save of the same values too). A contract
    without items has none here: see NO_ITEMS_DIGEST."""
    keys = "string" if by == "contract_no" else None
    if items.empty:
        return pd.Series(dtype="string", index=pd.Index([], dtype=keys, name=by))
    versioned = ITEM_VERSION in items.columns
    columns = ["item_id", ITEM_VERSION] if versioned else ["item_id", "item_no", *ITEM_FIELDS]
    rows = items.sort_values([by, "item_id"])
    typed = rows[columns].astype({c: "Int64" if c in NUMBERS else "string" for c in columns})
    hashed = pd.util.hash_pandas_object(typed, index=False).to_numpy()  # one number per row
    numbers = rows[by].to_numpy()
    starts = run_starts(numbers)
    ends = np.r_[starts[1:], len(rows)]
    digests = [
        _sha256(hashed[start:end].tobytes()) for start, end in zip(starts, ends, strict=True)
    ]
    index = pd.Index(numbers[starts], dtype=keys, name=by)
    return pd.Series(digests, index=index, dtype="string")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


NO_ITEMS_DIGEST = _sha256(b"")
ITEM_LOCK_WAIT = "5s"  # PostgreSQL: how long a group waits for items a store user holds
NUMBERS = {
    "item_id",
    ITEM_VERSION,
    *(c for c, dtype in ITEM_COLUMNS.items() if dtype.lower() == "int64"),
}


def current_items_digests(connection: sa.Connection, contract_ids: list[int]) -> pd.Series:
    """The digests of these contracts' store items now, by contract_id, inside the writing
    transaction: the same digests as items_digests of the items compare read, when they
    have not changed since. On PostgreSQL the rows stay locked until it ends (SQLite's write
    lock covers them), and only their ids and versions are read."""
    li = s.line_items.c
    dialect = connection.dialect.name
    in_scope = (li.contract_id.in_(contract_ids), li.origin_id.is_not(None))
    if dialect != "postgresql":
        query = sa.select(
            li.contract_id,
            li.id.label("item_id"),
            sa.func.trim(li.origin_id).label("item_no"),
            *(exact(li[f], dialect) for f in ITEM_FIELDS),
        ).where(*in_scope)
        return items_digests(read_bulk(connection, query), by="contract_id")
    query = sa.select(li.contract_id, li.id.label("item_id"), _item_version()).where(*in_scope)
    # In id order (one lock order for every writer), and not waited for without end: an
    # item a store user holds longer than ITEM_LOCK_WAIT makes the group `locked`. A group's
    # items are a small share of the table: found by index, whatever the planner's
    # statistics (a store copied from a template has none until it is analyzed).
    _settings(connection, lock_timeout=ITEM_LOCK_WAIT, enable_seqscan="off")
    found = read_bulk(connection, query.order_by(li.id).with_for_update())
    _settings(connection, lock_timeout="0", enable_seqscan="on")
    return items_digests(found, by="contract_id")


def current_baseline_hashes(connection: sa.Connection, contract_ids: list[int]) -> pd.Series:
    """The ERP hash of these contracts' baselines now, by contract_id (a contract without
    one left out): read inside the transaction that holds the contracts, whose baselines
    only a transaction holding them writes."""
    b = s.import_baselines.c
    query = sa.select(b.contract_id, b.erp_hash).where(b.contract_id.in_(contract_ids))
    found = read_frame(connection, query)
    return pd.Series(found["erp_hash"].to_numpy(), index=found["contract_id"].to_numpy())


def _settings(connection: sa.Connection, **values: str) -> None:
    """PostgreSQL settings for the rest of this transaction, in one round trip."""
    calls = ", ".join(f"set_config('{name}', :{name}, true)" for name in values)
    connection.execute(sa.text(f"SELECT {calls}"), values)


def _baselines_query(contract_ids: sa.ScalarSelect | list[int]) -> sa.Select:
    b = s.import_baselines.c
    return sa.select(b.contract_id, b.erp_hash, *(b[f] for f in BASELINE_HEADER_FIELDS)).where(
        b.contract_id.in_(contract_ids)
    )


def with_items(engine: sa.Engine, state: StoreState, contract_ids: Sequence[int]) -> StoreState:
    """The state with the items and baseline items of these store contracts, and their
    baselines read again: the baseline items and the baseline (its ERP hash, which apply
    checks the baseline items by) are read in one snapshot (see _read_items)."""
    ids = [int(i) for i in contract_ids]
    if not ids:
        return state
    items, baseline_items, baselines = _read_items(engine, ids)
    others = state.baselines[~state.baselines["contract_id"].isin(ids)]
    if len(others) and len(baselines):
        baselines = pd.concat([others, baselines], ignore_index=True)
    elif len(others):
        baselines = others  # none of these contracts has a baseline: keep the frame's dtypes
    return replace(state, items=items, baseline_items=baseline_items, baselines=baselines)


def _read_items(engine: sa.Engine, ids: list[int]) -> tuple[pd.DataFrame, ...]:
    """These contracts' items, baseline items and baselines, as of one moment. Through
    Arrow where it can (contract_sync.arrow_reads: the items and baseline items in one
    transaction), between two reads of the baselines with their import times: the same
    both times, no import wrote these contracts meanwhile (an import rewrites the baseline
    with its baseline items, and a new time), so the items read between are theirs.
    Else, and where Arrow cannot read, through SQLAlchemy in one transaction."""
    dialect = engine.dialect.name
    queries = [_items_query(ids, dialect), _baseline_items_query(ids, dialect)]
    stamped = _baselines_query(ids).add_columns(s.import_baselines.c.imported_at)
    stamped = stamped.order_by(s.import_baselines.c.contract_id)
    if available(engine):
        with engine.connect() as connection:
            before = read_frame(connection, stamped)
        frames = read_arrow_together(engine, queries)
        if frames is not None:
            with engine.connect() as connection:
                after = read_frame(connection, stamped)
            if after.equals(before):
                return *frames, after.drop(columns="imported_at")
            LOG.info("an import wrote these contracts while they were read: read again")
    with engine.connect() as connection:
        if dialect == "postgresql":  # SQLite: one transaction is one snapshot already
            connection.execution_options(isolation_level="REPEATABLE READ")
        items, baseline_items = (read_bulk(connection, query) for query in queries)
        baselines = read_frame(connection, _baselines_query(ids))
    return items, baseline_items, baselines


def _baseline_items_query(contract_ids: list[int], dialect: str) -> sa.Select:
    b = s.baseline_items.c
    return sa.select(
        b.contract_id,
        sa.func.trim(b.item_no, type_=sa.String).label("item_no"),
        *(exact(b[f], dialect) for f in ITEM_FIELDS),
    ).where(b.contract_id.in_(contract_ids))
