"""The scheduled sync of every company: one deployment run per company (company-sync), so
that the work pool's workers, on any machines, share the companies; each run holds its
company's slot (flows/company_slot.py). This run starts them, waits for each to end, and
ends Completed only when every company's run did."""

from __future__ import annotations

import time
from uuid import UUID

import pandas as pd
from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Completed, Failed, State
from pydantic import Field

from contract_sync.errors import UserError
from contract_sync.reports.company_runs import (
    all_completed,
    companies_sentence,
    company_run_rows,
)
from contract_sync.resolve import resolve_companies
from contract_sync.settings import get_settings
from contract_sync.vocabulary import ConflictPolicy, Trigger
from contract_sync_flows.company_slot import ensure_company_limits
from contract_sync_flows.deployments import Deployment
from contract_sync_flows.parameters import checked, refused
from contract_sync_flows.prefect_run import SCHEDULED_TAG, trigger
from contract_sync_flows.reimport import COMPANY_SYNC, DRY_RUN, FULL_REFRESH, POLICY

POLL_SECONDS = 5


@flow(name="sync-companies", log_prints=True, validate_parameters=False)
def sync_companies(
    companies: list[int] = Field(  # a default, not a factory: the form then shows it optional
        [],
        description="ERP company numbers to sync; empty: every company of the store's "
        "directory. Each is one run of company-sync, on whichever worker takes it.",
    ),
    dry_run: bool = DRY_RUN,
    policy: ConflictPolicy = POLICY,
    full_refresh: bool = FULL_REFRESH,
) -> pd.DataFrame | State:
    """Re-import every changed contract of each company, one company per deployment run."""
    try:
        given = checked(sync_companies.fn, locals())
        chosen = resolve_companies(get_settings(), given.pop("companies"))
    except UserError as error:
        return refused(error)
    logger = get_run_logger()
    for line in ensure_company_limits(chosen):
        logger.warning(line)
    started = {
        company: _start(company, given, trigger() == Trigger.scheduled) for company in chosen
    }
    ended = _wait_for(started, logger)
    runs = pd.DataFrame(
        {
            "company": list(chosen),
            "name": list(chosen.values()),
            "flow_run_name": [ended[started[c].id].name for c in chosen],
            "state_name": [ended[started[c].id].state.name for c in chosen],
            "message": [ended[started[c].id].state.message or "" for c in chosen],
        }
    )
    create_table_artifact(
        key="scheduled-sync-companies",
        table=company_run_rows(runs),
        description=f"The runs of sync {runtime.flow_run.id}, one per company",
    )
    said = companies_sentence(runs)
    logger.info(said)
    return Completed(message=said, data=runs) if all_completed(runs) else Failed(message=said)


# Runs on its schedule (and by hand, with the same few options).
SCHEDULED = Deployment(sync_companies, "scheduled-sync")


def _start(company: int, given: dict, scheduled: bool) -> FlowRun:
    """The company's run of company-sync, created on the server (not waited for); once per
    company of this run, however often this step is retried."""
    return run_deployment(
        COMPANY_SYNC.name,
        parameters=COMPANY_SYNC.parameters(company=company, **given),
        timeout=0,
        as_subflow=True,
        tags=[SCHEDULED_TAG] if scheduled else None,
        idempotency_key=f"{runtime.flow_run.id}:company-{company}",
    )


def _wait_for(started: dict[int, FlowRun], logger) -> dict[UUID, FlowRun]:  # noqa: ANN001
    """The company runs once each has ended (a run whose worker died ends Crashed when its
    heartbeats stop: the automation of contract_sync_flows.server_setup), each end logged."""
    waiting = {run.id: company for company, run in started.items()}
    ended: dict[UUID, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while waiting:
            time.sleep(POLL_SECONDS)
            found = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(waiting)))
            )
            for run in found:
                if run.state is not None and run.state.is_final():
                    company = waiting.pop(run.id)
                    ended[run.id] = run
                    logger.info(
                        "company %s (run %s): %s. %s",
                        company,
                        run.name,
                        run.state.name,
                        run.state.message or "",
                    )
    return ended
