"""The run API's hooks inside a Prefect flow: stages as tasks, progress as an artifact,
and the run's origin (flow-run id, deployment, scheduled or manual) from Prefect's runtime."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import get_run_logger, runtime
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext

from contract_sync.hooks import Hooks
from contract_sync.model import Origin, Request
from contract_sync.resolve import check_signed
from contract_sync.settings import Settings
from contract_sync.vocabulary import Trigger
from contract_sync_tasks.stages import TASKS


def as_task(_name: str, function: Any, /, **arguments: Any) -> Any:
    """A stage as its Prefect task run."""
    return TASKS[function](**arguments)


class ProgressArtifact:
    """A progress artifact that moves, with a log line, as contracts are written."""

    def __init__(self) -> None:
        self.artifact = create_progress_artifact(0.0, description="Contracts written")

    def __call__(self, done: int, total: int) -> None:
        if done == total or done % max(1, total // 20) == 0:
            update_progress_artifact(self.artifact, 100.0 * done / total)
            get_run_logger().info("written %d of %d contracts", done, total)

    def finish(self) -> None:
        update_progress_artifact(self.artifact, 100.0)


def prefect_hooks(progress: ProgressArtifact | None = None) -> Hooks:
    return Hooks(run_stage=as_task, progress=progress)


# The deployment of one company's share of the scheduled sync (flows/sync_companies.py).
COMPANY_SYNC_DEPLOYMENT = "company-sync"


def trigger() -> Trigger:
    """How this flow run was started: from the CLI, by hand (UI or API), or by its schedule
    (itself, or the scheduled sync of the companies that started it)."""
    if runtime.deployment.id is None:
        return Trigger.cli
    flow_run = FlowRunContext.get().flow_run  # the run's own record: no round trip
    if flow_run.auto_scheduled or _started_by_a_schedule(flow_run):
        return Trigger.scheduled
    return Trigger.manual


def _started_by_a_schedule(flow_run: FlowRun) -> bool:
    """A company-sync run whose parent, on the server, is a run its schedule started (the
    server sets auto_scheduled; no one starting a run by hand can)."""
    if runtime.deployment.name != COMPANY_SYNC_DEPLOYMENT or not flow_run.parent_task_run_id:
        return False
    with get_client(sync_client=True) as client:
        started_in = client.read_task_run(flow_run.parent_task_run_id).flow_run_id
        return started_in is not None and client.read_flow_run(started_in).auto_scheduled


def origin() -> Origin:
    """This flow run as the origin of a run record: its id is the run id."""
    return Origin(
        trigger=trigger(),
        deployment=runtime.deployment.name,
        run_id=str(runtime.flow_run.id or uuid.uuid4()),
    )


def check_signed_here(settings: Settings, request: Request, kind: str, request_id: str) -> None:
    """Whether this deployment run may act as its request's actor (resolve.check_signed),
    with the run's id and trigger from Prefect's runtime."""
    run_id = str(runtime.flow_run.id)
    check_signed(settings, request, kind, request_id, run_id=run_id, trigger=trigger())
