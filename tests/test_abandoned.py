"""A killed run is marked abandoned, with when that was found: by the next run, or by
`audit verify`; a run that is alive, however long it takes, is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.edit import edit_erp
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync_faces.cli import app

PROJECT = Path(__file__).resolve().parent.parent


def _start_waiting_run(sides, folder: Path) -> subprocess.Popen:
    """A run in its own process, stopped after planning (before apply) until `go`."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.concurrent_apply",
            sides.erp_url,
            sides.store_url,
            str(folder),
            "a",
        ],
        cwd=PROJECT,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
    )
    deadline = time.monotonic() + 120
    while not (folder / "a.ready").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    return process


def _statuses(store: sa.Engine) -> list[str]:
    with store.connect() as connection:
        return [row.status for row in connection.execute(runs().order_by("started_at"))]


@pytest.mark.parametrize("found_by", ["audit verify", "the next run"])
def test_a_killed_run_is_marked_abandoned(configured, tmp_path, found_by):
    edit_erp(configured.erp, 1, 0.5, seed=41)
    process = _start_waiting_run(configured, tmp_path)
    alive = CliRunner().invoke(app, ["audit", "verify"])
    assert alive.exit_code == 0 and "abandoned" not in alive.output
    assert _statuses(configured.store) == ["running"]

    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = time.time()
    if found_by == "audit verify":
        found = CliRunner().invoke(app, ["audit", "verify"])
        assert found.exit_code == 0, found.output
        assert "ended without a word: marked abandoned" in found.output
        assert _statuses(configured.store) == ["abandoned"]
    else:
        settings = Settings(
            erp_url=configured.erp_url, store_url=configured.store_url, data_docs=False
        )
        reimport(settings, Request(company=1, actor="admin"))
        assert _statuses(configured.store) == ["abandoned", "completed"]
    with configured.store.connect() as connection:
        ended = connection.execute(runs().where(s.run_ends.c.status == "abandoned")).one()
    assert ended.ended_at.timestamp() >= killed_at - 1  # when it was found, not when it began
    assert "audit log intact" in CliRunner().invoke(app, ["audit", "verify"]).output
