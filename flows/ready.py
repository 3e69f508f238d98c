"""The ready-list flow: the "ERP Main Contracts Ready to be Imported" list as an artifact."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import Field

from contract_sync.run import Request, company_ready_list
from contract_sync.settings import get_settings
from contract_sync.stages.ready import readable
from flows.prefect_run import prefect_hooks


@flow(name="ready-list", log_prints=True)
def ready_list_flow(
    company: Annotated[
        int | None, Field(description="ERP company number; the configured one when empty.")
    ] = None,
    requested_by: Annotated[
        str | None,
        Field(description="Whose view: re-import is available per this user's permissions."),
    ] = None,
    project: Annotated[str | None, Field(description="Only this project's contracts.")] = None,
) -> pd.DataFrame:
    settings = get_settings()
    company = company or settings.company
    actor = requested_by or settings.service_user
    request = Request(company=company, actor=actor, project=project)
    table = company_ready_list(settings, request, hooks=prefect_hooks())
    create_table_artifact(
        key=f"ready-list-company-{company}",
        table=readable(table).astype(object).to_dict("records"),
        description=f"ERP main contracts of company {company} ready to be imported, as {actor}",
    )
    return table
