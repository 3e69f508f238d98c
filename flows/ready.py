"""The ready-list flow: the "ERP Main Contracts Ready to be Imported" list as an artifact."""

from __future__ import annotations

import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.states import State
from pydantic import Field

from contract_sync.reports.run_summary import ready_rows
from contract_sync.resolve import resolve
from contract_sync.run import company_ready_list
from contract_sync.settings import get_settings
from contract_sync_flows.parameters import COMPANY, BadParameter, checked, refused
from contract_sync_flows.prefect_run import prefect_hooks


@flow(name="ready-list", log_prints=True, validate_parameters=False)
def ready_list_flow(
    company: int = COMPANY,
    requested_by: str = Field(
        "",
        description="Whose view: Import and Re-Import are available per this store login's "
        "permissions; empty: the service user.",
    ),
    project: str = Field(
        "", description="Only this store project's contracts (its number); empty: all."
    ),
) -> pd.DataFrame | State:
    """The ERP main contracts ready to be imported, and what stops the others."""
    try:
        given = checked(ready_list_flow.fn, locals())
    except BadParameter as error:
        return refused(error)
    settings = get_settings()
    request = resolve(
        settings, company=given["company"], actor=given["requested_by"], project=given["project"]
    )
    company, actor = request.company, request.actor
    table = company_ready_list(settings, request, hooks=prefect_hooks())
    create_table_artifact(
        key=f"ready-list-company-{company}",
        table=ready_rows(table),
        description=f"ERP main contracts of company {company} ready to be imported, as {actor}",
    )
    return table
