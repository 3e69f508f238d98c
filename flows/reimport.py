"""The re-import flow: extract -> validate -> compare -> gate -> apply -> audit."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import pandas as pd
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from contract_sync.settings import get_settings
from contract_sync.store.writes import finish_run, start_run
from flows.pipeline import evaluate, open_store, plan_of, run_record, safe_url
from tasks.apply import apply_task
from tasks.compare import ConflictPolicy
from tasks.report import outcome_rows, run_summary
from tasks.state import load_state_task


@flow(name="reimport-main-contracts", log_prints=True)
def reimport_main_contracts(
    company: Annotated[
        int | None, Field(description="ERP company number; the configured one when empty.")
    ] = None,
    contracts: Annotated[
        list[str] | None,
        Field(description="ERP contract numbers to re-import; all of the company's when empty."),
    ] = None,
    project: Annotated[
        str | None,
        Field(description="Only the contracts of this project (its number in the store)."),
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
    store = open_store(settings)
    state = load_state_task(store, company, actor, contracts)
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    parameters = {
        "company": company,
        "contracts": contracts,
        "project": project,
        "dry_run": dry_run,
        "policy": str(policy),
        "full_refresh": full_refresh,
    }
    start_run(store, run_record(run_id, state.company_id, actor, parameters, dry_run))
    try:
        found = evaluate(
            settings,
            store,
            state,
            company,
            contracts,
            policy,
            full_refresh,
            settings.reports_path / run_id,
            project,
        )
        run_plan = plan_of(found, dry_run)
        audit = apply_task(store, run_id, run_plan)
    except BaseException:
        finish_run(store, run_id, "failed")
        raise
    finish_run(store, run_id, "completed")
    _publish(audit, run_id, found.validation.docs_path, safe_url(store))
    return audit.assign(run_id=run_id)


def _publish(audit: pd.DataFrame, run_id: str, docs_path: Path | None, audit_log: str) -> None:
    source = runtime.deployment.name or "cli"
    create_table_artifact(
        key=f"{source}-outcomes",
        table=outcome_rows(audit),
        description=f"Per-contract outcomes of run {run_id}",
    )
    create_markdown_artifact(
        key=f"{source}-summary",
        markdown=run_summary(audit, run_id, docs_path, audit_log),
        description=f"Summary of run {run_id}",
    )
