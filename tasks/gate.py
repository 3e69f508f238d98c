"""Gate: every rule of a re-import, evaluated for all contracts at once.

Every failing reason is recorded, not only the first.
"""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from contract_sync.store.schema import ERP_TYPES
from contract_sync.store.state import StoreState
from tasks.compare import Comparison, ConflictPolicy

REASONS = [
    "permission_denied",
    "integration_not_configured",
    "integration_unsupported",
    "not_imported",
    "contract_unapproved",
    "job_not_synced",
    "contract_in_multiple_projects",
    "invalid_erp_data",
    "no_updates",
    "conflict",
]
ADMIN = "admin"


def _project_levels(state: StoreState, erp_contracts: pd.DataFrame) -> pd.Series:
    """Per contract: whether the actor is Admin on Main Contracts of every project it touches."""
    stored = state.contracts[["contract_no", "project_id"]]
    synced = erp_contracts[["contract_no", "job_no"]].merge(state.synced_jobs, on="job_no")
    touched = pd.concat([stored, synced[["contract_no", "project_id"]]], ignore_index=True)
    levels = touched.merge(state.main_contracts_levels, on="project_id", how="left")
    not_admin = levels["level"].ne(ADMIN).groupby(levels["contract_no"]).any()
    return erp_contracts["contract_no"].isin(not_admin.index[not_admin])


def evaluate_gates(
    state: StoreState,
    erp_contracts: pd.DataFrame,
    invalid_contracts: pd.Series,
    comparison: Comparison,
    policy: ConflictPolicy,
    unchanged: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per ERP contract: contract_no, reasons (space-separated codes), eligible.

    `unchanged` marks contracts whose ERP content hash equals the last import's: they were
    not compared and have nothing to re-import.
    """
    if unchanged is None:
        unchanged = pd.Series(False, index=erp_contracts.index)
    contract_no = erp_contracts["contract_no"]
    stored = (
        state.contracts.assign(unapproved=state.contracts["status"] != "Approved")
        .groupby("contract_no")
        .agg(projects=("project_id", "nunique"), unapproved=("unapproved", "any"))
    )
    summary = comparison.contracts.set_index("contract_no")
    checks = pd.DataFrame(
        {
            "permission_denied": (state.erp_integrations_level != ADMIN)
            | _project_levels(state, erp_contracts),
            "integration_not_configured": not state.integration_configured,
            "integration_unsupported": state.integration_configured
            and not ERP_TYPES.get(state.erp_type or "", False),
            "not_imported": ~contract_no.isin(stored.index),
            "contract_unapproved": contract_no.isin(stored.index[stored["unapproved"]]),
            "job_not_synced": ~erp_contracts["job_no"].isin(state.synced_jobs["job_no"]),
            "contract_in_multiple_projects": contract_no.map(stored["projects"]).fillna(0) > 1,
            "invalid_erp_data": contract_no.isin(invalid_contracts),
            "no_updates": (unchanged | contract_no.isin(summary.index[~summary["has_updates"]]))
            & ~contract_no.isin(invalid_contracts),
            "conflict": (policy == ConflictPolicy.block)
            & (contract_no.map(summary["conflicts"]).fillna(0) > 0),
        },
        index=erp_contracts.index,
    )[REASONS]
    return _decisions(contract_no, checks)


IMPORT_REASONS = [
    "permission_denied",
    "integration_not_configured",
    "integration_unsupported",
    "already_imported",
    "job_not_synced",
    "invalid_erp_data",
]
IMPORTERS = {"standard", ADMIN}


def evaluate_import_gates(
    state: StoreState, erp_contracts: pd.DataFrame, invalid_contracts: pd.Series
) -> pd.DataFrame:
    """The first import ("Add to Procore"): Standard or Admin on ERP Integrations suffices;
    the contract must not be in the store yet, and goes into the project of its synced job."""
    contract_no = erp_contracts["contract_no"]
    checks = pd.DataFrame(
        {
            "permission_denied": state.erp_integrations_level not in IMPORTERS,
            "integration_not_configured": not state.integration_configured,
            "integration_unsupported": state.integration_configured
            and not ERP_TYPES.get(state.erp_type or "", False),
            "already_imported": contract_no.isin(state.contracts["contract_no"]),
            "job_not_synced": ~erp_contracts["job_no"].isin(state.synced_jobs["job_no"]),
            "invalid_erp_data": contract_no.isin(invalid_contracts),
        },
        index=erp_contracts.index,
    )[IMPORT_REASONS]
    return _decisions(contract_no, checks)


def _decisions(contract_no: pd.Series, checks: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contract_no": contract_no,
            "reasons": reason_text(checks),
            "eligible": ~checks.any(axis=1),
        }
    )


def reason_text(checks: pd.DataFrame) -> pd.Series:
    """Space-separated codes of the true columns, per row, in column order."""
    text = pd.Series("", index=checks.index, dtype="string")
    for reason in checks.columns:
        text = text + checks[reason].map({True: reason + " ", False: ""}).astype("string")
    return text.str.strip()


@task(name="gate", cache_policy=NO_CACHE)
def gate_task(
    state: StoreState,
    erp_contracts: pd.DataFrame,
    invalid_contracts: pd.Series,
    comparison: Comparison,
    policy: ConflictPolicy,
    unchanged: pd.Series,
) -> pd.DataFrame:
    return evaluate_gates(state, erp_contracts, invalid_contracts, comparison, policy, unchanged)
