"""One re-import run as its own process, for the concurrency tests: evaluate, wait, apply.

python -m tests.concurrent_apply FOLDER NAME
Reads its settings (the ERP, the ledger, the store) from the CONTRACT_SYNC_* environment.
Writes FOLDER/NAME.ready once planned, waits for FOLDER/go, then applies and writes
FOLDER/NAME.json with the outcome per contract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport
from contract_sync.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent


def start(folder: Path, name: str, environment: dict[str, str], **popen) -> subprocess.Popen:  # noqa: ANN003
    """This module run in a process of its own, with these settings."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.concurrent_apply", str(folder), name],
        cwd=PROJECT,
        env={**os.environ, **environment, "GX_ANALYTICS_ENABLED": "false"},
        **popen,
    )


def main(folder: Path, name: str) -> None:
    settings = Settings()

    def wait_for_go(_plan: Plan) -> None:
        (folder / f"{name}.ready").touch()
        deadline = time.monotonic() + 120
        while not (folder / "go").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no go signal")
            time.sleep(0.01)

    audit = reimport(settings, Request(company=1, actor="admin"), hooks=Hooks(planned=wait_for_go))
    audit = audit.audit
    outcomes = dict(
        zip(audit["contract_no"], audit["outcome"] + " " + audit["reasons"], strict=True)
    )
    (folder / f"{name}.json").write_text(json.dumps(outcomes))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
