"""The stages every flow shares, from the ERP read to the gates' decisions.

Inside a flow each stage runs as its Prefect task; called from the command line outside
a flow (`contract-sync ready`, `diff`), the same stages run as plain functions, without
starting a Prefect server.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
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
from tasks.apply import Plan, plan
from tasks.compare import Comparison, ConflictPolicy, compare_task, unchanged_contracts
from tasks.extract import extract_task
from tasks.gate import gate_task
from tasks.state import load_items_task, load_state_task
from tasks.validate import Validation, validate_task


def trigger_of() -> str:
    """How a run was started: from the CLI, by hand (UI or API), or by its schedule."""
    if runtime.deployment.id is None:
        return "cli"
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(runtime.flow_run.id)
    return "scheduled" if flow_run.auto_scheduled else "manual"


def run_record(run_id: str, company_id: int, actor: str, parameters: dict, dry_run: bool) -> dict:
    """The sync_runs row of this run, with where it came from."""
    return {
        "id": run_id,
        "company_id": company_id,
        "trigger": trigger_of(),
        "deployment": runtime.deployment.name,
        "actor": actor,
        "parameters": parameters,
        "dry_run": dry_run,
    }


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


def in_project(erp: ErpFrames, state: StoreState, project: str) -> ErpFrames:
    """The ERP contracts of one store project: imported there, or whose job is synced to it."""
    ids = state.projects.loc[state.projects["project"] == project, "project_id"]
    if ids.empty:
        raise ValueError(f"project {project} does not exist in the project store")
    stored = state.contracts.loc[state.contracts["project_id"].isin(ids), "contract_no"]
    jobs = state.synced_jobs.loc[state.synced_jobs["project_id"].isin(ids), "job_no"]
    return erp.only(erp.contracts["contract_no"].isin(stored) | erp.contracts["job_no"].isin(jobs))


def open_store(settings: Settings) -> sa.Engine:
    """The store's engine, refusing a schema that is not the current one."""
    store = make_engine(settings.store_database_url)
    require_current_schema(store)
    return store


def safe_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


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
    project: str | None = None,
    timer: Callable[[str], AbstractContextManager] = lambda _stage: nullcontext(),
) -> Evaluation:
    """Every stage up to the gates' decisions; `timer(stage)` wraps each (the benchmark
    measures them with it)."""
    with timer("extract"):
        erp = run(extract_task, settings, company, contracts)
    if project is not None:
        erp = in_project(erp, state, project)
    with timer("hash"):
        hashes = contract_hashes(erp.contracts, erp.items)
        unchanged = unchanged_contracts(state, erp.contracts, hashes)
    if full_refresh:
        unchanged = pd.Series(False, index=erp.contracts.index)
    changed = erp.only(~unchanged)
    with timer("validate"):
        validation = run(validate_task, changed, settings.expectations_dir, docs_dir)
    with timer("load items"):
        state = run(load_items_task, store, state, changed.contracts["contract_no"])
    with timer("compare"):
        comparison = run(compare_task, state, changed.contracts, changed.items)
    with timer("gate"):
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


def plan_of(found: Evaluation, dry_run: bool) -> Plan:
    """What apply will write for this evaluation."""
    return plan(
        found.erp,
        found.decisions,
        found.comparison,
        found.hashes,
        found.validation.failures,
        found.state,
        found.unchanged,
        dry_run,
    )
