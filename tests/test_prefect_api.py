"""The web pages' Prefect client, against a real Prefect server: a click's run started with
the parameters its flow takes, its state and progress read; a busy server (503, as Prefect
answers when its database is locked) asked again by Prefect's client, with the auth string
of Prefect's settings; a server that is not set, one that does not answer, and a refusal,
each said in one line. And the deployments the web starts: named as prefect.yaml names
them, their parameters bound to the flows' signatures."""

from __future__ import annotations

import base64
import inspect
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
    temporary_settings,
)

from contract_sync.store.identity import RunAsked
from contract_sync_faces.web.contract_pages import deployment_run
from contract_sync_faces.web.prefect_api import FlowRunState, PrefectRuns, PrefectUnavailable
from contract_sync_flows.first_import import BY_HAND as IMPORT
from contract_sync_flows.reimport import BY_HAND as REIMPORT
from tests.conftest import free_port

PROJECT = Path(__file__).resolve().parent.parent
REIMPORT_ASKED = RunAsked("admin", 1, "reimport", "24008-")
IMPORT_ASKED = RunAsked("admin", 1, "import", "24011-")


def test_the_web_deployments_are_those_of_prefect_yaml_with_their_flows():
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    entrypoints = {d["name"]: d["entrypoint"] for d in config["deployments"]}
    for deployment in (REIMPORT, IMPORT):
        source = Path(inspect.getsourcefile(deployment.flow.fn)).relative_to(PROJECT)
        expected = f"{source.as_posix()}:{deployment.flow.fn.__name__}"
        assert entrypoints.get(deployment.deployment) == expected, deployment.name


def test_the_web_parameters_bind_to_the_flows_signatures():
    """deployment_run binds by name: a flow parameter renamed fails here, not in the run."""
    request_id = str(uuid.uuid4())
    given = {"company": 1, "requested_by": "admin", "request_id": request_id}
    assert deployment_run(REIMPORT_ASKED, request_id) == (
        "reimport-main-contracts/reimport-contracts",
        {**given, "contracts": ["24008-"]},
    )
    assert deployment_run(IMPORT_ASKED, request_id) == (
        "import-main-contract/import-contract",
        {**given, "contract": "24011-"},
    )
    with pytest.raises(TypeError, match="import-main-contract: .*'contracts'"):
        IMPORT.parameters(contracts=["24011-"])


@pytest.fixture(scope="module")
def api_url(prefect_harness) -> str:
    """The test server's API, with the web's deployments registered as `prefect deploy`
    registers them: their flows' parameter schemas, enforced."""
    with get_client(sync_client=True) as client:
        for deployment in (REIMPORT, IMPORT):
            client.create_deployment(
                client.create_flow_from_name(deployment.flow.name),
                deployment.deployment,
                parameter_openapi_schema=deployment.flow.parameters.model_dump(exclude_unset=True),
                enforce_parameter_schema=True,
            )
    return PREFECT_API_URL.value()


def test_a_click_starts_its_run_and_the_page_reads_its_state(api_url):
    runs = PrefectRuns(api_url)
    for asked in (REIMPORT_ASKED, IMPORT_ASKED):  # the server checks them against the schema
        request_id = str(uuid.uuid4())
        deployment, parameters = deployment_run(asked, request_id)
        run_id = runs.start(deployment, parameters, idempotency_key=request_id)
        assert runs.start(deployment, parameters, idempotency_key=request_id) == run_id  # again
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(uuid.UUID(run_id))
        assert run.parameters == parameters and "contract-sync-web" in run.tags
        assert runs.state(run_id) == FlowRunState("SCHEDULED", "Scheduled", None, None)
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(type="progress", data=40.0, flow_run_id=run.id))
    assert runs.state(run_id).progress == 40.0 and not runs.state(run_id).final
    assert runs.link(run_id) == f"{api_url.removesuffix('/api')}/runs/flow-run/{run_id}"


@dataclass(frozen=True)
class Proxy:
    url: str  # its API URL
    seen: list[str]  # the requests it got, as "status METHOD path"
    authorizations: set[str | None]  # the Authorization headers they carried


