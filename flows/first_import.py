"""The first-import flow ("Add to Procore"): an ERP contract not yet in the store is created
in the project of its synced job, with its items, baseline and audit row."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from prefect import flow
from pydantic import Field

from contract_sync.run import Request, first_import
from contract_sync.settings import get_settings
from flows.prefect_run import origin, prefect_hooks


@flow(name="import-main-contract", log_prints=True)
def import_main_contract(
    contract: Annotated[str, Field(description="ERP contract number to import.")],
    requested_by: Annotated[
        str, Field(description="Store user; needs Standard or Admin on ERP Integrations.")
    ],
    company: Annotated[
        int | None, Field(description="ERP company number; the configured one when empty.")
    ] = None,
) -> pd.DataFrame:
    settings = get_settings()
    request = Request(company=company or settings.company, actor=requested_by, contracts=[contract])
    result = first_import(settings, request, origin=origin(), hooks=prefect_hooks())
    for row in result.audit.itertuples():
        print(f"{row.contract_no}: {row.outcome} {row.reasons}".strip())
    return result.audit.assign(run_id=result.run_id)
