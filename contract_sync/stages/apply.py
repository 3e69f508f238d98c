"""Apply: the eligible contracts written in groups, each contract atomic.

Refused contracts (and every contract of a dry run) are audited together, in the first
group's transaction (in one of their own when there is nothing to write). The contracts to
write go in groups of GROUP, in store-id order, one transaction per group: it holds the
group's contracts (never waiting: one another run holds is blocked as locked), refuses the
stale ones, writes the rest with a few set-based statements inside a savepoint, and appends
the group's audit rows and chain entries at its end, under the chain's lock. When those
writes fail, the savepoint is rolled back and each contract is written again in a savepoint
of its own: the one that fails is recorded as failed, its neighbours land. A group whose
transaction fails as a whole is written again one contract per transaction. A killed run
leaves whole groups, never part of a contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import BASELINE_HEADER_FIELDS, HEADER_FIELDS, is_in
from contract_sync.model import Plan
from contract_sync.store.contract_writes import (
    LockedContract,
    StaleContract,
    fill_baseline_statuses,
    hold_contracts,
    import_contracts,
    record_undo_images,
    reimport_contracts,
    replace_baselines,
    write_transaction,
)
from contract_sync.store.state import (
    NO_ITEMS_DIGEST,
    current_baseline_hashes,
    current_items_digests,
)
from contract_sync.store.writes import audit_transaction, insert_audit
from contract_sync.vocabulary import APPLIED, UNDOABLE, ItemChange, Outcome, Reason

GROUP = 100  # contracts per transaction
_CODE = ["contract_no", "item_no", "item_code"]
WRITTEN = ["contract_id", "version_after"]


# How a group of contracts is written: (ledger, run id, writer, the group's audit rows, the
# refusals to record with the first group) -> the group's audit rows as recorded.
GroupWrite = Callable[[sa.Engine, str, "Writer", pd.DataFrame, "Record | None"], pd.DataFrame]


def apply(
    engine: sa.Engine,
    run_id: str,
    plan: Plan,
    progress: Callable[[int, int], None] | None = None,
    write_group: GroupWrite | None = None,
) -> pd.DataFrame:
    """Write the plan; returns the audit rows as written (final outcome per contract).
    `write_group`: how a store other than the SQL one writes a group (Procore); the SQL
    store's transactions by default."""
    audit = plan.audit.copy()
    to_apply = audit["outcome"].isin(APPLIED)
    changes = plan.comparison.changes if plan.comparison is not None else None
    # The diff is recorded for what was (or, in a dry run, would be) written, not for refusals.
    previewed = audit.loc[audit["outcome"] == Outcome.would_reimport, "contract_no"]
    repeated = plan.repeated.reindex(audit.index, fill_value=False)
    refused = Record(
        audit[~to_apply & ~repeated],
        None if changes is None else changes[is_in(changes["contract_no"], previewed)],
    )
    todo = audit[to_apply].sort_values("contract_id", kind="stable")  # the order locks are taken
    if todo.empty:
        with audit_transaction(engine) as connection:
            refused.insert(connection, run_id)
    importing = plan.comparison is None
    writer = FirstImportWriter(plan) if importing else ReimportWriter(plan, run_id)
    for start in range(0, len(todo), GROUP):
        first = refused if start == 0 else None  # recorded with the first group: one commit less
        rows = (write_group or _write_group)(
            engine, run_id, writer, todo.iloc[start : start + GROUP], first
        )
        for column in rows.columns:  # arrays, not Series: pandas 3.1 looks a Series with
            # missing values up by position in its label index (KeyError)
            audit.loc[rows.index, column] = rows[column].array
        if progress:
            for done in range(start + 1, start + len(rows) + 1):
                progress(done, len(todo))
    if not plan.dry_run:
        settle_baselines(engine, plan)
        record_statuses(engine, plan.unrecorded_statuses)
    return audit


class Record(NamedTuple):
    """Audit rows (and their field changes) to record in a transaction that writes others."""

    rows: pd.DataFrame
    changes: pd.DataFrame | None

    def insert(self, connection: sa.Connection, run_id: str) -> None:
        insert_audit(connection, run_id, self.rows, self.changes)


