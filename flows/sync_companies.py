"""The scheduled sync of every company: one deployment run per company (company-sync), so
that the work pool's workers, on any machines, share the companies; each run holds its
company's slot (flows/company_slot.py). This run starts them, waits for each to end, and
ends Completed only when every company's run did."""

from __future__ import annotations

import time

import pandas as pd
from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.states import Cancelled, Completed, Failed, State
from pydantic import Field

from contract_sync.errors import UserError
from contract_sync.reports.company_runs import (
    all_completed,
    companies_sentence,
    company_run_rows,
    company_runs_markdown,
)
from contract_sync.resolve import resolve_companies
from contract_sync.settings import get_settings
from contract_sync.vocabulary import ConflictPolicy
from contract_sync_flows.deployments import Deployment
from contract_sync_flows.parameters import checked, refused
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
    settings = get_settings()
    try:
        given = checked(sync_companies.fn, locals())
        chosen = resolve_companies(settings, given.pop("companies"))
    except UserError as error:
        return refused(error)
    logger = get_run_logger()
    started = {company: _start(company, given) for company in chosen}
    ended = _wait_for(started, settings.company_wait_seconds, logger)
    runs = pd.DataFrame(
        [
            (
                company,
                name,
                ended[company].name,
                ended[company].state.name,
                ended[company].state.message or "",
            )
            for company, name in chosen.items()
        ],
        columns=["company", "name", "flow_run_name", "state_name", "message"],
    )
    create_table_artifact(
        key="scheduled-sync-companies",
        table=company_run_rows(runs),
        description=f"The runs of sync {runtime.flow_run.id}, one per company",
    )
    create_markdown_artifact(
        key="scheduled-sync-said",
        markdown=company_runs_markdown(runs),
        description=f"What each company's run of sync {runtime.flow_run.id} said",
    )
    said = companies_sentence(runs)
    logger.info(said)
    return Completed(message=said, data=runs) if all_completed(runs) else Failed(message=said)


# Runs on its schedule (and by hand, with the same few options).
SCHEDULED = Deployment(sync_companies, "scheduled-sync")


def _start(company: int, given: dict) -> FlowRun:
    """The company's run of company-sync, made on the server, not waited for: once per
    company and attempt of this run (a retry of this run from the UI starts new ones)."""
    return run_deployment(
        COMPANY_SYNC.name,
        parameters=COMPANY_SYNC.parameters(company=company, **given),
        timeout=0,
        as_subflow=True,
        idempotency_key=f"{runtime.flow_run.id}:{runtime.flow_run.run_count}:{company}",
    )


def _wait_for(started: dict[int, FlowRun], start_within: float, logger) -> dict[int, FlowRun]:  # noqa: ANN001
    """Each company's run once it has ended, each end logged. A run whose worker died ends
    Crashed when its heartbeats stop (the automation of contract_sync_flows.server_setup);
    one that no worker has started within `start_within` seconds is cancelled."""
    waiting = {run.id: company for company, run in started.items()}
    ended: dict[int, FlowRun] = {}
    deadline = time.monotonic() + start_within
    with get_client(sync_client=True) as client:
        while waiting:
            time.sleep(POLL_SECONDS)
            found = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(waiting))),
                limit=len(waiting),
            )
            for run in found:
                if run.state is None:
                    continue
                if not run.state.is_final() and _unstarted(run) and time.monotonic() > deadline:
                    client.set_flow_run_state(
                        run.id,
                        Cancelled(
                            message=f"no worker started it within {start_within:.0f} s: "
                            "start workers of the pool contract-sync (scripts/worker.sh), or "
                            "give them room for more runs at once"
                        ),
                        force=True,
                    )
                    run = client.read_flow_run(run.id)
                if run.state.is_final():
                    company = waiting.pop(run.id)
                    ended[company] = run
                    logger.info(
                        "company %s (run %s): %s. %s",
                        company,
                        run.name,
                        run.state.name,
                        run.state.message or "",
                    )
    return ended


def _unstarted(run: FlowRun) -> bool:
    return run.state.type in (StateType.SCHEDULED, StateType.PENDING)
