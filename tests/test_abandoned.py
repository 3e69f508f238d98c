"""A killed run is marked abandoned, with when that was found: by the next run, or by
`audit mark-abandoned` (`audit verify` names it and writes nothing); a run that is alive,
however long it takes, is not. On the SQL store and on Procore."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contract_sync.demo.edit import edit_erp
from contract_sync.model import Request
from contract_sync.run import reimport
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs
from contract_sync_faces.cli import app
from tests.concurrent_apply import start


def _start_waiting_run(store, folder: Path) -> subprocess.Popen:
    """A run in its own process, stopped after planning (before apply) until `go`."""
    process = start(folder, "a", store.environment)
    deadline = time.monotonic() + 120
    while not (folder / "a.ready").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    return process


def _statuses(store: sa.Engine) -> list[str]:
    with store.connect() as connection:
        return [row.status for row in connection.execute(runs().order_by("started_at"))]


def _run_id(store: sa.Engine) -> str:
    with store.connect() as connection:
        return connection.execute(sa.select(s.sync_runs.c.id)).scalar_one()


@pytest.mark.parametrize("found_by", ["audit mark-abandoned", "the next run"])
def test_a_killed_run_is_marked_abandoned(store, tmp_path, found_by):
    configured = store.sides
    edit_erp(configured.erp, 1, 0.5, seed=41)
    process = _start_waiting_run(store, tmp_path)
    run_id = _run_id(configured.store)
    alive = CliRunner().invoke(app, ["audit", "verify"])
    assert alive.exit_code == 0, alive.output
    assert f"run {run_id} is running: its end is not recorded yet" in alive.output
    nothing = CliRunner().invoke(app, ["audit", "mark-abandoned"])
    assert nothing.output.splitlines() == ["no run marked abandoned"]
    assert _statuses(configured.store) == ["running"]

    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = time.time()
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert (verified.exit_code, verified.output.splitlines()) == (
        1,
        [
            f"error: the audit log is not intact: run {run_id} has no end, and its process is "
            "gone (`contract-sync audit mark-abandoned` records it abandoned)"
        ],
    )
    assert _statuses(configured.store) == ["running"]  # verify wrote nothing
    if found_by == "audit mark-abandoned":
        found = CliRunner().invoke(app, ["audit", "mark-abandoned"])
        assert (found.exit_code, found.output.splitlines()) == (
            0,
            [f"run {run_id} ended without a word: marked abandoned"],
        )
        assert _statuses(configured.store) == ["abandoned"]
    else:
        reimport(store.settings, Request(company=1, actor="admin"))
        assert _statuses(configured.store) == ["abandoned", "completed"]
    with configured.store.connect() as connection:
        ended = connection.execute(runs().where(s.run_ends.c.status == "abandoned")).one()
    assert ended.ended_at.timestamp() >= killed_at - 1  # when it was found, not when it began
    assert "audit log intact" in CliRunner().invoke(app, ["audit", "verify"]).output
