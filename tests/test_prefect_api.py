"""The web pages' Prefect client: a busy server (503, as Prefect answers when its database
is locked) is asked again; a refusal is said in one line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contract_sync_faces.web.prefect_api import PrefectRuns, PrefectUnavailable


@contextmanager
def answering(statuses: list[int]) -> Iterator[list[str]]:
    """A local http server answering each request with the next status (200: a flow run's
    id), and the requests it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            status = statuses.pop(0) if statuses else 200
            body = json.dumps({"id": "6f1c0b6e-0000-4000-8000-000000000001"}).encode()
            if status != 200:
                body = b'{"exception_message":"Service Unavailable"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen, f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_server_is_asked_again_and_the_run_starts():
    with answering([503, 503]) as (seen, url):
        run_id = PrefectRuns(url).start("reimport-main-contracts/reimport-contracts", {})
    assert run_id == "6f1c0b6e-0000-4000-8000-000000000001"
    assert seen[:3] == ["GET /api/deployments/name/reimport-main-contracts/reimport-contracts"] * 3
    assert seen[3].startswith("POST /api/deployments/") and len(seen) == 4


def test_a_server_busy_every_time_is_a_one_line_refusal():
    with answering([503] * 10) as (seen, url), pytest.raises(PrefectUnavailable) as refused:
        PrefectRuns(url).start("reimport-main-contracts/reimport-contracts", {})
    assert len(seen) == 4  # asked, then again after 0.5, 1 and 2 s
    assert "503" in str(refused.value) and "\n" not in str(refused.value)


def test_a_refusal_that_is_not_busyness_is_not_asked_again():
    with answering([404]) as (seen, url), pytest.raises(PrefectUnavailable, match="404"):
        PrefectRuns(url).start("reimport-main-contracts/reimport-contracts", {})
    assert len(seen) == 1
