"""Apply: each eligible contract re-imported in its own transaction, with its audit rows.

Blocked contracts (and every contract of a dry run) are audited together in one
transaction. One contract's failure rolls back only that contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from contract_sync.columns import CHANGE_COUNTS, HEADER_FIELDS
from contract_sync.erp.frames import ErpFrames
from contract_sync.store.state import StoreState
from contract_sync.store.writes import (
    LockedContract,
    StaleContract,
    contract_transaction,
    insert_audit,
    reimport_contract,
    settle_baseline,
)
from tasks.compare import Comparison, single_store_contracts

COUNT_COLUMNS = [*CHANGE_COUNTS, "items_unchanged"]


@dataclass(frozen=True)
class Plan:
    """Everything apply needs, computed before anything is written."""

    audit: pd.DataFrame  # one row per contract in scope, outcome set where already known
    comparison: Comparison
    erp: ErpFrames
    dry_run: bool
    settle: pd.Series  # contracts with nothing to re-import whose ERP hash moved: see below


def plan(
    erp: ErpFrames,
    decisions: pd.DataFrame,
    comparison: Comparison,
    hashes: pd.Series,
    failures: pd.DataFrame,
    state: StoreState,
    unchanged: pd.Series,
    dry_run: bool,
) -> Plan:
    """The audit row of every contract; eligible ones get `reimported` or `would_reimport`."""
    contracts = erp.contracts
    number = contracts["contract_no"]
    summary = comparison.contracts.set_index("contract_no")
    stored = single_store_contracts(state).set_index("contract_no")
    synced_project = contracts["job_no"].map(state.synced_jobs.set_index("job_no")["project_id"])
    outcome = pd.Series("blocked", index=contracts.index, dtype="string").mask(
        decisions["eligible"].to_numpy(), "would_reimport" if dry_run else "reimported"
    )
    counts = {c: number.map(summary[c]).fillna(0).astype("int64") for c in COUNT_COLUMNS}
    # A contract unchanged since its last import was not compared: all its items are unchanged.
    erp_item_counts = erp.items.groupby("contract_no").size()
    counts["items_unchanged"] = counts["items_unchanged"].mask(
        unchanged, number.map(erp_item_counts).fillna(0).astype("int64")
    )
    version = number.map(stored["version"]).astype("Int64")
    before = number.map(stored["original_amount"]).astype("Int64")
    audit = pd.DataFrame(
        {
            "erp_company": contracts["erp_company"],
            "contract_no": number,
            "project_id": number.map(stored["project_id"]).fillna(synced_project).astype("Int64"),
            "contract_id": number.map(stored["contract_id"]).astype("Int64"),
            "outcome": outcome,
            "reasons": decisions["reasons"].to_numpy(),
            "failed_expectations": number.map(
                failures.set_index("contract_no")["failed_expectations"]
            ),
            "error": pd.Series(pd.NA, index=contracts.index, dtype="string"),
            **counts,
            "amount_before": before,
            "amount_after": number.map(summary["amount_after"])
            .astype("Int64")
            .where(decisions["eligible"].to_numpy(), before),
            "erp_hash": hashes.to_numpy(),
            "version_before": version,
            "version_after": version,
        }
    )
    hash_by_id = state.baselines.set_index("contract_id")["erp_hash"]
    stored_hash = number.map(stored["contract_id"]).map(hash_by_id)
    moved = stored_hash.notna() & stored_hash.ne(pd.Series(hashes.to_numpy(), index=number.index))
    settle = number[decisions["reasons"].eq("no_updates").to_numpy() & moved.fillna(False)]
    return Plan(audit, comparison, erp, dry_run, settle)


def apply(
    engine: sa.Engine,
    run_id: str,
    plan: Plan,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Write the plan; returns the audit rows as written (final outcome per contract)."""
    audit = plan.audit.copy()
    to_apply = audit["outcome"] == "reimported"
    # The diff is recorded for what was (or, in a dry run, would be) written, not for refusals.
    previewed = audit.loc[audit["outcome"] == "would_reimport", "contract_no"]
    changes = plan.comparison.changes
    with engine.begin() as connection:
        insert_audit(
            connection, run_id, audit[~to_apply], changes[changes["contract_no"].isin(previewed)]
        )
    targets = plan.comparison.contracts.set_index("contract_no")
    erp_headers = plan.erp.contracts.set_index("contract_no")[HEADER_FIELDS].add_prefix("erp_")
    applying = audit.loc[to_apply, "contract_no"]
    items = plan.comparison.items
    items_by_contract = dict(
        tuple(items[items["contract_no"].isin(applying)].groupby("contract_no"))
    )
    erp_items = plan.erp.items[plan.erp.items["contract_no"].isin(applying)]
    erp_items_by_contract = dict(tuple(erp_items.groupby("contract_no")))
    indices = audit.index[to_apply]
    for done, index in enumerate(indices, start=1):
        row = audit.loc[index]
        contract_no = row["contract_no"]
        header = pd.concat([targets.loc[contract_no], erp_headers.loc[contract_no]])
        header["contract_no"] = contract_no
        try:
            with contract_transaction(engine, int(row["contract_id"])) as connection:
                version = reimport_contract(
                    connection,
                    header,
                    items_by_contract.get(contract_no, _no_rows(plan.comparison.items)),
                    erp_items_by_contract.get(contract_no, _no_rows(plan.erp.items)),
                    row["erp_hash"],
                )
                audit.loc[index, "version_after"] = version
                insert_audit(connection, run_id, audit.loc[[index]], plan.comparison.changes)
        except (StaleContract, LockedContract) as error:
            reason = "stale" if isinstance(error, StaleContract) else "locked"
            audit.loc[index, ["outcome", "reasons", "version_after"]] = [
                "blocked",
                reason,
                row["version_before"],
            ]
            _record_failure(engine, run_id, audit.loc[[index]])
        except Exception as error:  # noqa: BLE001 - recorded, and the run goes on
            audit.loc[index, ["outcome", "error", "version_after"]] = [
                "failed",
                f"{type(error).__name__}: {error}",
                row["version_before"],
            ]
            _record_failure(engine, run_id, audit.loc[[index]])
        if progress:
            progress(done, len(indices))
    if not plan.dry_run:
        settle_baselines(engine, plan, erp_headers)
    return audit


