"""The re-import flow: extract -> validate -> compare -> gate -> apply -> audit."""

from __future__ import annotations

import uuid
from typing import Annotated

import pandas as pd
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from contract_sync.settings import get_settings
from contract_sync.store.writes import finish_run, start_run
from flows.pipeline import evaluate, open_store, trigger_of
from tasks.apply import apply_task, plan
from tasks.compare import ConflictPolicy
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
    start_run(
        store,
        {
            "id": run_id,
            "company_id": state.company_id,
            "trigger": trigger_of(requested_by),
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
        found = evaluate(
            settings,
            store,
            state,
            company,
            contracts,
            policy,
            full_refresh,
            settings.reports_path / run_id,
        )
        run_plan = plan(
            found.erp,
            found.decisions,
            found.comparison,
            found.hashes,
            found.validation.failures,
            found.state,
            found.unchanged,
            dry_run,
        )
        audit = apply_task(store, run_id, run_plan)
    except BaseException:
        finish_run(store, run_id, "failed")
        raise
    finish_run(store, run_id, "completed")
    _publish(audit, run_id, found.validation.docs_path)
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
