"""The re-import flow: extract -> validate -> compare -> gate -> apply -> audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from contract_sync.reports.run_summary import outcome_rows, run_summary
from contract_sync.run import Request, RunResult, reimport
from contract_sync.settings import Settings, get_settings
from contract_sync.store.db import safe_url
from contract_sync.vocabulary import ConflictPolicy
from flows.prefect_run import ProgressArtifact, origin, prefect_hooks


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
    request = Request(
        company=company or settings.company,
        actor=requested_by or settings.service_user,
        contracts=contracts,
        project=project,
        dry_run=dry_run,
        policy=policy,
        full_refresh=full_refresh,
    )
    result = reimport_in_flow(settings, request)
    return result.audit.assign(run_id=result.run_id)


def reimport_in_flow(settings: Settings, request: Request) -> RunResult:
    """A re-import run inside the current flow run: stages as tasks, progress, artifacts."""
    progress = ProgressArtifact()
    result = reimport(settings, request, origin=origin(), hooks=prefect_hooks(progress))
    progress.finish()
    docs = result.evaluation.validation.docs_path
    _publish(result.audit, result.run_id, docs, settings.store_database_url)
    return result


def _publish(audit: pd.DataFrame, run_id: str, docs_path: Path | None, store_url: str) -> None:
    source = runtime.deployment.name or "cli"
    create_table_artifact(
        key=f"{source}-outcomes",
        table=outcome_rows(audit),
        description=f"Per-contract outcomes of run {run_id}",
    )
    create_markdown_artifact(
        key=f"{source}-summary",
        markdown=run_summary(audit, run_id, docs_path, safe_url(store_url)),
        description=f"Summary of run {run_id}",
    )
