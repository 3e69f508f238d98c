"""Plan: the audit row of every contract in scope, and what apply will write, before
anything is written. Re-imports and first imports share one audit-row shape."""

from __future__ import annotations

import json

import pandas as pd

from contract_sync.columns import BASELINE_ROW, is_in, lookup
from contract_sync.model import (
    COUNT_COLUMNS,
    STATE_COLUMNS,
    ErpFrames,
    Evaluation,
    Plan,
    StoreState,
)
from contract_sync.stages.baselines import baseline_changes
from contract_sync.stages.undo_images import undo_images
from contract_sync.store.state import NO_ITEMS_DIGEST, items_digests
from contract_sync.vocabulary import UNCHANGED_REASONS, Outcome

STATE_NUMBERS = {"project_id", "amount_before", "version_before"}


def repeats(audit: pd.DataFrame, last_recorded: pd.DataFrame, actor: str) -> pd.Series:
    """Up-to-date and blocked contracts whose state is the one of their last audit record:
    same outcome, reasons, ERP content, project, amount and version, failed expectations,
    and the same acting user. A year of hourly syncs records each state once, not 8,760
    times; a change in any of these is recorded."""
    last = last_recorded.drop_duplicates("contract_no").set_index("contract_no")
    same = audit["outcome"].isin([Outcome.up_to_date, Outcome.blocked])
    same &= is_in(audit["contract_no"], last.index)
    same &= audit["contract_no"].map(last["actor"]).eq(actor).fillna(False).astype(bool)
    now, then = _state_text(audit), _state_text(last.reindex(audit["contract_no"]))
    for column in STATE_COLUMNS:
        same &= now[column].eq(then[column].to_numpy())
    return same.astype(bool)


