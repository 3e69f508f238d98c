"""One measured run in a process of its own (so peak memory is this run's alone).

python -m bench.once ERP_URL STORE_URL SCENARIO  ->  JSON on stdout
SCENARIO: floor (read ERP and store items only), or a sync: changed | full_refresh
"""

from __future__ import annotations

import json
import resource
import sys
import time
import uuid
from contextlib import contextmanager

from contract_sync.erp.read import read_erp
from contract_sync.settings import Settings
from contract_sync.store.db import make_engine
from contract_sync.store.state import load_state, with_items
from contract_sync.store.writes import finish_run, start_run
from flows.pipeline import evaluate, plan_of, run_record
from tasks.apply import apply
from tasks.compare import ConflictPolicy

ACTOR = "admin"


class Stopwatch:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - start


def floor(settings: Settings) -> dict:
    watch = Stopwatch()
    store = make_engine(settings.store_database_url)
    with watch.stage("read ERP"):
        erp = read_erp(settings, 1)
    with watch.stage("read store"):
        state = load_state(store, 1, ACTOR)
        state = with_items(store, state, state.contracts["contract_id"])
    return {"stages": watch.stages, "erp_items": len(erp.items), "store_items": len(state.items)}


def sync(settings: Settings, full_refresh: bool) -> dict:
    """The re-import flow's stages, as the flow runs them, each timed (without Prefect)."""
    watch = Stopwatch()
    store = make_engine(settings.store_database_url)
    with watch.stage("load state"):
        state = load_state(store, 1, ACTOR)
    found = evaluate(
        settings,
        store,
        state,
        1,
        None,
        ConflictPolicy.erp_wins,
        full_refresh,
        None,
        timer=watch.stage,
    )
    with watch.stage("plan"):
        run_plan = plan_of(found, dry_run=False)
    run_id = str(uuid.uuid4())
    start_run(store, run_record(run_id, state.company_id, ACTOR, {"bench": True}, False))
    with watch.stage("apply"):
        audit = apply(store, run_id, run_plan)
    finish_run(store, run_id, "completed")
    return {
        "stages": watch.stages,
        "erp_items": len(found.erp.items),
        "compared_contracts": int((~found.unchanged).sum()),
        "outcomes": {k: int(v) for k, v in audit["outcome"].value_counts().items()},
        "reimported": sorted(audit.loc[audit["outcome"] == "reimported", "contract_no"]),
    }


def main(erp_url: str, store_url: str, scenario: str) -> None:
    settings = Settings(erp_url=erp_url, store_url=store_url)
    started = time.perf_counter()
    result = floor(settings) if scenario == "floor" else sync(settings, scenario == "full_refresh")
    result["total"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
