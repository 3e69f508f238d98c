"""The re-import flow: extract -> validate -> compare -> gate -> apply -> audit."""

from __future__ import annotations

import pandas as pd
from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, State
from pydantic import Field

from contract_sync.model import Request, RunResult
from contract_sync.reports.rules import checks
from contract_sync.reports.run_summary import (
    blocked_with_reasons,
    listed,
    outcome_rows,
    outcome_sentence,
    place,
    run_summary,
)
from contract_sync.resolve import RequestRefused, UnknownContract, resolve
from contract_sync.run import reimport
from contract_sync.settings import Settings, get_settings
from contract_sync.store.db import safe_url
from contract_sync.vocabulary import ConflictPolicy, Trigger, in_words
from contract_sync_flows.company_slot import NoCompanySlot, company_slot
from contract_sync_flows.deployments import Deployment
from contract_sync_flows.parameters import COMPANY, REQUEST_ID, BadParameter, checked, refused
from contract_sync_flows.prefect_run import (
    COMPANY_SYNC_DEPLOYMENT,
    ProgressArtifact,
    check_signed_here,
    origin,
    prefect_hooks,
)

# Parameters of the by-hand and the scheduled re-imports alike.
DRY_RUN = Field(False, description="Gate and compare, record would_reimport, write nothing.")
POLICY = Field(
    ConflictPolicy.erp_wins,
    description="A field changed both in the ERP and in the store: erp_wins writes the "
    "ERP's value (the store edit is recorded as overwritten); block leaves the contract.",
)
FULL_REFRESH = Field(
    False,
    description="Compare every contract, also those unchanged in the ERP since their last "
    "import (repairs discrepancies made in the store).",
)


@flow(name="reimport-main-contracts", log_prints=True, validate_parameters=False)
def reimport_main_contracts(
    company: int = COMPANY,
    contracts: list[str] = Field(  # a default, not a factory: the form then shows it optional
        [],
        description="ERP contract numbers to re-import, with or without the ERP's padding; "
        "empty: every contract of the company.",
    ),
    project: str = Field(
        "", description="Only the contracts of this store project (its number); empty: all."
    ),
    requested_by: str = Field(
        "",
        description="The store login the run acts as: its permissions are checked and it is "
        "the actor in the audit log; empty: the service user.",
    ),
    dry_run: bool = DRY_RUN,
    policy: ConflictPolicy = POLICY,
    full_refresh: bool = FULL_REFRESH,
    request_id: str = REQUEST_ID,
) -> pd.DataFrame | State:
    """Re-import ERP main contracts into the project store, gated and audited."""
    settings = get_settings()
    try:
        given = checked(reimport_main_contracts.fn, locals())
        request = resolve(
            settings,
            company=given["company"],
            actor=given["requested_by"],
            contracts=given["contracts"],
            project=given["project"],
            dry_run=given["dry_run"],
            policy=given["policy"],
            full_refresh=given["full_refresh"],
        )
        check_signed_here(settings, request, "reimport", given["request_id"])
        result = reimport_in_flow(settings, request)
    except (BadParameter, RequestRefused, UnknownContract, NoCompanySlot) as error:
        return refused(error)
    # The outcome also as the state's message: the run's page and its last log line say it.
    said = outcome_sentence(result.audit, result.run_id, request.dry_run)
    return Completed(message=said, data=result.audit.assign(run_id=result.run_id))


# Runs by hand: from the Prefect UI and from the web pages' Re-Import button.
BY_HAND = Deployment(reimport_main_contracts, "reimport-contracts")


@flow(name="reimport-main-contracts", log_prints=True, validate_parameters=False)
def company_sync(
    company: int = COMPANY,
    dry_run: bool = DRY_RUN,
    policy: ConflictPolicy = POLICY,
    full_refresh: bool = FULL_REFRESH,
) -> pd.DataFrame | State:
    """Re-import every contract of the company changed in the ERP, as the service user.

    The entry point of the scheduled sync's run per company (flows/sync_companies.py):
    Prefect builds a deployment's run form from its flow's signature, and such a run acts
    for no one and names no contracts."""
    try:
        given = checked(company_sync.fn, locals())
    except BadParameter as error:
        return refused(error)
    return reimport_main_contracts.fn(**given)


# One company's run of the scheduled sync (and by hand, with the same few options).
COMPANY_SYNC = Deployment(company_sync, COMPANY_SYNC_DEPLOYMENT)


def reimport_in_flow(settings: Settings, request: Request) -> RunResult:
    """A re-import run inside the current flow run, holding its company's slot: stages as
    tasks, progress, artifacts, and a warning in the run log per contract blocked for a
    reason."""
    progress = ProgressArtifact()
    with company_slot(settings, request.company):
        result = reimport(settings, request, origin=origin(), hooks=prefect_hooks(progress))
    progress.finish()
    _publish(result, settings, request.dry_run)
    return result


def _publish(result: RunResult, settings: Settings, dry_run: bool) -> None:
    """The run's artifacts, a warning per contract blocked for a reason, and last, the
    run's outcome in one sentence."""
    source = runtime.deployment.name or Trigger.cli
    found = result.scan
    shown = listed(result.audit)
    create_table_artifact(
        key=f"{source}-outcomes",
        table=outcome_rows(shown, found.contracts),
        description=f"Per-contract outcomes of run {result.run_id} "
        f"({len(result.audit) - len(shown):,} up to date: counted in the summary, not listed)",
    )
    docs = found.validation.docs_path
    create_markdown_artifact(
        key=f"{source}-summary",
        markdown=run_summary(
            result.audit,
            result.run_id,
            None if docs is None else place(settings.report_url(docs), docs),
            safe_url(settings.store_database_url),
            dry_run,
            checks(settings.expectations_dir),
        ),
        description=f"Summary of run {result.run_id}",
    )
    logger = get_run_logger()
    for row in blocked_with_reasons(result.audit).itertuples():
        logger.warning("contract %s blocked: %s", row.contract_no, in_words(row.reasons))
    logger.info(outcome_sentence(result.audit, result.run_id, dry_run))
