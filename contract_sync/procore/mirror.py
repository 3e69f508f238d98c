"""The ledger's mirror of Procore: the projects, ERP-job links, prime contracts and line
items a run read from Procore, written into the store tables of the ledger database, so
that the gates, the three-way compare and the audit read Procore's state as they read the
SQL store's. Procore stays the truth: every run reads it again before it compares, and
before it writes a contract (contract_sync.procore.store).

Each function writes inside the caller's transaction; rows are matched by Procore's id
(`remote_id`), else, the first time, by what the SQL store keyed them on (a project's
number, a contract's project and origin, an item's origin), so that a store that was the
SQL store keeps its baselines when Procore becomes the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS, normal_code
from contract_sync.store import schema as s
from contract_sync.store.bulk import insert_columns, read_bulk, read_frame, records
from contract_sync.store.types import exact

CONTRACT_MIRRORED = ["status", "number", *HEADER_FIELDS, "remote_updated_at", "remote_total"]


def mirror_projects(
    connection: sa.Connection, company_id: int, projects: pd.DataFrame
) -> pd.Series:
    """Procore's projects into `projects` (matched by remote_id, else number), and the
    company's synced jobs made Procore's (a project's origin_id names its ERP job). Returns
    the local project id of each Procore project id."""
    p = s.projects.c
    local = read_frame(
        connection,
        sa.select(p.id, p.number, p.name, p.remote_id).where(p.company_id == company_id),
    )
    by_remote = projects.merge(
        local[["id", "remote_id"]].dropna().astype({"remote_id": "int64"}), how="left"
    )
    by_number = by_remote.drop(columns="id").merge(local[["id", "number"]], how="left")
    found = by_remote["id"].fillna(by_number["id"])
    known = projects.assign(id=found)[found.notna()].astype({"id": "int64"})
    seen = known.merge(local, on="id", suffixes=("", "_local"))
    moved = ~(
        _same(seen["name"], seen["name_local"]) & _same(seen["remote_id"], seen["remote_id_local"])
    )
    if moved.any():  # a run with nothing renamed writes nothing here
        connection.execute(
            s.projects.update()
            .where(p.id == sa.bindparam("project_id"))
            .values(name=sa.bindparam("new_name"), remote_id=sa.bindparam("new_remote_id")),
            records(
                seen.loc[moved, ["id", "name", "remote_id"]].set_axis(
                    ["project_id", "new_name", "new_remote_id"], axis=1
                )
            ),
        )
    new = projects[found.isna().to_numpy()]
    if len(new):
        connection.execute(
            s.projects.insert(),
            records(new[["number", "name", "remote_id"]].assign(company_id=company_id)),
        )
        local = read_frame(
            connection, sa.select(p.id, p.remote_id).where(p.company_id == company_id)
        )
        known = projects.merge(local.dropna().astype({"remote_id": "int64"}), how="inner")
    ids = dict(zip(known["remote_id"].astype("int64"), known["id"].astype("int64"), strict=True))
    project_ids = pd.Series(ids, dtype="int64")
    jobs = projects.dropna(subset=["job_no"]).drop_duplicates("job_no")
    connection.execute(s.synced_jobs.delete().where(s.synced_jobs.c.company_id == company_id))
    if len(jobs):
        connection.execute(
            s.synced_jobs.insert(),
            [
                {"company_id": company_id, "project_id": ids[r], "erp_job_no": j}
                for r, j in zip(jobs["remote_id"], jobs["job_no"], strict=True)
            ],
        )
    return project_ids


def mirror_contracts(
    connection: sa.Connection,
    company_id: int,
    contracts: pd.DataFrame,
    project_ids: pd.Series,
    change_orders: pd.Series | None = None,
) -> None:
    """Procore's prime contracts (contract_sync.procore.frames.contract_frame) into
    `main_contracts`: a contract whose Procore record changed (updated_at, values) moves to
    its next version; one Procore no longer lists in a project leaves the mirror with its
    items and baseline (see the end).
    `change_orders`: approved prime change orders by Procore contract id."""
    c = s.main_contracts.c
    dialect = connection.dialect.name
    local = read_bulk(
        connection,
        sa.select(
            c.id,
            c.project_id,
            c.origin_id,
            c.remote_id,
            c.version,
            c.status,
            c.number,
            *(exact(c[f], dialect) for f in HEADER_FIELDS),
            c.remote_updated_at,
            c.remote_total,
            c.change_orders_approved,
        ).where(c.company_id == company_id),
    )
    incoming = contracts.assign(
        project_id=contracts["remote_project_id"].map(project_ids),
        key=normal_code(contracts["origin_id"]),
    ).dropna(subset=["project_id"])
    if change_orders is not None:
        approved = incoming["remote_id"].map(change_orders).fillna(0).astype("int64")
        incoming["change_orders_approved"] = approved
    else:  # not read (not a Spectrum company, or one contract read again): as mirrored
        incoming["change_orders_approved"] = pd.NA
    local = local.assign(key=normal_code(local["origin_id"]))
    matched = incoming.merge(
        local, on=["project_id", "key"], how="left", suffixes=("", "_local"), indicator=True
    )
    if change_orders is None:
        matched["change_orders_approved"] = matched["change_orders_approved_local"]
    new = matched[matched["_merge"] == "left_only"]
    old = matched[matched["_merge"] == "both"]
    fields = [*CONTRACT_MIRRORED, "remote_id", "change_orders_approved"]
    changed = pd.Series(False, index=old.index)
    for name in fields:  # a loop over a dozen columns, each compared for every contract
        changed |= ~_same(old[name], old[f"{name}_local"])
    moved = old[changed]
    if len(moved):
        values = moved[["id", *fields]].assign(version=moved["version"] + 1)
        connection.execute(
            s.main_contracts.update()
            .where(c.id == sa.bindparam("mirror_id"))
            .values({name: sa.bindparam(name) for name in [*fields, "version"]}),
            records(values.rename(columns={"id": "mirror_id"})),
        )
    if len(new):
        rows = new[["project_id", "origin_id", *fields]].assign(
            company_id=company_id, version=1, updated_at=datetime.now(UTC)
        )
        connection.execute(s.main_contracts.insert(), records(rows))
    # A contract no longer listed (deleted in Procore, its project gone) stays as last read,
    # with its baseline: a listing that missed it (a project made inactive, a first import
    # that landed while the lists were read) must not cost the baseline that tells a
    # person's edits from the ERP's. Written again, it fails with Procore's answer.


def mirror_items(
    connection: sa.Connection,
    items: pd.DataFrame,
    contract_ids: list[int],
    *,
    whole: bool,
    read_at: str,
) -> None:
    """Line items read from Procore (frames.item_frame rows with contract_id) into
    `line_items`, matched by remote_id, else origin. `whole`: they are all the contracts'
    items (the ones not among them are gone); else only those changed since the last read.
    Local ids are kept, so a digest of what compare read stays comparable with the items
    read again before a write."""
    li = s.line_items.c
    dialect = connection.dialect.name
    local = read_bulk(
        connection,
        sa.select(
            li.id,
            li.contract_id,
            li.origin_id,
            li.remote_id,
            *(exact(li[f], dialect) for f in ITEM_FIELDS),
        ).where(li.contract_id.in_(contract_ids), li.origin_id.is_not(None)),
    )
    local["key"] = normal_code(local["origin_id"])
    incoming = items.assign(key=normal_code(items["origin_id"]))
    by_remote = incoming.merge(
        local[["id", "remote_id"]].dropna(subset=["remote_id"]).astype({"remote_id": "int64"}),
        on="remote_id",
        how="left",
    )
    # Else by origin, among the rows no Procore id matched: one never linked, or one whose
    # Procore item went and came back under a new id.
    matched_ids = by_remote["id"].dropna()
    others = local[~local["id"].isin(matched_ids)][["id", "contract_id", "key"]]
    by_origin = (
        by_remote[by_remote["id"].isna()]
        .drop(columns="id")
        .merge(
            others.drop_duplicates(["contract_id", "key"]), on=["contract_id", "key"], how="left"
        )
    )
    found = pd.concat([by_remote[by_remote["id"].notna()], by_origin], ignore_index=True)
    existing = found[found["id"].notna()].astype({"id": "int64"})
    if whole:  # first, so that an origin the gone rows held is free for those that take it
        gone = local.loc[~local["id"].isin(existing["id"]), "id"].astype("int64").tolist()
        if gone:
            connection.execute(s.line_items.delete().where(li.id.in_(gone)))
    compared = existing.merge(local, on="id", suffixes=("", "_local"))
    differs = pd.Series(False, index=compared.index)
    for name in [*ITEM_FIELDS, "origin_id", "remote_id"]:
        differs |= ~_same(compared[name], compared[f"{name}_local"])
    if differs.any():
        _update_items(
            connection, compared.loc[differs, ["id", "origin_id", "remote_id", *ITEM_FIELDS]]
        )
    added = found[found["id"].isna()]
    insert_columns(
        connection,
        s.line_items,
        added[["contract_id", "origin_id", "remote_id", *ITEM_FIELDS]],
    )
    connection.execute(
        s.main_contracts.update()
        .where(s.main_contracts.c.id.in_(contract_ids))
        .values(items_read_at=read_at)
    )


def _update_items(connection: sa.Connection, rows: pd.DataFrame) -> None:
    li = s.line_items.c
    names = ["origin_id", "remote_id", *ITEM_FIELDS]
    connection.execute(
        s.line_items.update()
        .where(li.id == sa.bindparam("item_id"))
        .values({name: sa.bindparam(f"v_{name}") for name in names}),
        records(rows.rename(columns={"id": "item_id", **{n: f"v_{n}" for n in names}})),
    )


def link_items(connection: sa.Connection, contract_id: int, remote_ids: pd.Series) -> None:
    """Procore's ids of a contract's line items (remote_ids: by the item's origin, the ERP's
    code) written beside the rows the SQL writes made."""
    if remote_ids.empty:
        return
    li = s.line_items.c
    local = read_frame(
        connection,
        sa.select(li.id, li.origin_id).where(li.contract_id == contract_id),
    )
    local["remote_id"] = normal_code(local["origin_id"]).map(remote_ids)
    rows = local.dropna(subset=["remote_id"])
    if len(rows):
        connection.execute(
            s.line_items.update()
            .where(li.id == sa.bindparam("item_id"))
            .values(remote_id=sa.bindparam("remote")),
            [
                {"item_id": int(i), "remote": int(r)}
                for i, r in zip(rows["id"], rows["remote_id"], strict=True)
            ],
        )


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    """Equal values, or both missing, row by row: texts as texts, numbers as numbers (an
    integer read back as a float, 3.0, is 3)."""
    a, b = left.astype(object), right.astype(object)
    both_missing = a.isna() & b.isna()
    return both_missing | (a.notna() & b.notna() & (a.map(_text) == b.map(_text)))


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
