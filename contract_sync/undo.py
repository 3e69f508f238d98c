"""The undo API: the contracts a run wrote put back as they were before it, as a run of
its own (trigger `undo`), gated, audited and chained like a re-import
(contract_sync.stages.undo says how). A dry run reads and plans, and records nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from contract_sync.columns import normal_text
from contract_sync.errors import UserError
from contract_sync.hooks import Hooks
from contract_sync.model import Origin
from contract_sync.project_store import project_store, read_store, read_store_items
from contract_sync.settings import Settings
from contract_sync.stages.apply import apply
from contract_sync.stages.undo import plan_undo
from contract_sync.store.db import open_store
from contract_sync.store.liveness import alive
from contract_sync.store.state import load_state, with_items
from contract_sync.store.undo_log import RunWrites, UnknownRun, read_run_writes
from contract_sync.store.writes import finish_run, start_run
from contract_sync.vocabulary import OUTCOME_LABELS, UNDOABLE, RunStatus, Trigger


class NothingToUndo(UserError, ValueError):
    """The run, or the contracts asked for, hold no write an undo can take back."""


@dataclass(frozen=True)
class UndoResult:
    run_id: str | None  # the undo's own run; None for a dry run (nothing recorded)
    undone: str  # the run undone
    audit: pd.DataFrame  # one row per contract, as recorded (as planned in a dry run)
    changed_since: pd.DataFrame  # what the run wrote that changed since (stages.undo)


def undo(
    settings: Settings,
    run_id: str,
    actor: str,
    contracts: list[str] | None = None,
    *,
    dry_run: bool = False,
    overwrite: bool = False,
    origin: Origin | None = None,
    hooks: Hooks = Hooks(),
    erp_company: int | None = None,
) -> UndoResult:
    """Undo what run `run_id` wrote (to `contracts` only, when given) acting as `actor`;
    `erp_company`: the company the run must be of (a page of one company)."""
    origin = origin or Origin(trigger=Trigger.undo)
    store = open_store(settings)
    try:
        with project_store(settings) as target, alive(store, origin.run_id):
            run = read_run_writes(store, run_id)
            if erp_company not in (None, run.erp_company):
                raise UnknownRun(f"no run {run_id} of ERP company {erp_company}")
            written = _to_undo(run, contracts)
            erp_company, numbers = run.erp_company, written["contract_no"].tolist()
            read_store(target, store, erp_company)  # Procore's state into the ledger
            state = load_state(store, erp_company, actor, numbers)
            ids = state.contract_ids(written["contract_no"]).tolist()
            read_store_items(target, store, erp_company, ids)
            state = with_items(store, state, ids)
            found = hooks.stage(
                "plan",
                plan_undo,
                state=state,
                erp_company=erp_company,
                written=written,
                changes=run.changes,
                images=run.images,
                later=run.later,
                overwrite=overwrite,
            )
            if dry_run:
                return UndoResult(None, run_id, found.plan.audit, found.changed_since)
            start_run(
                store,
                _run_record(origin, state.company_id, actor, run_id, numbers, overwrite, contracts),
            )
            try:
                audit = hooks.stage(
                    "apply",
                    apply,
                    engine=store,
                    run_id=origin.run_id,
                    plan=found.plan,
                    write_group=target.write_group,
                )
            except BaseException:
                finish_run(store, origin.run_id, RunStatus.failed)
                raise
            finish_run(store, origin.run_id, RunStatus.completed, 0)
            return UndoResult(origin.run_id, run_id, audit, found.changed_since)
    finally:
        store.dispose()


def _to_undo(run: RunWrites, contracts: list[str] | None) -> pd.DataFrame:
    """The run's audit rows of the contracts to undo: those it wrote (of `contracts`, each
    of which it must have written). NothingToUndo when there are none."""
    audit = run.audit
    written = audit[audit["outcome"].isin(UNDOABLE)]
    if run.dry_run:
        raise NothingToUndo(f"run {run.run_id} was a dry run: it wrote nothing to undo")
    if contracts:
        wanted = [normal_text(c) for c in contracts]
        outcome = audit.set_index("contract_no")["outcome"]
        for number in wanted:
            if number not in outcome.index:
                raise NothingToUndo(f"run {run.run_id} did not check contract {number}")
            if outcome[number] not in UNDOABLE:
                said = OUTCOME_LABELS.get(outcome[number], outcome[number])
                raise NothingToUndo(
                    f"run {run.run_id} did not write contract {number} (it was {said} there): "
                    "nothing of it to undo"
                )
        written = written[written["contract_no"].isin(wanted)]
    if written.empty:
        counts = ", ".join(
            f"{n} {OUTCOME_LABELS.get(o, o)}" for o, n in audit["outcome"].value_counts().items()
        )
        raise NothingToUndo(
            f"run {run.run_id} wrote no contract an undo can put back ({counts or 'none checked'}"
            "; a first import is not undone: unlink and delete the contract in the project)"
        )
    without = written[~written["contract_id"].isin(list(run.images))]
    if len(without):
        raise NothingToUndo(
            f"run {run.run_id} wrote {', '.join(without['contract_no'].head(5))} before this "
            "version kept what an undo needs (their positions and baselines before it)"
        )
    return written


def _run_record(
    origin: Origin,
    company_id: int,
    actor: str,
    undone: str,
    numbers: list[str],
    overwrite: bool,
    asked: list[str] | None,
) -> dict:
    """The sync_runs row of an undo run."""
    return {
        "id": origin.run_id,
        "company_id": company_id,
        "trigger": str(origin.trigger),
        "deployment": origin.deployment,
        "actor": actor,
        "parameters": {
            "undo_of": undone,
            "contracts": numbers if asked else None,
            "overwrite": overwrite,
        },
        "dry_run": False,
    }