def _write_group(
    engine: sa.Engine,
    run_id: str,
    writer: Writer,
    group: pd.DataFrame,
    before: Record | None = None,
) -> pd.DataFrame:
    """One group in one transaction, with its audit rows, after the `before` ones (the
    run's refusals, recorded in the same commit); the group's rows as recorded."""
    try:
        with write_transaction(engine) as connection:
            rows = _write_each(connection, writer, writer.check(connection, group))
            written = rows.loc[rows["outcome"].isin(APPLIED), "contract_no"]
            if before is not None:
                before.insert(connection, run_id)
            insert_audit(connection, run_id, rows, writer.changes(written))
        return rows
    except LockedContract:
        rows = refused_rows(group, group.index, Reason.locked)
    except Exception as error:  # noqa: BLE001 - recorded, and the run goes on
        if len(group) > 1:
            return pd.concat(
                [
                    _write_group(engine, run_id, writer, group.iloc[[i]], None if i else before)
                    for i in range(len(group))
                ]
            )
        rows = failed_rows(group, group.index, error)
    with audit_transaction(engine) as connection:
        if before is not None:
            before.insert(connection, run_id)
        insert_audit(connection, run_id, rows)
    return rows


def _write_each(connection: sa.Connection, writer: Writer, rows: pd.DataFrame) -> pd.DataFrame:
    """The group's contracts to write, together in one savepoint; when that fails, each in a
    savepoint of its own."""
    ready = rows.index[rows["outcome"].isin(APPLIED)]
    written = _in_savepoint(connection, writer, rows.loc[ready])
    if isinstance(written, pd.DataFrame):
        return _assign(rows, written)
    for index in ready:
        written = _in_savepoint(connection, writer, rows.loc[[index]])
        if isinstance(written, StaleContract):
            rows = refused_rows(rows, [index], Reason.stale)
        elif isinstance(written, Exception):
            rows = failed_rows(rows, [index], written)
        else:
            rows = _assign(rows, written)
    return rows


def _in_savepoint(
    connection: sa.Connection, writer: Writer, rows: pd.DataFrame
) -> pd.DataFrame | Exception:
    """The contracts written, or the error that rolled them back."""
    if rows.empty:
        return rows[WRITTEN]
    try:
        with connection.begin_nested():
            return writer.write(connection, rows)
    except Exception as error:  # noqa: BLE001 - the caller records it
        return error


