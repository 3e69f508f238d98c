"""The first-import flow ("Add to Procore"): an ERP contract not yet in the store is created
in the project of its synced job, with its items, baseline and audit row."""

from __future__ import annotations

import pandas as pd
from prefect import flow
from prefect.states import State
from pydantic import Field

from contract_sync.model import Request, RunResult
from contract_sync.reports.run_summary import outcome_sentence
from contract_sync.resolve import RequestRefused, UnknownContract, resolve
from contract_sync.run import first_import
from contract_sync.settings import Settings, get_settings
from contract_sync_flows.company_slot import NoCompanySlot, company_slot
from contract_sync_flows.deployments import Deployment
from contract_sync_flows.parameters import COMPANY, REQUEST_ID, BadParameter, checked, refused
from contract_sync_flows.prefect_run import check_signed_here, origin, prefect_hooks


@flow(name="import-main-contract", log_prints=True, validate_parameters=False)
def import_main_contract(
    contract: str = Field(
        "", min_length=1, description="ERP contract number to import, in any padding."
    ),
    requested_by: str = Field(
        "",
        min_length=1,
        description="The store login: needs Standard or Admin on ERP Integrations and Admin "
        "on the project's Main Contracts.",
    ),
    company: int = COMPANY,
    request_id: str = REQUEST_ID,
) -> pd.DataFrame | State:
    """Import an ERP contract into the project of its synced job."""
    settings = get_settings()
    try:
        given = checked(import_main_contract.fn, locals())
        request = resolve(
            settings,
            company=given["company"],
            actor=given["requested_by"],
            contracts=[given["contract"]],
        )
        check_signed_here(settings, request, "import", given["request_id"])
        result = first_import_in_flow(settings, request)
    except (BadParameter, RequestRefused, UnknownContract, NoCompanySlot) as error:
        return refused(error)
    for row in result.audit.itertuples():
        print(f"{row.contract_no}: {row.outcome} {row.reasons}".strip())
    print(outcome_sentence(result.audit, result.run_id, first_import=True))
    return result.audit.assign(run_id=result.run_id)


def first_import_in_flow(settings: Settings, request: Request) -> RunResult:
    """A first import inside the current flow run, holding its company's slot."""
    with company_slot(settings, request.company):
        return first_import(settings, request, origin=origin(), hooks=prefect_hooks())


# Runs by hand: from the Prefect UI and from the web pages' Import button.
BY_HAND = Deployment(import_main_contract, "import-contract")
