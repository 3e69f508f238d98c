"""A served Prefect (scripts/serve.sh: server, deployments, worker, reports, web pages) on
free loopback ports, for the end-to-end tests; scripts/stop.sh afterwards."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import Sides, free_port

PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Served:
    sides: Sides
    web_url: str  # the web pages

    @property
    def erp(self):  # noqa: ANN201 - the ERP engine
        return self.sides.erp

    @property
    def store(self):  # noqa: ANN201 - the store engine
        return self.sides.store


def _pids(run_dir: Path) -> list[int]:
    return [int(p.read_text()) for p in run_dir.glob("*.pid")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(name="served")
def served_fixture(configured, tmp_path, served_settings):
    """`scripts/serve.sh` on a free loopback port; `scripts/stop.sh` afterwards."""
    port, web_port, run_dir = free_port(), free_port(), tmp_path / "run"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")},
        "PREFECT_PORT": str(port),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "CONTRACT_SYNC_RUN_DIR": str(run_dir),
        "CONTRACT_SYNC_REPORTS_PORT": str(free_port()),
        "CONTRACT_SYNC_WEB_PORT": str(web_port),
        # Schedules that do not fire while the test runs (a scheduled sync at the top of
        # the hour would re-import the contracts the test edits before its own run does).
        "CONTRACT_SYNC_SYNC_CRON": "0 3 29 2 *",
        "CONTRACT_SYNC_REPORT_CRON": "0 3 29 2 *",
        "CONTRACT_SYNC_DIGEST_CRON": "0 3 29 2 *",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        **served_settings,
    }
    try:
        started = subprocess.run(
            [PROJECT / "scripts/serve.sh"], env=env, capture_output=True, text=True, timeout=400
        )
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"Prefect UI: http://127.0.0.1:{port}" in started.stdout
        pids = _pids(run_dir)
        assert len(pids) == 4 and all(map(_alive, pids))  # server, reports, web, worker
        with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            yield Served(configured, f"http://127.0.0.1:{web_port}")
    finally:
        pids = _pids(run_dir)
        subprocess.run([PROJECT / "scripts/stop.sh"], env=env, timeout=60, check=True)
        time.sleep(1)
        assert not any(map(_alive, pids)), "a process the test started is still running"


def wait_for_run(client, flow_run_id, seconds: float = 300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.state and flow_run.state.is_final():
            return flow_run
        time.sleep(1)
    raise TimeoutError(f"flow run {flow_run_id} did not finish in {seconds} s")


def table_fits(browser, artifact_id) -> None:  # noqa: ANN001
    """An artifact's table in the UI at 1440 px: as wide as its place, nothing scrolled off."""
    ui = PREFECT_API_URL.value().removesuffix("/api")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{ui}/artifacts/artifact/{artifact_id}")
    page.locator("div.p-table td").first.wait_for(timeout=30_000)
    width, room = page.evaluate(
        "() => { const t = document.querySelector('div.p-table');"
        " return [t.scrollWidth, t.clientWidth]; }"
    )
    assert width <= room, (artifact_id, width, room)
    page.close()
