"""The ready-list flow: the "ERP Main Contracts Ready to be Imported" list as an artifact."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import Field

from contract_sync.settings import get_settings
from flows.pipeline import load_and_evaluate
from tasks.ready import readable, ready_list


def company_ready_list(company: int, actor: str, project: str | None) -> pd.DataFrame:
    found = load_and_evaluate(get_settings(), company, actor)
    table = ready_list(found.erp.contracts, found.state, found.decisions, found.comparison)
    if project is not None:
        table = table[table["project"] == project].reset_index(drop=True)
    return table


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
    table = company_ready_list(company, actor, project)
    create_table_artifact(
        key=f"ready-list-company-{company}",
        table=readable(table).astype(object).to_dict("records"),
        description=f"ERP main contracts of company {company} ready to be imported, as {actor}",
    )
    return table