def settle_baselines(engine: sa.Engine, plan: Plan, erp_headers: pd.DataFrame) -> None:
    """A contract whose ERP changed only to what the store already holds has nothing to
    re-import; its baseline moves to the ERP's values, so that a later store-side edit is
    seen as one (kept) and not as a conflict, and its hash stops sending it to compare."""
    settled = plan.audit[plan.audit["contract_no"].isin(plan.settle)]
    if settled.empty:
        return
    erp_items = plan.erp.items[plan.erp.items["contract_no"].isin(settled["contract_no"])]
    items_by_contract = dict(tuple(erp_items.groupby("contract_no")))
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
    with engine.begin() as connection:
        insert_audit(connection, run_id, audit_row)


@task(name="apply", cache_policy=NO_CACHE)
def apply_task(engine: sa.Engine, run_id: str, plan: Plan) -> pd.DataFrame:
    """Apply with a progress artifact that moves as contracts are written, and log lines."""
    logger = get_run_logger()
    total = int((plan.audit["outcome"] == "reimported").sum())
    artifact = create_progress_artifact(0.0, description=f"Contracts re-imported of {total}")

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 20) == 0:
            update_progress_artifact(artifact, 100.0 * done / total)
            logger.info("re-imported %d of %d contracts", done, total)

    audit = apply(engine, run_id, plan, progress)
    update_progress_artifact(artifact, 100.0)
    return audit
