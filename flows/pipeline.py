"""The stages every flow shares, from the ERP read to the gates' decisions.

Inside a flow each stage runs as its Prefect task; called from the command line outside
a flow (`contract-sync ready`, `diff`), the same stages run as plain functions, without
starting a Prefect server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prefect import runtime
from prefect.context import FlowRunContext

from contract_sync.erp.frames import ErpFrames
from contract_sync.hashing import contract_hashes
from contract_sync.settings import Settings
from contract_sync.store.db import make_engine, require_current_schema
from contract_sync.store.state import StoreState
from tasks.compare import Comparison, ConflictPolicy, compare_task, unchanged_contracts
from tasks.extract import extract_task
from tasks.gate import gate_task
from tasks.state import load_items_task, load_state_task
from tasks.validate import Validation, validate_task


def trigger_of(requested_by: str | None) -> str:
    """How a run was started: from the CLI, by hand from the UI, or by its schedule."""
    if runtime.deployment.id is None:
        return "cli"
    return "manual" if requested_by else "scheduled"


def run(task, *args):  # noqa: ANN001, ANN201 - any task, its own result
    """A task as a task run inside a flow, as its plain function outside one."""
    return task(*args) if FlowRunContext.get() else task.fn(*args)


@dataclass(frozen=True)
class Evaluation:
    state: StoreState  # with the items of the compared contracts
    erp: ErpFrames  # every contract in scope
    hashes: pd.Series
    unchanged: pd.Series  # same content hash as at the last import: not compared
    validation: Validation
    comparison: Comparison
    decisions: pd.DataFrame


def open_store(settings: Settings) -> sa.Engine:
    """The store's engine, refusing a schema that is not the current one."""
    store = make_engine(settings.store_database_url)
    require_current_schema(store)
    return store


def load_and_evaluate(
    settings: Settings,
    company: int,
    actor: str,
    contracts: list[str] | None = None,
    policy: ConflictPolicy = ConflictPolicy.erp_wins,
    full_refresh: bool = False,
) -> Evaluation:
    """A read-only evaluation (no validation report written): for previews and lists."""
    store = open_store(settings)
    try:
        state = run(load_state_task, store, company, actor, contracts)
        return evaluate(settings, store, state, company, contracts, policy, full_refresh, None)
    finally:
        store.dispose()


def evaluate(
    settings: Settings,
    store: sa.Engine,
    state: StoreState,
    company: int,
    contracts: list[str] | None,
    policy: ConflictPolicy,
    full_refresh: bool,
    docs_dir: Path | None,
) -> Evaluation:
    erp = run(extract_task, settings, company, contracts)
    hashes = contract_hashes(erp.contracts, erp.items)
    unchanged = unchanged_contracts(state, erp.contracts, hashes)
    if full_refresh:
        unchanged = pd.Series(False, index=erp.contracts.index)
    changed_numbers = erp.contracts.loc[~unchanged, "contract_no"]
    changed = ErpFrames(
        erp.contracts[~unchanged], erp.items[erp.items["contract_no"].isin(changed_numbers)]
    )
    validation = run(validate_task, changed, settings.expectations_dir, docs_dir)
    state = run(load_items_task, store, state, changed_numbers)
    comparison = run(compare_task, state, changed.contracts, changed.items)
    decisions = run(
        gate_task,
        state,
        erp.contracts,
        validation.invalid_contracts,
        comparison,
        policy,
        unchanged,
    )
    return Evaluation(state, erp, hashes, unchanged, validation, comparison, decisions)
