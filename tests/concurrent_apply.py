"""One re-import run as its own process, for the concurrency test: evaluate, wait, apply.

python -m tests.concurrent_apply ERP_URL STORE_URL FOLDER NAME
Writes FOLDER/NAME.ready once planned, waits for FOLDER/go, then applies and writes
FOLDER/NAME.json with the outcome per contract.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport
from contract_sync.settings import Settings


def main(erp_url: str, store_url: str, folder: Path, name: str) -> None:
    settings = Settings(erp_url=erp_url, store_url=store_url, data_docs=False)

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
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])
