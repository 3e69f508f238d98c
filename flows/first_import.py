"""The first-import flow ("Add to Procore"): an ERP contract not yet in the store is created
in the project of its synced job, with its items, baseline and audit row."""

from __future__ import annotations

import uuid
from typing import Annotated

import pandas as pd
from prefect import flow, runtime
from pydantic import Field

from contract_sync.hashing import contract_hashes
from contract_sync.settings import get_settings
from contract_sync.store.writes import (
    finish_run,
    import_contract,
    insert_audit,
    start_run,
)
from flows.pipeline import open_store, run, run_record
from tasks.extract import extract_task
from tasks.gate import evaluate_import_gates
from tasks.state import load_state_task
from tasks.validate import validate_task


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
    company = company or settings.company
    store = open_store(settings)
    state = load_state_task(store, company, requested_by, [contract])
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    parameters = {"company": company, "import": contract}
    start_run(store, run_record(run_id, state.company_id, requested_by, parameters, False))
    try:
        erp = run(extract_task, settings, company, [contract])
        if erp.contracts.empty:
            raise ValueError(f"contract {contract} is not in the ERP for company {company}")
        validation = run(
            validate_task, erp, settings.expectations_dir, settings.reports_path / run_id
        )
        decision = evaluate_import_gates(state, erp.contracts, validation.invalid_contracts).iloc[0]
        header = erp.contracts.iloc[0]
        project_id = state.synced_jobs.set_index("job_no")["project_id"].get(header["job_no"])
        audit = pd.DataFrame(
            [
                {
                    "erp_company": company,
                    "contract_no": contract,
                    "project_id": project_id,
                    "contract_id": None,
                    "outcome": "imported" if decision["eligible"] else "blocked",
                    "reasons": decision["reasons"],
                    "failed_expectations": (
                        validation.failures["failed_expectations"].iloc[0]
                        if len(validation.failures)
                        else None
                    ),
                    "error": None,
                    "items_added": len(erp.items) if decision["eligible"] else 0,
                    "items_changed": 0,
                    "items_removed": 0,
                    "items_unchanged": 0,
                    "header_changes": 0,
                    "amount_before": None,
                    "amount_after": header["original_amount"],
                    "erp_hash": contract_hashes(erp.contracts, erp.items).iloc[0],
                    "version_before": None,
                    "version_after": 1 if decision["eligible"] else None,
                }
            ]
        )
        with store.begin() as connection:
            if decision["eligible"]:
                audit.loc[0, "contract_id"] = import_contract(
                    connection,
                    state.company_id,
                    int(project_id),
                    header,
                    erp.items,
                    audit.loc[0, "erp_hash"],
                )
            insert_audit(connection, run_id, audit)
    except BaseException:
        finish_run(store, run_id, "failed")
        raise
    finish_run(store, run_id, "completed")
    print(f"{contract}: {audit.loc[0, 'outcome']} {audit.loc[0, 'reasons']}".strip())
    return audit.assign(run_id=run_id)
