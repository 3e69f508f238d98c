"""Runs of the deployments, started and followed with Prefect's own client.

Prefect is imported at the first call, not with the pages: it costs the page server seconds
at start. A busy server (429, 502, 503) is asked again by Prefect's client, as its settings
say (PREFECT_CLIENT_MAX_RETRIES); a server that is not set, does not answer, or refuses the
call is said in one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from contract_sync.errors import UserError

if TYPE_CHECKING:
    import httpx
    from prefect.client.orchestration import SyncPrefectClient

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
TAGS = ["contract-sync-web"]


class PrefectUnavailable(UserError, ConnectionError):
    """The Prefect server is not set, does not answer, or refuses the call."""


@dataclass(frozen=True)
class FlowRunState:
    type: str  # SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, ...
    name: str
    message: str | None
    progress: float | None  # percent of contracts written, from the run's progress artifact

    @property
    def final(self) -> bool:
        return self.type in FINAL


class PrefectRuns:
    """Starts deployment runs and reads their state; `api_url` is PREFECT_API_URL."""

    def __init__(self, api_url: str | None, ui_url: str | None = None) -> None:
        self.api_url = (api_url or "").rstrip("/")
        self.ui_url = (ui_url or self.api_url.removesuffix("/api")).rstrip("/")

    @classmethod
    def from_environment(cls) -> PrefectRuns:
        return cls(os.environ.get("PREFECT_API_URL"), os.environ.get("PREFECT_UI_URL"))

    def start(self, deployment: str, parameters: dict, idempotency_key: str | None = None) -> str:
        """A run of `deployment` ("flow/deployment") with these parameters; its id. A second
        start with the same `idempotency_key` is the same run."""
        with self._client() as client:
            found = client.read_deployment_by_name(deployment)
            run = client.create_flow_run_from_deployment(
                found.id, parameters=parameters, tags=TAGS, idempotency_key=idempotency_key
            )
        return str(run.id)

    def state(self, flow_run_id: str) -> FlowRunState:
        with self._client() as client:
            run = client.read_flow_run(UUID(flow_run_id))
            progress = _progress(client, run.id)
        return FlowRunState(
            type=run.state.type.value if run.state else "SCHEDULED",
            name=run.state.name if run.state else "Scheduled",
            message=run.state.message if run.state else None,
            progress=progress,
        )

    def link(self, flow_run_id: str) -> str:
        """The flow run in the Prefect UI."""
        return f"{self.ui_url}/runs/flow-run/{flow_run_id}"

    @contextmanager
    def _client(self) -> Iterator[SyncPrefectClient]:
        """Prefect's client of this server (built as get_client builds it, with the auth
        string or API key of Prefect's settings) for one page's calls; what goes wrong in
        them, as PrefectUnavailable. A client per page: a server that went away is said at
        once, not after the retries Prefect's client gives a server it has reached."""
        if not self.api_url:
            raise PrefectUnavailable("no Prefect server is set (PREFECT_API_URL): make serve")
        import httpx
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.exceptions import ObjectNotFound
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

        client = SyncPrefectClient(
            self.api_url,
            auth_string=PREFECT_API_AUTH_STRING.value(),
            api_key=PREFECT_API_KEY.value(),
        )
        try:
            with client:
                yield client
        except ObjectNotFound as error:
            raise _refused(error.http_exc) from None
        except httpx.HTTPStatusError as error:
            raise _refused(error) from None
        except httpx.TransportError as error:
            raise PrefectUnavailable(
                f"the Prefect server at {self.api_url} does not answer ({_one_line(error)})"
            ) from None


def _progress(client: SyncPrefectClient, flow_run_id: UUID) -> float | None:
    """Percent of contracts written, from the run's progress artifact; None before it."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    found = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            type=ArtifactFilterType(any_=["progress"]),
        ),
        limit=1,
    )
    data = found[0].data if found else None
    return float(data) if isinstance(data, int | float) else None


def _refused(error: httpx.HTTPStatusError) -> PrefectUnavailable:
    request, response = error.request, error.response
    return PrefectUnavailable(
        f"the Prefect server refused {request.method} {request.url.path}: "
        f"{response.status_code} {_one_line(response.text)[:300]}"
    )


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
