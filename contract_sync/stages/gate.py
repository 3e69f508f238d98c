"""Gate: every rule of a re-import, evaluated for all contracts at once.

Every failing reason is recorded, not only the first.
"""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import CHANGE_COUNTS, is_in
from contract_sync.model import Comparison, StoreState
from contract_sync.vocabulary import (
    IMPORT_GATES,
    IMPORTERS,
    REIMPORT_GATES,
    REIMPORTERS,
    SPECTRUM,
    ConflictPolicy,
    ContractStatus,
    ErpStatus,
    Reason,
    syncs_main_contracts,
)


def _project_levels(
    state: StoreState, erp_contracts: pd.DataFrame, stored_too: bool = True
) -> pd.Series:
    """Per contract: whether the actor lacks Admin on Main Contracts of a project it touches:
    its synced job's project, and (`stored_too`) every project that holds it."""
    synced = erp_contracts[["contract_no", "job_no"]].merge(state.synced_jobs, on="job_no")
    touched = synced[["contract_no", "project_id"]]
    if stored_too:
        stored = state.contracts[["contract_no", "project_id"]]
        touched = pd.concat([stored, touched], ignore_index=True)
    levels = touched.merge(state.main_contracts_levels, on="project_id", how="left")
    not_admin = (~levels["level"].isin(REIMPORTERS)).groupby(levels["contract_no"]).any()
    return is_in(erp_contracts["contract_no"], not_admin.index[not_admin])


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
        state.contracts.assign(unapproved=state.contracts["status"] != ContractStatus.approved)
        .groupby("contract_no")
        .agg(projects=("project_id", "nunique"), unapproved=("unapproved", "any"))
    )
    change_orders = _approved_change_orders(state)
    summary = comparison.contracts.set_index("contract_no")
    invalid = is_in(contract_no, invalid_contracts)
    nothing_changed = unchanged | is_in(contract_no, summary.index[~summary["has_updates"]])
    no_updates = nothing_changed & ~invalid
    # A pending or hard-closed ERP contract is Draft or Complete in the store because of its
    # ERP status, not unapproved there; with nothing to re-import it is simply up to date.
    # Its status change alone (closing it, say) is recorded, not refused: only changes to
    # its content wait for it to be open.
    content_changed = ~no_updates & ~is_in(contract_no, summary.index[_status_only(summary)])
    status = erp_contracts["erp_status"].astype("string")
    imported = is_in(contract_no, stored.index).to_numpy()
    pending = imported & status.eq(ErpStatus.pending).fillna(False).to_numpy()
    closed = imported & status.eq(ErpStatus.hard_close).fillna(False).to_numpy()
    checks = {
        Reason.unknown_user: not state.actor_known,
        Reason.permission_denied: (state.erp_integrations_level not in REIMPORTERS)
        | _project_levels(state, erp_contracts),
        **_integration_checks(state),
        Reason.not_imported: ~imported,
        Reason.erp_contract_pending: pending & content_changed,
        Reason.erp_contract_closed: closed & content_changed,
        Reason.contract_unapproved: is_in(contract_no, stored.index[stored["unapproved"]])
        & ~pending
        & ~closed,
        Reason.job_not_synced: ~is_in(erp_contracts["job_no"], state.synced_jobs["job_no"]),
        Reason.contract_in_multiple_projects: contract_no.map(stored["projects"]).fillna(0) > 1,
        Reason.approved_change_orders: is_in(contract_no, change_orders) & ~no_updates,
        Reason.invalid_erp_data: invalid,
        Reason.no_updates: no_updates,
        Reason.conflict: (policy == ConflictPolicy.block)
        & (contract_no.map(summary["conflicts"]).fillna(0) > 0),
    }
    return _decisions(contract_no, checks, REIMPORT_GATES)


def _approved_change_orders(state: StoreState) -> pd.Index:
    """Contracts a Spectrum re-import refuses: those with approved prime change orders
    (Procore's rule for Spectrum; known only where the store reports them)."""
    if state.erp_type != SPECTRUM or "change_orders_approved" not in state.contracts:
        return pd.Index([])
    counts = state.contracts["change_orders_approved"].fillna(0).astype("int64")
    return pd.Index(state.contracts.loc[counts > 0, "contract_no"])


def _status_only(summary: pd.DataFrame) -> pd.Series:
    """Per compared contract: its one change is its ERP status (no item even moved: moved
    positions are written too)."""
    changes = summary[CHANGE_COUNTS].sum(axis=1)
    moved = summary["items_renumbered"].gt(0)
    return summary["erp_status_changed"].astype(bool) & changes.eq(1) & ~moved


def _integration_checks(state: StoreState) -> dict[Reason, bool]:
    return {
        Reason.integration_not_configured: not state.integration_configured,
        Reason.integration_unsupported: state.integration_configured
        and not syncs_main_contracts(state.erp_type),
    }


def evaluate_import_gates(
    state: StoreState, erp_contracts: pd.DataFrame, invalid_contracts: pd.Series
) -> pd.DataFrame:
    """The first import ("Add to Procore"): Standard or Admin on ERP Integrations and Admin on
    the Main Contracts of the project it goes into, the project of its synced job; the
    contract must not be in the store yet."""
    contract_no = erp_contracts["contract_no"]
    checks = {
        Reason.unknown_user: not state.actor_known,
        Reason.permission_denied: (state.erp_integrations_level not in IMPORTERS)
        | _project_levels(state, erp_contracts, stored_too=False),
        **_integration_checks(state),
        Reason.already_imported: is_in(contract_no, state.contracts["contract_no"]),
        Reason.job_not_synced: ~is_in(erp_contracts["job_no"], state.synced_jobs["job_no"]),
        Reason.invalid_erp_data: is_in(contract_no, invalid_contracts),
    }
    return _decisions(contract_no, checks, IMPORT_GATES)


def _decisions(
    contract_no: pd.Series, checks: dict[Reason, pd.Series | bool], gates: list[Reason]
) -> pd.DataFrame:
    """One row per contract: the codes of every failing gate, in the gates' order."""
    checks = pd.DataFrame(checks, index=contract_no.index)[gates]
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
