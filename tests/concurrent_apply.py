"""One re-import run as its own process, for the concurrency test: evaluate, wait, apply.

python -m tests.concurrent_apply ERP_URL STORE_URL FOLDER NAME
Writes FOLDER/NAME.ready after compare, waits for FOLDER/go, then applies and writes
FOLDER/NAME.json with the outcome per contract.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from contract_sync.settings import Settings
from contract_sync.store.db import make_engine
from contract_sync.store.writes import start_run
from flows.pipeline import load_and_evaluate, plan_of, run_record
from tasks.apply import apply


def main(erp_url: str, store_url: str, folder: Path, name: str) -> None:
    settings = Settings(erp_url=erp_url, store_url=store_url)
    found = load_and_evaluate(settings, 1, "admin")
    run_plan = plan_of(found, dry_run=False)
    store = make_engine(store_url)
    run_id = str(uuid.uuid4())
    start_run(store, run_record(run_id, 1, "admin", {"name": name}, False))
    (folder / f"{name}.ready").touch()
    deadline = time.monotonic() + 120
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no go signal")
        time.sleep(0.01)
    audit = apply(store, run_id, run_plan)
    outcomes = dict(
        zip(audit["contract_no"], audit["outcome"] + " " + audit["reasons"], strict=True)
    )
    (folder / f"{name}.json").write_text(json.dumps(outcomes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])
