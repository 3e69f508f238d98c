"""End to end on a real Prefect server: deploy prefect.yaml into a process work pool, start
a worker, trigger a manual re-import through the API, read back the store and artifacts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import LogSort
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL

from contract_sync.demo.edit import edit_erp
from contract_sync.reports.run_summary import outcome_rows, ready_rows
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync.vocabulary import REASON_LABELS
from tests.served import served_fixture, table_fits, wait_for_run  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent


def _post(path: str, body: dict) -> dict:
    """A call to the Prefect API as the UI makes it (the client has no such option)."""
    request = urllib.request.Request(
        PREFECT_API_URL.value() + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    for attempt in range(3):  # a busy server answers 503; Prefect's own client retries too
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code != 503 or attempt == 2:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def _run_form_explains_itself(browser, deployment) -> None:
    """The run form in a real browser: every parameter with its description, no "None"."""
    ui = PREFECT_API_URL.value().removesuffix("/api")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{ui}/deployments/deployment/{deployment.id}/run")
    page.get_by_text("Validate parameters").wait_for(timeout=30_000)
    for schema in deployment.parameter_openapi_schema["properties"].values():
        # The form renders its fields as their schemas arrive: wait for each one.
        page.get_by_text(schema["description"], exact=False).first.wait_for(timeout=30_000)
    shown = page.inner_text("body")
    for name, schema in deployment.parameter_openapi_schema["properties"].items():
        assert name in shown and schema["description"] in shown, name
    assert "type None" not in shown
    page.close()


def _flow_log(client, flow_run_id) -> list[str]:
    """The flow run's own log lines (its tasks' and its worker's aside), oldest first, up
    to Prefect's "Finished in state", once it has arrived (the run's process sends its
    lines after its final state; a failed run's process logs the failure again after it)."""
    deadline = time.monotonic() + 60
    while True:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
        lines = [log.message for log in logs if log.name == "prefect.flow_runs"]
        ends = [i for i, line in enumerate(lines) if line.startswith("Finished in state")]
        if ends:
            return lines[: ends[-1] + 1]
        assert time.monotonic() < deadline, lines[-3:]
        time.sleep(1)


def _an_unknown_contract_is_refused_by_name(served, client, deployment) -> None:
    """A contract number typed in the run form that the ERP lacks (24008 for 24008-): the
    flow run ends saying it and the nearest numbers, no run of the store starts, and the
    refusal is recorded with the run it came from."""
    flow_run = client.create_flow_run_from_deployment(
        deployment.id, parameters={"contracts": ["24008"], "requested_by": "admin"}
    )
    refused = wait_for_run(client, flow_run.id)
    said = "not in the ERP for company 1: '24008' (nearest: 24008-"
    assert refused.state.is_failed() and refused.state.message.startswith(said)
    assert said in _flow_log(client, flow_run.id)[-2]
    e = s.web_events.c
    with served.store.connect() as connection:
        recorded = connection.execute(
            sa.select(sa.func.count())
            .select_from(s.sync_runs)
            .where(s.sync_runs.c.id == str(flow_run.id))
        ).scalar()
        events = connection.execute(
            sa.select(e.event, e.login, e.client, e.detail).where(
                e.detail.contains(str(flow_run.id))
            )
        ).all()
    assert recorded == 0
    [(event, login, client_name, detail)] = events
    assert (event, login, client_name) == ("refused", "admin", "manual")
    assert said in detail


def _the_scheduled_forms_ask_only_what_a_schedule_needs(browser, client) -> None:
    scheduled = client.read_deployment_by_name("sync-companies/scheduled-sync")
    assert list(scheduled.parameter_openapi_schema["properties"]) == [
        "companies",
        "dry_run",
        "policy",
        "full_refresh",
    ]
    _run_form_explains_itself(browser, scheduled)
    one = client.read_deployment_by_name("reimport-main-contracts/company-sync")
    assert list(one.parameter_openapi_schema["properties"]) == [
        "company",
        "dry_run",
        "policy",
        "full_refresh",
    ]
    _run_form_explains_itself(browser, one)


def _tables_fit_the_ui(client, browser, outcomes_id) -> None:
    """The run's outcome table, and the widest tables its cells can make: a title of 30
    capitals (the longest a title may be), the longest reason and more, the largest change
    of an amount the store holds."""
    table_fits(browser, outcomes_id)
    longest = max(REASON_LABELS, key=lambda reason: len(REASON_LABELS[reason]))
    wide = pd.DataFrame(
        {
            "contract_no": ["24001-"] * 2,
            "outcome": ["would_reimport", "blocked"],
            "reasons": ["", f"{longest} stale conflict"],
            "amount_before": pd.array([999_999_999_999_999, 0], dtype="Int64"),
            "amount_after": pd.array([-999_999_999_999_999, 0], dtype="Int64"),
        }
    )
    title = "NORTHWESTERN REGIONAL HOSPITAL"
    outcomes = outcome_rows(wide, pd.DataFrame({"contract_no": ["24001-"], "title": [title]}))
    ready = ready_rows(
        wide.assign(
            title=title,
            project="24001-001",
            imported=True,
            import_available=False,
            reimport_available=[True, False],
            amount_delta=wide["amount_after"] - wide["amount_before"],
        )
    )
    assert outcomes[1]["outcome"] == f"blocked: {REASON_LABELS[longest]}, +2 more"
    for table in (outcomes, ready):
        made = ArtifactCreate(type="table", data=json.dumps(table), description="widest cells")
        table_fits(browser, client.create_artifact(made).id)


