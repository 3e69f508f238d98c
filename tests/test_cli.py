"""The command line, run as a user runs it: a real process on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

PROJECT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "contract_sync.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_commands_end_to_end(tmp_path):
    env = {
        **os.environ,
        "CONTRACT_SYNC_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "COLUMNS": "200",
    }
    env.pop("CONTRACT_SYNC_ERP_URL", None)
    env.pop("CONTRACT_SYNC_STORE_URL", None)

    refused = _run(["demo", "seed", "--contracts", "10", "--items-per-contract", "4"], env)
    assert refused.returncode == 1
    assert "contract-sync db upgrade" in refused.stdout

    assert _run(["db", "upgrade"], env).returncode == 0
    seeded = _run(["demo", "seed", "--contracts", "10", "--items-per-contract", "4"], env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    again = _run(["demo", "seed", "--skip-existing"], env)
    assert again.returncode == 0 and "already seeded" in again.stdout
    assert _run(["demo", "edit-erp", "--fraction", "1"], env).returncode == 0

    ready = _run(["ready", "--as", "admin"], env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "available" in ready.stdout and "not_imported" in ready.stdout
    preview = _run(["diff", "24008-"], env)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "Re-import preview of contract 24008-" in preview.stdout
    assert "24008- as sync-service: re-import available" in preview.stdout
    assert _run(["diff", "00000-"], env).returncode == 1

    synced = _run(["sync", "--company", "1", "--company", "2"], env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    for shown in (
        "reimported",
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
    assert (tmp_path / "data" / "store.sqlite").exists()
    assert list((tmp_path / "data" / "reports").glob("*/index.html"))

    unknown = _run(["sync", "--as", "nobody"], env)
    assert unknown.returncode == 1 and "nobody" in unknown.stdout


def test_every_deployment_entrypoint_loads_a_flow():
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(PROJECT / deployment["entrypoint"]))
        assert isinstance(flow, Flow), deployment["name"]
