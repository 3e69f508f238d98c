"""The command line's runs recorded on a Prefect server: when PREFECT_API_URL names one,
`contract-sync sync`, `reimport` and `import` run through these flows, in the command's own
process, under the deployments' flow names. The server then shows them beside the
deployment runs (trigger `cli`), with their stages as task runs and their artifacts."""

from __future__ import annotations

from prefect import flow

from contract_sync.model import Request, RunResult
from contract_sync.settings import get_settings
from contract_sync_flows.first_import import first_import_in_flow
from contract_sync_flows.reimport import reimport_in_flow


@flow(name="reimport-main-contracts", log_prints=True)
def reimport_recorded(request: Request) -> RunResult:
    return reimport_in_flow(get_settings(), request)


@flow(name="import-main-contract", log_prints=True)
def first_import_recorded(request: Request) -> RunResult:
    return first_import_in_flow(get_settings(), request)