@contextmanager
def busy_before(api_url: str, busy: int) -> Iterator[Proxy]:
    """A local http server in front of the Prefect server: it answers the first `busy`
    requests 503 (as Prefect does when its database is locked) and passes the others on."""
    seen: list[str] = []
    authorizations: set[str | None] = set()
    upstream = httpx.Client(base_url=api_url.removesuffix("/api"), timeout=30)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorizations.add(self.headers.get("Authorization"))
            if len(seen) < busy:
                status, headers = 503, {"Content-Type": "application/json"}
                content = b'{"exception_message":"Service Unavailable"}'
            else:
                answer = upstream.request(
                    self.command, self.path, content=body, headers=_passed(self.headers)
                )
                status, headers, content = (
                    answer.status_code,
                    _passed(answer.headers),
                    answer.content,
                )
            seen.append(f"{status} {self.command} {self.path}")
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(content))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _answer

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Proxy(f"http://127.0.0.1:{server.server_address[1]}/api", seen, authorizations)
    finally:
        server.shutdown()
        server.server_close()
        upstream.close()


def _passed(headers) -> dict[str, str]:  # noqa: ANN001 - a message's or a response's headers
    """The headers a proxy passes on: not those of the connection or of the body's length."""
    dropped = {"host", "content-length", "transfer-encoding", "content-encoding", "connection"}
    return {k: v for k, v in headers.items() if k.lower() not in dropped}


def test_a_busy_server_is_asked_again_and_the_run_starts(api_url):
    """... with the server's basic auth of Prefect's settings (PREFECT_API_AUTH_STRING)."""
    with (
        busy_before(api_url, busy=2) as proxy,
        temporary_settings(updates={PREFECT_API_AUTH_STRING: "admin:a-long-secret"}),
    ):
        deployment, parameters = deployment_run(REIMPORT_ASKED, str(uuid.uuid4()))
        run_id = PrefectRuns(proxy.url).start(deployment, parameters)
    asked = f"GET /api/deployments/name/{REIMPORT.name}"
    assert proxy.seen[:3] == [f"503 {asked}", f"503 {asked}", f"200 {asked}"]
    assert "POST /api/deployments/" in proxy.seen[-1] and proxy.seen[-1].startswith("201")
    assert proxy.authorizations == {"Basic " + base64.b64encode(b"admin:a-long-secret").decode()}
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(uuid.UUID(run_id)).parameters == parameters


def test_a_server_busy_every_time_is_a_one_line_refusal(api_url):
    """As often as Prefect's settings say (PREFECT_CLIENT_MAX_RETRIES), then one line."""
    with (
        busy_before(api_url, busy=100) as proxy,
        temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 1}),
        pytest.raises(PrefectUnavailable) as refused,
    ):
        PrefectRuns(proxy.url).state(str(uuid.uuid4()))
    assert len(proxy.seen) == 2  # asked, then once again
    assert str(refused.value).startswith("the Prefect server refused GET /api/flow_runs/")
    assert "503" in str(refused.value) and "\n" not in str(refused.value)


def test_a_refusal_that_is_not_busyness_is_one_line_and_not_asked_again(api_url):
    with (
        busy_before(api_url, busy=0) as proxy,
        pytest.raises(PrefectUnavailable) as refused,
    ):
        PrefectRuns(proxy.url).start(f"{REIMPORT.flow.name}/no-such-deployment", {})
    assert proxy.seen == [f"404 GET /api/deployments/name/{REIMPORT.flow.name}/no-such-deployment"]
    assert str(refused.value).startswith(
        f"the Prefect server refused GET /api/deployments/name/{REIMPORT.flow.name}/"
        "no-such-deployment: 404 "
    )
    with pytest.raises(PrefectUnavailable) as refused:  # a value the flow's schema refuses
        PrefectRuns(api_url).start(REIMPORT.name, REIMPORT.parameters(contracts="24008-"))
    assert "refused POST /api/deployments/" in str(refused.value)
    assert "contracts" in str(refused.value) and "\n" not in str(refused.value)


def test_a_server_that_does_not_answer_or_is_not_set_is_one_line():
    url = f"http://127.0.0.1:{free_port()}/api"  # nobody listens there
    run_id = str(uuid.uuid4())
    for call in (lambda runs: runs.start(REIMPORT.name, {}), lambda runs: runs.state(run_id)):
        with pytest.raises(PrefectUnavailable) as unanswered:
            call(PrefectRuns(url))
        assert str(unanswered.value).startswith(f"the Prefect server at {url} does not answer (")
        assert "\n" not in str(unanswered.value)
    with pytest.raises(PrefectUnavailable) as unset:
        PrefectRuns(None).start(REIMPORT.name, {})
    assert str(unset.value) == "no Prefect server is set (PREFECT_API_URL): make serve"
