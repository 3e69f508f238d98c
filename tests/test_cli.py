"""The command line on real files: the commands in-process (typer's CliRunner), and one
smoke test of the real console entry in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint
from typer.testing import CliRunner

from contract_sync.settings import get_settings
from contract_sync_faces.cli import app
from tests.conftest import free_port

PROJECT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "contract_sync_faces.cli"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """The settings' data folder in tmp_path: the embedded databases and reports go there."""
    monkeypatch.setenv("CONTRACT_SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # tables unwrapped, should the console be a terminal
    for name in ("ERP_URL", "STORE_URL", "REPORTS_DIR", "ERP_CONNECTOR", "ERP_FILES_DIR"):
        monkeypatch.delenv(f"CONTRACT_SYNC_{name}", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _run(args: list[str]):
    return CliRunner().invoke(app, args)


def test_demo_commands_end_to_end(data_dir):
    refused = _run(["demo", "seed", "--contracts", "10", "--items-per-contract", "4"])
    assert refused.exit_code == 1
    assert "contract-sync db upgrade" in refused.stdout

    assert _run(["db", "upgrade"]).exit_code == 0
    seeded = _run(["demo", "seed", "--contracts", "10", "--items-per-contract", "4"])
    assert seeded.exit_code == 0, seeded.output
    again = _run(["demo", "seed", "--skip-existing"])
    assert again.exit_code == 0 and "already seeded" in again.stdout
    assert _run(["demo", "edit-erp", "--fraction", "1"]).exit_code == 0

    ready = _run(["ready", "--as", "admin"])
    assert ready.exit_code == 0, ready.output
    assert "re-import" in ready.stdout and "not_imported" in ready.stdout
    preview = _run(["diff", "24008-"])
    assert preview.exit_code == 0, preview.output
    assert "Re-import preview of contract 24008-" in preview.stdout
    assert "24008- as sync-service: re-import available" in preview.stdout
    assert _run(["diff", "00000-"]).exit_code == 1

    synced = _run(["sync", "--company", "1", "--company", "2"])
    assert synced.exit_code == 0, synced.output
    for shown in (
        "re-imported",  # an outcome in words
        "contract_unapproved",
        "job_not_synced",
        "permission_denied",
        "contract_in_multiple_projects",
        "invalid_erp_data",
        "not_imported",
        "integration_unsupported",
        "audit log",
    ):
        assert shown in synced.stdout, shown
    # Two companies hold the same contract numbers: each row names its company.
    assert re.search(r"^\s*company\s+contract\s+outcome", synced.stdout, re.M), synced.stdout
    assert re.search(r"^\s*1\s+24001-\s", synced.stdout, re.M)
    assert re.search(r"^\s*2\s+24001-\s", synced.stdout, re.M)
    assert (data_dir / "store.sqlite").exists()
    assert list((data_dir / "reports").glob("*/index.html"))
    again = _run(["diff", "24008-"])  # re-imported: nothing left, and no empty table
    assert again.exit_code == 0, again.output
    assert "24008-: a re-import would change nothing" in again.stdout
    assert "Re-import preview" not in again.stdout
    assert _run(["sync", "--company", "1"]).exit_code == 0  # rows with nothing changed
    report = _run(["audit", "report", "--company", "1"]).stdout
    # The summary and the table's title say the same in the same words.
    counted = re.search(
        r"(\d+) audit rows? of \d+ contracts?: (\d+) with nothing changed \(counted, not", report
    )
    total, unlisted = int(counted.group(1)), int(counted.group(2))
    assert unlisted > 0 and f"and {total - unlisted} listed" in report
    assert f"Audit rows ({total - unlisted} listed)" in report

    unknown = _run(["sync", "--as", "nobody"])
    assert unknown.exit_code == 1 and "nobody" in unknown.stdout


def test_the_console_entry_runs_in_a_process_of_its_own(tmp_path):
    """`python -m contract_sync_faces.cli`, as the `contract-sync` script runs it: help, and one
    command that writes a store."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONTRACT_SYNC_")},
        "CONTRACT_SYNC_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
        )

    shown = run(["--help"])
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "sync" in shown.stdout and "demo" in shown.stdout
    upgraded = run(["db", "upgrade"])
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "store schema: empty -> " in upgraded.stdout
    assert (tmp_path / "data" / "store.sqlite").exists()


def test_every_deployment_entrypoint_loads_a_flow():
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(PROJECT / deployment["entrypoint"]))
        assert isinstance(flow, Flow), deployment["name"]


def test_a_prefect_server_that_does_not_answer_is_one_line(data_dir, monkeypatch):
    port = free_port()  # nothing listens on it
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    done = _run(["reimport", "24008-", "--as", "admin"])
    assert done.exit_code == 1
    [line] = done.stdout.strip().splitlines()
    assert f"PREFECT_API_URL is http://127.0.0.1:{port}/api, but no Prefect server" in line
    assert "unset PREFECT_API_URL" in line


def test_a_password_is_set_asked_twice_or_from_standard_input(data_dir):
    assert _run(["db", "upgrade"]).exit_code == 0
    assert _run(["demo", "seed", "--contracts", "10", "--items-per-contract", "2"]).exit_code == 0
    command = ["users", "set-password", "admin"]
    asked = CliRunner().invoke(app, command, input="correct horse battery\n" * 2)
    assert asked.exit_code == 0, asked.output
    assert "Password: \nRepeat for confirmation: \n" in asked.output  # asked twice
    assert "correct horse battery" not in asked.output  # hidden
    assert "password set for admin" in asked.output
    for login, password, why in [
        ("admin", "short", "error: a password needs at least 12 characters"),
        ("nobody", "correct horse battery", "error: 'nobody' is not a user of the project store"),
    ]:
        refused = CliRunner().invoke(
            app, ["users", "set-password", login, "--password-stdin"], input=password + "\n"
        )
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines() == [why]
