"""The re-import flow: extract -> validate -> compare -> gate -> apply -> audit."""

from __future__ import annotations

import uuid
from typing import Annotated

import pandas as pd
from prefect import flow, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from contract_sync.erp.frames import ErpFrames
from contract_sync.hashing import contract_hashes
from contract_sync.settings import get_settings
from contract_sync.store.db import make_engine, require_current_schema
from contract_sync.store.state import StoreState, load_state, with_items
from contract_sync.store.writes import finish_run, start_run
from tasks.apply import apply_task, plan
from tasks.compare import (
    ConflictPolicy,
    compare_task,
    single_store_contracts,
    unchanged_contracts,
)
from tasks.extract import extract_task
from tasks.gate import gate_task
from tasks.validate import validate_task


@task(name="load store state", cache_policy=NO_CACHE)
def load_state_task(engine, company: int, actor: str, contracts: list[str] | None) -> StoreState:
    return load_state(engine, company, actor, contracts)


@task(name="load store items", cache_policy=NO_CACHE)
def load_items_task(engine, state: StoreState, contract_nos: pd.Series) -> StoreState:
    """Items of the store contracts that go to compare; the others' items are never read."""
    single = single_store_contracts(state)
    return with_items(
        engine, state, single.loc[single["contract_no"].isin(contract_nos), "contract_id"]
    )


def _trigger(requested_by: str | None) -> str:
    if runtime.deployment.id is None:
        return "cli"
    return "manual" if requested_by else "scheduled"


@flow(name="reimport-main-contracts", log_prints=True)
def reimport_main_contracts(
    company: Annotated[
        int | None, Field(description="ERP company number; the configured one when empty.")
    ] = None,
    contracts: Annotated[
        list[str] | None,
        Field(description="ERP contract numbers to re-import; all of the company's when empty."),
    ] = None,
    requested_by: Annotated[
        str | None,
        Field(description="Store user the run acts as; the service user when empty."),
    ] = None,
    dry_run: Annotated[
        bool, Field(description="Gate and diff, record would_reimport, change nothing.")
    ] = False,
    policy: Annotated[
        ConflictPolicy,
        Field(description="A field changed in both the ERP and the store: ERP wins, or block."),
    ] = ConflictPolicy.erp_wins,
    full_refresh: Annotated[
        bool,
        Field(
            description="Compare every contract, also those unchanged in the ERP since "
            "their last import (repairs discrepancies made in the store)."
        ),
    ] = False,
) -> pd.DataFrame:
    settings = get_settings()
    company = company or settings.company
    actor = requested_by or settings.service_user
    store = make_engine(settings.store_database_url)
    require_current_schema(store)
    state = load_state_task(store, company, actor, contracts)
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    start_run(
        store,
        {
            "id": run_id,
            "company_id": state.company_id,
            "trigger": _trigger(requested_by),
            "actor": actor,
            "parameters": {
                "company": company,
                "contracts": contracts,
                "dry_run": dry_run,
                "policy": str(policy),
                "full_refresh": full_refresh,
            },
            "dry_run": dry_run,
        },
    )
    try:
        erp = extract_task(settings, company, contracts)
        hashes = contract_hashes(erp.contracts, erp.items)
        unchanged = unchanged_contracts(state, erp.contracts, hashes)
        if full_refresh:
            unchanged = pd.Series(False, index=erp.contracts.index)
        changed = ErpFrames(
            erp.contracts[~unchanged],
            erp.items[erp.items["contract_no"].isin(erp.contracts.loc[~unchanged, "contract_no"])],
        )
        validation = validate_task(
            changed, settings.expectations_dir, settings.reports_path / run_id
        )
        state = load_items_task(store, state, changed.contracts["contract_no"])
        comparison = compare_task(state, changed.contracts, changed.items)
        decisions = gate_task(
            state, erp.contracts, validation.invalid_contracts, comparison, policy, unchanged
        )
        run_plan = plan(
            erp, decisions, comparison, hashes, validation.failures, state, unchanged, dry_run
        )
        audit = apply_task(store, run_id, run_plan)
    except BaseException:
        finish_run(store, run_id, "failed")
        raise
    finish_run(store, run_id, "completed")
    _publish(audit, run_id, validation.docs_path)
    return audit.assign(run_id=run_id)


def _publish(audit: pd.DataFrame, run_id: str, docs_path) -> None:
    table = audit[
        [
            "contract_no",
            "outcome",
            "reasons",
            "items_added",
            "items_changed",
            "items_removed",
            "header_changes",
        ]
    ]
    create_table_artifact(
        key="reimport-outcomes",
        table=table.astype(object).to_dict("records"),
        description=f"Per-contract outcomes of run {run_id}",
    )
    counts = audit.groupby(["outcome"]).size().to_dict()
    lines = [f"- **{outcome}**: {count}" for outcome, count in sorted(counts.items())]
    create_markdown_artifact(
        key="reimport-summary",
        markdown="\n".join(
            [f"# Re-import run {run_id}", *lines, "", f"Validation report: `{docs_path}`"]
        ),
    )
