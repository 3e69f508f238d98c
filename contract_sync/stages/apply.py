"""Apply: each eligible contract written in its own transaction, with its audit rows.

Refused contracts (and every contract of a dry run) are audited together in one
transaction. One contract's failure rolls back only that contract.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import HEADER_FIELDS
from contract_sync.stages.plan import Plan
from contract_sync.store.state import current_items_digest
from contract_sync.store.writes import (
    LockedContract,
    StaleContract,
    audit_transaction,
    contract_transaction,
    import_contract,
    insert_audit,
    reimport_contract,
    settle_baseline,
)
from contract_sync.vocabulary import APPLIED, Outcome, Reason


def apply(
    engine: sa.Engine,
    run_id: str,
    plan: Plan,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Write the plan; returns the audit rows as written (final outcome per contract)."""
    audit = plan.audit.copy()
    to_apply = audit["outcome"].isin(APPLIED)
    changes = plan.comparison.changes if plan.comparison is not None else None
    # The diff is recorded for what was (or, in a dry run, would be) written, not for refusals.
    previewed = audit.loc[audit["outcome"] == Outcome.would_reimport, "contract_no"]
    repeated = plan.repeated.reindex(audit.index, fill_value=False)
    with audit_transaction(engine) as connection:
        insert_audit(
            connection,
            run_id,
            audit[~to_apply & ~repeated],
            None if changes is None else changes[changes["contract_no"].isin(previewed)],
        )
    writer = _Reimport(plan) if plan.comparison is not None else _FirstImport(plan)
    indices = audit.index[to_apply]
    for done, index in enumerate(indices, start=1):
        row = audit.loc[index]
        try:
            with writer.transaction(engine, row) as connection:
                audit.loc[index, ["contract_id", "version_after"]] = writer.write(connection, row)
                insert_audit(connection, run_id, audit.loc[[index]], changes)
        except (StaleContract, LockedContract) as error:
            reason = Reason.stale if isinstance(error, StaleContract) else Reason.locked
            audit.loc[index, ["outcome", "reasons", "amount_after", "version_after"]] = [
                Outcome.blocked,
                reason,
                row["amount_before"],  # nothing was written
                row["version_before"],
            ]
            _record_failure(engine, run_id, audit.loc[[index]])
        except Exception as error:  # noqa: BLE001 - recorded, and the run goes on
            audit.loc[
                index, ["outcome", "error", "contract_id", "amount_after", "version_after"]
            ] = [
                Outcome.failed,
                f"{type(error).__name__}: {error}",
                row["contract_id"],
                row["amount_before"],  # rolled back: nothing was written
                row["version_before"],
            ]
            _record_failure(engine, run_id, audit.loc[[index]])
        if progress:
            progress(done, len(indices))
    if not plan.dry_run:
        settle_baselines(engine, plan)
    return audit


class _Reimport:
    """Writes one re-import: the header, the item changes, the baseline; under the
    contract's lock, with the optimistic version check."""

    def __init__(self, plan: Plan) -> None:
        applying = plan.audit.loc[plan.audit["outcome"] == Outcome.reimported, "contract_no"]
        items = plan.comparison.items
        self.items = _by_contract(items[items["contract_no"].isin(applying)])
        self.erp_items = _by_contract(plan.erp.items[plan.erp.items["contract_no"].isin(applying)])
        self.targets = plan.comparison.contracts.set_index("contract_no")
        self.erp_headers = _erp_headers(plan)
        self.no_items, self.no_erp_items = _no_rows(items), _no_rows(plan.erp.items)
        self.digests = plan.store_digests

    def transaction(self, engine: sa.Engine, row: pd.Series):  # noqa: ANN201 - a context
        return contract_transaction(engine, int(row["contract_id"]))

    def write(self, connection: sa.Connection, row: pd.Series) -> list[int]:
        contract_no = row["contract_no"]
        if current_items_digest(connection, int(row["contract_id"])) != self.digests[contract_no]:
            raise StaleContract(
                f"contract {contract_no}: its items changed in the store since compare"
            )
        header = pd.concat([self.targets.loc[contract_no], self.erp_headers.loc[contract_no]])
        header["contract_no"] = contract_no
        version = reimport_contract(
            connection,
            header,
            self.items.get(contract_no, self.no_items),
            self.erp_items.get(contract_no, self.no_erp_items),
            row["erp_hash"],
        )
        return [row["contract_id"], version]


class _FirstImport:
    """Creates one store contract with its items and baseline, in its synced job's project."""

    def __init__(self, plan: Plan) -> None:
        self.headers = plan.erp.contracts.set_index("contract_no", drop=False)
        self.erp_items = _by_contract(plan.erp.items)
        self.no_erp_items = _no_rows(plan.erp.items)
        self.company_id = plan.company_id

    def transaction(self, engine: sa.Engine, _row: pd.Series):  # noqa: ANN201 - a context
        return engine.begin()

    def write(self, connection: sa.Connection, row: pd.Series) -> list[int]:
        contract_no = row["contract_no"]
        contract_id = import_contract(
            connection,
            self.company_id,
            int(row["project_id"]),
            self.headers.loc[contract_no],
            self.erp_items.get(contract_no, self.no_erp_items),
            row["erp_hash"],
        )
        return [contract_id, 1]


def _by_contract(items: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return dict(tuple(items.groupby("contract_no")))


def _erp_headers(plan: Plan) -> pd.DataFrame:
    return plan.erp.contracts.set_index("contract_no")[HEADER_FIELDS].add_prefix("erp_")


def settle_baselines(engine: sa.Engine, plan: Plan) -> None:
    """A contract whose ERP changed only to what the store already holds has nothing to
    re-import; its baseline moves to the ERP's values, so that a later store-side edit is
    seen as one (kept) and not as a conflict, and its hash stops sending it to compare."""
    settled = plan.audit[plan.audit["contract_no"].isin(plan.settle)]
    if settled.empty:
        return
    erp_headers = _erp_headers(plan)
    erp_items = plan.erp.items[plan.erp.items["contract_no"].isin(settled["contract_no"])]
    items_by_contract = _by_contract(erp_items)
    for row in settled.itertuples():
        header = erp_headers.loc[row.contract_no].copy()
        header["contract_no"] = row.contract_no
        try:
            with contract_transaction(engine, int(row.contract_id)) as connection:
                settle_baseline(
                    connection,
                    int(row.contract_id),
                    header,
                    items_by_contract.get(row.contract_no, _no_rows(plan.erp.items)),
                    row.erp_hash,
                )
        except LockedContract:
            continue  # another run holds it; the next run settles it


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0]


def _record_failure(engine: sa.Engine, run_id: str, audit_row: pd.DataFrame) -> None:
    with audit_transaction(engine) as connection:
        insert_audit(connection, run_id, audit_row)