def _state_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The state columns as comparable text: numbers as digits, failures as sorted JSON."""
    text = {
        c: frame[c].astype("Int64" if c in STATE_NUMBERS else "string").astype("string").fillna("")
        for c in STATE_COLUMNS
        if c != "failed_expectations"
    }
    failures = frame["failed_expectations"].map(
        lambda f: json.dumps(f, sort_keys=True) if isinstance(f, list) and f else ""
    )
    return pd.DataFrame({**text, "failed_expectations": failures}, index=frame.index)


def outcomes(decisions: pd.DataFrame, when_eligible: Outcome) -> pd.Series:
    """`when_eligible` for a contract every gate lets through, up_to_date for one with
    nothing to re-import and no other reason, blocked for the rest."""
    outcome = pd.Series(Outcome.blocked, index=decisions.index, dtype="string")
    outcome = outcome.mask(decisions["reasons"].eq(UNCHANGED_REASONS), Outcome.up_to_date)
    return outcome.mask(decisions["eligible"], when_eligible)


def audit_rows(
    erp: ErpFrames,
    decisions: pd.DataFrame,
    outcome: pd.Series,
    failures: pd.DataFrame,
    hashes: pd.Series,
    *,
    project_id: pd.Series,
    contract_id: pd.Series,
    counts: dict[str, pd.Series],
    amount_before: pd.Series,
    amount_if_written: pd.Series,
    version: pd.Series,
) -> pd.DataFrame:
    """The audit row of every ERP contract, aligned with `erp.contracts`; the amount after
    is the one written for an eligible contract and stays `amount_before` for the rest."""
    contracts = erp.contracts
    number = contracts["contract_no"]
    eligible = decisions["eligible"].to_numpy()
    return pd.DataFrame(
        {
            "erp_company": contracts["erp_company"],
            "contract_no": number,
            "project_id": project_id.astype("Int64"),
            "contract_id": contract_id.astype("Int64"),
            "outcome": outcome,
            "reasons": decisions["reasons"].to_numpy(),
            "failed_expectations": lookup(
                number, failures.set_index("contract_no")["failed_expectations"]
            ),
            "error": pd.Series(pd.NA, index=contracts.index, dtype="string"),
            **{c: counts[c].fillna(0).astype("int64") for c in COUNT_COLUMNS},
            "amount_before": amount_before.astype("Int64"),
            "amount_after": amount_if_written.astype("Int64").where(eligible, amount_before),
            "erp_hash": hashes.to_numpy(),
            "version_before": version.astype("Int64"),
            "version_after": version.astype("Int64"),
        }
    )


def plan_reimport(found: Evaluation, dry_run: bool) -> Plan:
    """Eligible contracts get `reimported` (or `would_reimport` in a dry run)."""
    erp, state, decisions = found.erp, found.state, found.decisions
    number = erp.contracts["contract_no"]
    summary = found.comparison.contracts.set_index("contract_no")
    stored = state.single_contracts().set_index("contract_no")
    synced_project = erp.contracts["job_no"].map(
        state.synced_jobs.set_index("job_no")["project_id"]
    )
    counts = {c: number.map(summary[c]) for c in COUNT_COLUMNS}
    # A contract unchanged since its last import was not compared: all its items are unchanged.
    counts["items_unchanged"] = counts["items_unchanged"].mask(
        found.unchanged, number.map(found.item_counts)
    )
    audit = audit_rows(
        erp,
        decisions,
        outcomes(decisions, Outcome.would_reimport if dry_run else Outcome.reimported),
        found.validation.failures,
        found.hashes,
        project_id=number.map(stored["project_id"]).fillna(synced_project),
        contract_id=number.map(stored["contract_id"]),
        counts=counts,
        amount_before=number.map(stored["original_amount"]),
        amount_if_written=number.map(summary["amount_after"]),
        version=number.map(stored["version"]),
    )
    baselines = state.baselines.set_index("contract_id")
    stored_hash = number.map(stored["contract_id"]).map(baselines["erp_hash"])
    hashes = pd.Series(found.hashes.to_numpy(), number.index)
    moved = stored_hash.notna() & stored_hash.ne(hashes)
    # The hash holds the status: unmoved, the ERP's status now is the one of the last import.
    no_status = number.map(stored["contract_id"]).map(baselines["erp_status"]).isna()
    up_to_date = decisions["reasons"].eq(UNCHANGED_REASONS).to_numpy()  # as settle: no refusal
    unrecorded = stored_hash.notna() & ~moved.fillna(True) & no_status & up_to_date
    settle = number[decisions["reasons"].eq(UNCHANGED_REASONS).to_numpy() & moved.fillna(False)]
    eligible = number[decisions["eligible"].to_numpy()]
    items = state.items[is_in(state.items["contract_no"], eligible)]
    digests = eligible.map(items_digests(items)).fillna(NO_ITEMS_DIGEST)
    to_write = eligible[:0] if dry_run else pd.concat([eligible, settle])
    written_ids = stored.loc[eligible[:0] if dry_run else eligible, "contract_id"]
    to_write_ids = stored.loc[to_write, "contract_id"].astype("int64")
    baseline_writes = _baseline_writes(erp, state, to_write_ids)
    return Plan(
        audit,
        found.comparison,
        erp,
        state.company_id,
        dry_run,
        settle,
        dict(zip(eligible, digests, strict=True)),
        repeats(audit, state.last_recorded, state.actor),
        *baseline_writes,
        pd.DataFrame(
            {
                "contract_id": number[unrecorded].map(stored["contract_id"]).astype("int64"),
                "erp_hash": hashes[unrecorded],
                "erp_status": erp.contracts.loc[unrecorded, "erp_status"].astype("string"),
            }
        ),
        undo_images(state, found.comparison.items, baseline_writes[0], written_ids),
    )


def _baseline_writes(
    erp: ErpFrames, state: StoreState, contract_ids: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """For these contracts (contract_no -> store contract_id): the baseline item changes
    that writing them makes, and by contract_id the ERP hash of the baseline those were
    computed from."""
    if contract_ids.empty:
        return pd.DataFrame(columns=BASELINE_ROW), pd.Series(dtype="string")
    erp_items = erp.items[is_in(erp.items["contract_no"], contract_ids.index)]
    changes = baseline_changes(
        contract_ids,
        erp_items.assign(contract_id=erp_items["contract_no"].map(contract_ids)),
        state.baseline_items,
    )
    hashes = contract_ids.map(state.baselines.set_index("contract_id")["erp_hash"])
    return changes, pd.Series(hashes.to_numpy(), index=contract_ids.to_numpy(), dtype="string")


def plan_first_import(found: Evaluation, dry_run: bool) -> Plan:
    """Eligible contracts get `imported`, with all their items added, into the project of
    their synced job."""
    erp, state, decisions = found.erp, found.state, found.decisions
    number = erp.contracts["contract_no"]
    item_counts = number.map(erp.items.groupby("contract_no").size()).fillna(0)
    nothing = pd.Series(0, index=number.index)
    missing = pd.Series(pd.NA, index=number.index, dtype="Int64")
    audit = audit_rows(
        erp,
        decisions,
        outcomes(decisions, Outcome.would_reimport if dry_run else Outcome.imported),
        found.validation.failures,
        found.hashes,
        project_id=erp.contracts["job_no"].map(state.synced_jobs.set_index("job_no")["project_id"]),
        contract_id=missing,
        counts={
            "items_added": item_counts.where(decisions["eligible"], 0),
            "items_changed": nothing,
            "items_removed": nothing,
            "items_unchanged": nothing,
            "header_changes": nothing,
        },
        amount_before=missing,
        amount_if_written=erp.contracts["original_amount"],
        version=missing,
    )
    return Plan(
        audit,
        None,
        erp,
        state.company_id,
        dry_run,
        number.iloc[0:0],
        repeated=repeats(audit, state.last_recorded, state.actor),
    )