def _assign(rows: pd.DataFrame, written: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows.loc[written.index, WRITTEN] = written[WRITTEN]
    return rows


def refused_rows(rows: pd.DataFrame, which: pd.Index | list, reason: Reason) -> pd.DataFrame:
    """Blocked for `reason`: nothing was written."""
    rows = _unwritten(rows, which)
    rows.loc[which, "outcome"] = Outcome.blocked
    rows.loc[which, "reasons"] = reason
    return rows


def failed_rows(rows: pd.DataFrame, which: pd.Index | list, error: Exception) -> pd.DataFrame:
    """Failed with `error`: rolled back, nothing was written."""
    rows = _unwritten(rows, which)
    rows.loc[which, "outcome"] = Outcome.failed
    rows.loc[which, "error"] = f"{type(error).__name__}: {error}"
    return rows


def _unwritten(rows: pd.DataFrame, which: pd.Index | list) -> pd.DataFrame:
    rows = rows.copy()
    if len(which):
        before = rows.loc[which, ["amount_before", "version_before"]].to_numpy()
        rows.loc[which, ["amount_after", "version_after"]] = before
    return rows


class Writer:
    """How one kind of contract write is checked, written and audited, for a set of
    contracts (rows: their audit rows)."""

    def check(self, connection: sa.Connection, rows: pd.DataFrame) -> pd.DataFrame:
        return rows

    def write(self, connection: sa.Connection, rows: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def changes(self, contract_nos: pd.Series) -> pd.DataFrame | None:
        return None


class ReimportWriter(Writer):
    """Re-imports: the header, the item changes, the baseline; under the contracts' locks,
    with the optimistic checks (version, items and the baseline's ERP hash as compared)."""

    def __init__(self, plan: Plan, run_id: str) -> None:
        self.run_id = run_id
        applying = plan.audit.loc[plan.audit["outcome"].isin(UNDOABLE), "contract_no"]
        comparison = plan.comparison
        self.items = ByContract(comparison.items[is_in(comparison.items["contract_no"], applying)])
        self.erp_items = ByContract(plan.erp.items[is_in(plan.erp.items["contract_no"], applying)])
        self.headers = comparison.contracts.set_index("contract_no")[
            ["contract_id", "version", *HEADER_FIELDS]
        ].join(_erp_headers(plan))
        written = comparison.changes
        self.written = ByContract(
            written[is_in(written["contract_no"], applying) & written["change"].ne(ItemChange.kept)]
        )
        self.digests = pd.Series(plan.store_digests, dtype="string")
        self.baseline_item_changes = ByContract(plan.baseline_item_changes, by="contract_id")
        self.compared_baseline_hashes = plan.compared_baseline_hashes
        self.undo_images = plan.undo_images.set_index("contract_id")["image"]

    def check(self, connection: sa.Connection, rows: pd.DataFrame) -> pd.DataFrame:
        ids = rows["contract_id"].astype("int64")
        found = hold_contracts(connection, ids.tolist()).set_index("contract_id")
        locked = ids.map(found["held"]).eq(False).fillna(False).astype(bool)
        moved = ids.map(found["version"]).ne(rows["version_before"]).fillna(True).astype(bool)
        moved |= _baseline_moved(connection, ids, self.compared_baseline_hashes)
        stale = ~locked & moved
        readable = ~locked & ~stale
        now = current_items_digests(connection, ids[readable].tolist())
        digest = ids.map(now).astype("string").fillna(NO_ITEMS_DIGEST)
        compared = rows["contract_no"].map(self.digests)
        stale |= readable & digest.ne(compared).fillna(True).astype(bool)
        rows = refused_rows(rows, rows.index[locked.to_numpy()], Reason.locked)
        return refused_rows(rows, rows.index[stale.to_numpy()], Reason.stale)

    def targets(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What these contracts become: their headers (contract_id, version as compared,
        the target header fields, the ERP's) and their compared items (change, item_id,
        target fields; an added one with the ERP's text of its code, item_code)."""
        headers = self.headers.loc[rows["contract_no"]].reset_index()
        erp_items = self.erp_items.of(rows["contract_no"])
        items = self.items.of(rows["contract_no"])
        added = items["change"].eq(ItemChange.added).to_numpy()  # the ERP's text of their codes
        codes = erp_items.loc[is_in(erp_items["item_no"], items.loc[added, "item_no"]), _CODE]
        items = pd.concat(
            [items[~added], items[added].merge(codes, on=_CODE[:2], how="left")],
            ignore_index=True,
        )
        return headers, items

    def write(
        self, connection: sa.Connection, rows: pd.DataFrame, versions: pd.Series | None = None
    ) -> pd.DataFrame:
        """`versions` (by contract_id): the store versions to write over, where the caller
        holds the contracts otherwise than by this transaction (a remote store's intent)."""
        headers, items = self.targets(rows)
        if versions is not None:
            headers["version"] = headers["contract_id"].map(versions).astype("int64")
        reimport_contracts(connection, headers, items)
        replace_baselines(
            connection,
            headers.assign(erp_hash=rows["erp_hash"].to_numpy()),
            self.baseline_item_changes.of(rows["contract_id"].astype("int64")),
        )
        record_undo_images(connection, self.run_id, self.undo_images, rows["contract_id"])
        versions = (headers["version"] + 1).to_numpy()
        return pd.DataFrame({"contract_id": rows["contract_id"], "version_after": versions})

    def changes(self, contract_nos: pd.Series) -> pd.DataFrame:
        return self.written.of(contract_nos)


class FirstImportWriter(Writer):
    """First imports: store contracts with their items and baselines, in their synced jobs'
    projects."""

    def __init__(self, plan: Plan) -> None:
        self.headers = plan.erp.contracts.set_index(plan.erp.contracts["contract_no"].to_numpy())
        self.erp_items = ByContract(plan.erp.items)
        self.company_id = plan.company_id

    def write(self, connection: sa.Connection, rows: pd.DataFrame) -> pd.DataFrame:
        headers = self.headers.loc[rows["contract_no"]].assign(
            project_id=rows["project_id"].to_numpy(), erp_hash=rows["erp_hash"].to_numpy()
        )
        ids = import_contracts(
            connection, self.company_id, headers, self.erp_items.of(rows["contract_no"])
        )
        return pd.DataFrame({"contract_id": rows["contract_no"].map(ids), "version_after": 1})


class ByContract:
    """A frame's rows of any set of contracts (by contract_no, or `by` another column),
    found without a pass over the whole frame."""

    def __init__(self, frame: pd.DataFrame, by: str = "contract_no") -> None:
        self.frame = frame
        self.rows = frame.groupby(by, sort=False).indices  # contract -> positions

    def of(self, contracts: pd.Series) -> pd.DataFrame:
        found = [self.rows[n] for n in contracts if n in self.rows]  # a loop over contracts
        positions = np.concatenate(found) if found else np.empty(0, dtype=np.intp)
        return self.frame.iloc[positions].reset_index(drop=True)


def _baseline_moved(connection: sa.Connection, ids: pd.Series, compared: pd.Series) -> pd.Series:
    """Per contract (ids: contract_id): its baseline is no longer the one compare saw
    (`compared`: the ERP hash of each baseline then), written by another run since; the
    three-way diff and the baseline rows to write were made from the one it saw."""
    now = ids.map(current_baseline_hashes(connection, ids.tolist()))
    then = ids.map(compared)
    same = now.eq(then).fillna(False).astype(bool) | (now.isna() & then.isna())
    return ~same


def _erp_headers(plan: Plan) -> pd.DataFrame:
    return plan.erp.contracts.set_index("contract_no")[BASELINE_HEADER_FIELDS].add_prefix("erp_")


def record_statuses(engine: sa.Engine, statuses: pd.DataFrame) -> None:
    """The ERP status into baselines that hold none yet (written before they kept it), so
    that its next change shows. Only where the baseline is still the one of that status
    (its hash) and still holds none: another run's write since is left as it is."""
    if statuses.empty:
        return
    with write_transaction(engine) as connection:
        fill_baseline_statuses(connection, statuses)


def settle_baselines(engine: sa.Engine, plan: Plan) -> None:
    """A contract whose ERP changed only to what the store already holds has nothing to
    re-import; its baseline moves to the ERP's values, so that a later store-side edit is
    seen as one (kept) and not as a conflict, and its hash stops sending it to compare.
    In groups, one transaction each; a contract another run holds, or whose baseline another
    run wrote since compare, is left to the next run."""
    settled = plan.audit[is_in(plan.audit["contract_no"], plan.settle)]
    if settled.empty:
        return
    headers = (
        _erp_headers(plan)
        .loc[settled["contract_no"]]
        .assign(
            contract_id=settled["contract_id"].astype("int64").to_numpy(),
            erp_hash=settled["erp_hash"].to_numpy(),
        )
        .sort_values("contract_id")
    )
    changes = ByContract(plan.baseline_item_changes, by="contract_id")
    for start in range(0, len(headers), GROUP):
        group = headers.iloc[start : start + GROUP]
        try:
            with write_transaction(engine) as connection:
                held = hold_contracts(connection, group["contract_id"].tolist())
                ids = group["contract_id"]
                moved = _baseline_moved(connection, ids, plan.compared_baseline_hashes)
                group = group[ids.isin(held.loc[held["held"], "contract_id"]) & ~moved]
                replace_baselines(connection, group, changes.of(group["contract_id"]))
        except LockedContract:
            continue  # another run holds the store; the next run settles them
