"""The sync of several companies (flows/sync_companies.py) on a real Prefect server with a
company-sync deployment that no worker serves: it cannot wait forever, so each company's
run left unstarted is cancelled after CONTRACT_SYNC_COMPANY_WAIT_SECONDS, with the reason,
and the sync ends Failed naming those companies. (A sync whose runs a worker takes is the
served test's, tests/test_many_workers.py.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

import contract_sync_flows.sync_companies as sync_module
from contract_sync.store import schema as s
from contract_sync_flows.prefect_run import COMPANY_SYNC_DEPLOYMENT
from contract_sync_flows.reimport import company_sync

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_company_runs_no_worker_starts_are_cancelled_and_the_sync_names_them(
    configured, monkeypatch
):
    monkeypatch.setenv("CONTRACT_SYNC_COMPANY_WAIT_SECONDS", "2")
    monkeypatch.setattr(sync_module, "POLL_SECONDS", 1)
    company_sync.to_deployment(name=COMPANY_SYNC_DEPLOYMENT).apply()  # no pool, no worker

    state = sync_module.sync_companies(companies=[1, 2], return_state=True)

    assert state.is_failed()
    assert state.message == "Sync of 2 companies: 2 cancelled (companies 1, 2)"
    with get_client(sync_client=True) as client:
        parent = client.read_flow_run(state.state_details.flow_run_id)
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
    company_runs = [run for run in children if run.deployment_id is not None]
    assert sorted(run.parameters["company"] for run in company_runs) == [1, 2]
    for run in company_runs:
        assert run.state.is_cancelled()
        assert run.state.message == (
            "no worker started it within 2 s: start workers of the pool contract-sync "
            "(scripts/worker.sh), or give them room for more runs at once"
        )
    with configured.store.connect() as connection:  # nothing ran, nothing recorded
        assert connection.execute(sa.select(sa.func.count()).select_from(s.sync_runs)).scalar() == 0