def test_manual_run_through_a_deployment(served, browser):
    edited = sorted(edit_erp(served.erp, 1, 0.5, seed=21).contracts)
    with get_client(sync_client=True) as client:
        deployments = {d.name for d in client.read_deployments()}
        assert deployments == {
            "scheduled-sync",
            "company-sync",
            "reimport-contracts",
            "import-contract",
            "ready-list",
            "audit-report",
            "daily-digest",
        }
        deployment = client.read_deployment_by_name("reimport-main-contracts/reimport-contracts")
        assert set(deployment.parameter_openapi_schema["properties"]) >= {
            "contracts",
            "project",
            "requested_by",
            "dry_run",
            "policy",
        }
        # The server checks the parameters against the deployment's schema: 409, no run.
        with pytest.raises(PrefectHTTPStatusError, match="policy") as refused:
            client.create_flow_run_from_deployment(deployment.id, parameters={"policy": "xyz"})
        assert refused.value.response.status_code == 409
        assert "'xyz' is not one of" in refused.value.response.json()["detail"]
        of_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        assert client.read_flow_runs(deployment_filter=of_deployment) == []
        _run_form_explains_itself(browser, deployment)
        # With the form's validation off, the flow itself refuses the value, in one line.
        unchecked = _post(
            f"/deployments/{deployment.id}/create_flow_run",
            {"parameters": {"policy": "always_erp"}, "enforce_parameter_schema": False},
        )
        refused = wait_for_run(client, unchecked["id"])
        assert refused.state.is_failed()
        assert refused.state.message.startswith("parameter policy: Input should be 'erp_wins'")

        _an_unknown_contract_is_refused_by_name(served, client, deployment)
        _the_scheduled_forms_ask_only_what_a_schedule_needs(browser, client)

        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"contracts": edited, "requested_by": "admin"}
        )
        finished = wait_for_run(client, flow_run.id)
        assert finished.state.is_completed(), finished.state
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
        # The run's last log line and its state's message state its outcome.
        said = f"Re-import run {flow_run.id} completed: {len(edited)} re-imported; "
        assert finished.state.message.startswith(said), finished.state.message
        assert _flow_log(client, flow_run.id)[-2] == finished.state.message
        [table] = [a for a in artifacts if a.type == "table"]
        _tables_fit_the_ui(client, browser, table.id)
    by_type = {a.type: a for a in artifacts}
    assert {a.key for a in artifacts if a.key} == {
        "reimport-contracts-outcomes",
        "reimport-contracts-summary",
    }
    assert by_type["progress"].data == 100.0
    summary = by_type["markdown"].data
    assert f"| re-imported | {len(edited)} |" in summary
    [link] = re.findall(r"\]\((http://127\.0\.0\.1:\d+/[^)]+/index\.html)\)", summary)
    with urllib.request.urlopen(link, timeout=10) as served_page:  # opens over http
        assert f"Validation of run {flow_run.id}" in served_page.read().decode()
    run_id = str(flow_run.id)
    with served.store.connect() as connection:
        run = connection.execute(runs().where(s.sync_runs.c.id == run_id)).one()
        outcomes = dict(
            connection.execute(
                sa.select(s.audit_contracts.c.contract_no, s.audit_contracts.c.outcome).where(
                    s.audit_contracts.c.run_id == run_id
                )
            ).all()
        )
        versions = (
            connection.execute(
                sa.select(s.main_contracts.c.version).where(
                    s.main_contracts.c.company_id == 1, s.main_contracts.c.origin_id.in_(edited)
                )
            )
            .scalars()
            .all()
        )
    assert (run.trigger, run.deployment, run.actor, run.status) == (
        "manual",
        "reimport-contracts",
        "admin",
        "completed",
    )
    assert outcomes == dict.fromkeys(edited, "reimported")
    assert set(versions) == {2}
    _a_command_line_run_is_recorded(served, edited[0])


def _a_command_line_run_is_recorded(served, contract: str) -> None:
    """With PREFECT_API_URL set, `contract-sync reimport` is a flow run of the same flow."""
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "contract_sync_faces.cli", "reimport", contract, "--as", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 up to date" in done.stdout
    run_id = re.search(r"run ([0-9a-f-]{36}):", done.stdout).group(1)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        flow = client.read_flow(flow_run.flow_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    assert flow.name == "reimport-main-contracts"
    assert flow_run.state.is_completed() and flow_run.deployment_id is None
    assert {"extract", "validate", "compare", "gate", "apply"} <= {
        t.name.rsplit("-", 1)[0] for t in task_runs
    }
    with served.store.connect() as connection:
        run = connection.execute(sa.select(s.sync_runs).where(s.sync_runs.c.id == run_id)).one()
    assert (run.trigger, run.deployment, run.actor) == ("cli", None, "admin")
