"""`make demo-procore`: the demo with Procore as the store, against the simulator.

A company is seeded into a fresh ERP database and ledger (data/procore-demo/), the Procore
simulator is served with the company's projects (linked to their ERP jobs), and the real
`contract-sync` commands run against it, as a person would run them with
CONTRACT_SYNC_STORE=procore: a first import of every importable contract, an edit in the
ERP, a person's edit in Procore, a sync. The requests each step sent to Procore close it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from contract_sync.demo.seed import seed
from contract_sync.store.db import make_engine, upgrade

from .from_store import as_environment, fixture_from_store, procore_settings, without_contracts
from .server import serve
from .simulator import ProcoreSimulator

FOLDER = Path("data/procore-demo")
PROCORE_COMPANY = 8001
SERVICE = "sync-service"


def _cli(env: dict[str, str], *args: str) -> None:
    print(f"\n$ contract-sync {' '.join(args)}", flush=True)
    done = subprocess.run([str(Path(sys.executable).with_name("contract-sync")), *args], env=env)
    if done.returncode:
        raise SystemExit(done.returncode)


def _requests(sim: ProcoreSimulator, step: str) -> None:
    counts = sim.request_counts()
    listed = ", ".join(f"{n} {endpoint}" for endpoint, n in sorted(counts.items()))
    print(f"\nProcore requests of {step}: {sum(counts.values())} ({listed})", flush=True)
    sim.log.clear()


def main() -> None:
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir(parents=True)
    erp_url = f"sqlite:///{(FOLDER / 'erp_vista.sqlite').resolve()}"
    ledger_url = f"sqlite:///{(FOLDER / 'ledger.sqlite').resolve()}"
    erp, ledger = make_engine(erp_url), make_engine(ledger_url)
    upgrade(ledger)
    seed(erp, ledger, 1, 12, 12, 7, directory_file=FOLDER / "directory.yaml")
    without_contracts(ledger)
    sim = ProcoreSimulator(fixture_from_store(ledger, 1, PROCORE_COMPANY))
    erp.dispose()
    ledger.dispose()
    with serve(sim) as base_url:
        env = os.environ | as_environment(
            {
                "erp_url": erp_url,
                "store_url": ledger_url,
                "data_dir": FOLDER.resolve(),
                **procore_settings(base_url, PROCORE_COMPANY),
            }
        )
        print(f"Procore (the simulator) at {base_url}; the ledger at {FOLDER}/ledger.sqlite")
        _cli(env, "import", "--all", "--as", SERVICE, "--company", "1")
        _requests(sim, "the first import")
        _cli(env, "demo", "edit-erp", "--company", "1", "--fraction", "0.4")
        item = next(iter(sim.state.store.line_items.values()))
        sim.edit_line_item(item.id, description=f"{item.description} (edited in Procore)")
        print(f"\nA person edits line item {item.origin_id} in Procore (its description).")
        _cli(env, "sync", "--company", "1")
        _requests(sim, "the sync")
        _cli(env, "sync", "--company", "1")
        _requests(sim, "a sync with nothing edited")


if __name__ == "__main__":
    main()
