"""Procore requests per scenario, through the Procore simulator (simulators/procore).

    python -m bench.procore --contracts 500 --items-per-contract 200 [--keep]

A company is seeded (ERP and ledger, SQLite, in a temporary folder), the simulator serves
its projects, and the run API imports every contract into it; then the scenarios run:
nothing edited, and a share of the contracts edited in the ERP. Each reports the requests
it sent, per endpoint, beside issue 31's targets:

- nothing edited: at most projects + 5 requests;
- edited: within 1.2 x (contracts written x (1 + ceil(items / 1,000)) + reads), reads being
  the lists (token, projects, one per project) and the compared contracts' item reads;
- the first import across Procore's hourly windows (3,600 requests each, the simulator's
  clock moved on an hour when a run deferred contracts): the windows it took, and the 429
  answers, which must be none.

The simulator holds everything in memory and answers in Python: time figures here are the
simulator's, not Procore's, and are not reported.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench import history
from contract_sync.demo.edit import edit_erp
from contract_sync.demo.seed import seed
from contract_sync.model import Request
from contract_sync.run import first_import, reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from contract_sync.store.db import make_engine, upgrade
from contract_sync.vocabulary import Outcome
from simulators.procore import ProcoreSimulator, serve
from simulators.procore.from_store import (
    fixture_from_store,
    procore_settings,
    without_contracts,
)

PROCORE_COMPANY = 8001
SERVICE = "sync-service"
WINDOW = 3600.0
READS = ("POST /oauth/token", "GET /rest/v1.0/projects", "GET /rest/v1.0/prime_contracts")
ITEM_READS = "GET /rest/v1.0/prime_contracts/{prime_contract_id}/line_items"


def _counts(sim: ProcoreSimulator) -> dict[str, int]:
    counts = sim.request_counts()
    sim.log.clear()
    return counts


def _throttled(sim: ProcoreSimulator) -> int:
    return sum(s.get(429, 0) for s in sim.log.counts_by_status().values())


def first_import_windows(sim: ProcoreSimulator, settings: Settings) -> dict:
    """Every contract imported, a window at a time."""
    windows, requests, throttled, imported = 0, 0, 0, 0
    while True:
        windows += 1
        audit = first_import(settings, Request(1, SERVICE)).audit
        throttled += _throttled(sim)
        requests += sum(_counts(sim).values())
        imported += int((audit["outcome"] == Outcome.imported).sum())
        if not (audit["reasons"] == "rate_limited").any() or windows > 50:
            return {
                "windows": windows,
                "requests": requests,
                "imported": imported,
                "answers_429": throttled,
            }
        sim.advance_clock(WINDOW)


def sync_scenario(sim: ProcoreSimulator, settings: Settings, projects: int) -> dict:
    audit = reimport(settings, Request(1, SERVICE)).audit
    throttled = _throttled(sim)
    counts = _counts(sim)
    written = audit[audit["outcome"] == Outcome.reimported]
    changed = written["items_added"] + written["items_changed"] + written["items_removed"]
    writes = int((1 + (changed / 1000).map(math.ceil)).sum())
    reads = sum(counts.get(e, 0) for e in READS) + counts.get(ITEM_READS, 0)
    return {
        "requests": sum(counts.values()),
        "written": len(written),
        "target_nothing_edited": projects + 5,
        "target_edited": round(1.2 * (writes + reads), 1),
        "answers_429": throttled,
        "by_endpoint": counts,
    }


def run(contracts: int, items: int, edited: float, folder: Path) -> dict:
    erp = make_engine(f"sqlite:///{folder / 'erp.sqlite'}")
    ledger = make_engine(f"sqlite:///{folder / 'ledger.sqlite'}")
    upgrade(ledger)
    seed(erp, ledger, 1, contracts, items, 7, directory_file=folder / "directory.yaml")
    without_contracts(ledger)
    with ledger.connect() as connection:
        projects = connection.execute(sa.select(sa.func.count()).select_from(s.projects)).scalar()
    sim = ProcoreSimulator(fixture_from_store(ledger, 1, PROCORE_COMPANY))
    with serve(sim) as base_url:
        settings = Settings(
            erp_url=str(erp.url),
            store_url=str(ledger.url),
            **procore_settings(base_url, PROCORE_COMPANY),
            data_dir=folder / "data",
            data_docs=False,
        )
        result = {
            "when": datetime.now(UTC).isoformat(),
            "contracts": contracts,
            "items_per_contract": items,
            "items": contracts * items,
            "projects": projects,
        }
        result["first import"] = first_import_windows(sim, settings)
        sim.advance_clock(WINDOW)
        result["nothing edited"] = sync_scenario(sim, settings, projects)
        sim.advance_clock(WINDOW)
        edit_erp(erp, 1, edited, 11)
        result[f"{edited:.0%} edited"] = sync_scenario(sim, settings, projects)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.procore", description=__doc__)
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--items-per-contract", type=int, default=200)
    parser.add_argument("--edited", type=float, default=0.02)
    history.add_keep_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-procore-") as folder:
        result = run(args.contracts, args.items_per_contract, args.edited, Path(folder))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    out = history.record(result, "procore", Path(__file__).parent / "results", keep=args.keep)
    sys.stdout.write(f"results: {out}; a line added to {history.history_path()}\n")


if __name__ == "__main__":
    main()
