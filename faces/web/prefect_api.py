"""Runs of the deployments, started and followed through Prefect's REST API.

The web pages speak to the Prefect server over http, as its UI does: importing Prefect's
client would cost the page server seconds at start and tie it to the flows' process.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

import httpx

from contract_sync.errors import UserError

REIMPORT = "reimport-main-contracts/reimport-contracts"
IMPORT = "import-main-contract/import-contract"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Answers of a busy server (its database locked, say), asked again as Prefect's own client
# does; nothing was done for them.
BUSY = {429, 502, 503}
BUSY_DELAYS = (0.5, 1.0, 2.0)


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
        headers = {}
        if auth := os.environ.get("PREFECT_API_AUTH_STRING"):  # the server's basic auth
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        self.client = httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    @classmethod
    def from_environment(cls) -> PrefectRuns:
        return cls(os.environ.get("PREFECT_API_URL"), os.environ.get("PREFECT_UI_URL"))

    def _call(self, method: str, path: str, **arguments: object) -> dict | list:
        if not self.api_url:
            raise PrefectUnavailable("no Prefect server is set (PREFECT_API_URL): make serve")
        for delay in (*BUSY_DELAYS, None):
            try:
                response = self.client.request(method, path, **arguments)
            except httpx.HTTPError as error:
                raise PrefectUnavailable(
                    f"the Prefect server at {self.api_url} does not answer ({error})"
                ) from None
            if response.status_code not in BUSY or delay is None:
                break
            time.sleep(delay)
        if response.is_error:
            raise PrefectUnavailable(
                f"the Prefect server refused {method} {path}: {response.status_code} "
                f"{response.text[:300]}"
            )
        return response.json()

    def start(self, deployment: str, parameters: dict) -> str:
        """A run of `deployment` ("flow/deployment") with these parameters; its id."""
        found = self._call("GET", f"/deployments/name/{deployment}")
        created = self._call(
            "POST",
            f"/deployments/{found['id']}/create_flow_run",
            json={
                "parameters": parameters,
                "state": {"type": "SCHEDULED", "name": "Scheduled"},
                "tags": ["contract-sync-web"],
            },
        )
        return str(created["id"])

    def state(self, flow_run_id: str) -> FlowRunState:
        run = self._call("GET", f"/flow_runs/{flow_run_id}")
        state = run.get("state") or {}
        artifacts = self._call(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {
                    "flow_run_id": {"any_": [flow_run_id]},
                    "type": {"any_": ["progress"]},
                },
                "limit": 1,
            },
        )
        progress = artifacts[0].get("data") if artifacts else None
        return FlowRunState(
            type=state.get("type", "SCHEDULED"),
            name=state.get("name", "Scheduled"),
            message=state.get("message"),
            progress=float(progress) if isinstance(progress, int | float) else None,
        )

    def link(self, flow_run_id: str) -> str:
        """The flow run in the Prefect UI."""
        return f"{self.ui_url}/runs/flow-run/{flow_run_id}"
