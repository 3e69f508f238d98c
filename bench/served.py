"""Prefect's own cost per flow run on a served deployment: `python -m bench.served` (or
`make bench-served`).

Builds a company, starts `scripts/serve.sh` (server, deployments, worker) on free loopback
ports, and runs the `reimport-contracts` deployment --runs times, nothing edited, as a
scheduled sync finds it most hours. Each run's time is split by its Prefect states: pickup
(Scheduled -> Pending: the worker's polling), start (Pending -> Running: a process with its
imports), the flow (Running -> Completed), and within the flow the run itself (the run
record's start to end) and what the flow adds around it (task runs, artifacts, API calls).
The same run in this process without Prefect is measured for comparison. Adds the run's
line to the history (bench/history.py) and writes its full JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench import history
from contract_sync.demo.seed import seed
from contract_sync.store import schema as s
from contract_sync.store.audit_log import runs as run_records
from contract_sync.store.db import make_engine, upgrade

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
NEVER = "0 3 29 2 *"  # schedules that do not fire while the benchmark runs
console = Console()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(folder: Path, contracts: int, items: int) -> dict[str, str]:
    """A seeded company; the settings that point at it."""
    urls = {name: f"sqlite:///{folder / f'{name}.sqlite'}" for name in ("erp", "store")}
    erp, store = make_engine(urls["erp"]), make_engine(urls["store"])
    upgrade(store)
    seed(erp, store, companies=1, contracts=contracts, items_per_contract=items, seed=7)
    erp.dispose()
    store.dispose()
    return {
        "CONTRACT_SYNC_ERP_URL": urls["erp"],
        "CONTRACT_SYNC_STORE_URL": urls["store"],
        "CONTRACT_SYNC_DATA_DIR": str(folder / "data"),
        "CONTRACT_SYNC_COMPANY": "1",
    }


def serve(folder: Path, settings: dict[str, str]) -> tuple[dict[str, str], str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")},
        **settings,
        "PREFECT_PORT": str(port),
        "PREFECT_HOME": str(folder / "prefect"),
        "CONTRACT_SYNC_RUN_DIR": str(folder / "run"),
        "CONTRACT_SYNC_REPORTS_PORT": str(free_port()),
        "CONTRACT_SYNC_WEB_PORT": str(free_port()),
        "CONTRACT_SYNC_SYNC_CRON": NEVER,
        "CONTRACT_SYNC_REPORT_CRON": NEVER,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    started = subprocess.run(
        [PROJECT / "scripts/serve.sh"], env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        raise RuntimeError(started.stdout + started.stderr)
    return env, f"http://127.0.0.1:{port}/api"


def one_run(client, deployment_id, store: sa.Engine) -> dict:  # noqa: ANN001 - Prefect's
    """One deployment run, nothing edited: its phases by Prefect state, in seconds."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    created = time.perf_counter()
    flow_run = client.create_flow_run_from_deployment(deployment_id, parameters={})
    while not (state := client.read_flow_run(flow_run.id).state).is_final():
        time.sleep(0.2)
    wall = time.perf_counter() - created
    if not state.is_completed():
        raise RuntimeError(f"flow run {flow_run.id} ended {state.name}: {state.message}")
    at = {s.type.value: s.timestamp for s in client.read_flow_run_states(flow_run.id)}
    task_runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
    )
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
    )
    with store.connect() as connection:
        record = connection.execute(run_records().where(s.sync_runs.c.id == str(flow_run.id))).one()
    run_seconds = (record.ended_at - record.started_at).total_seconds()
    flow_seconds = (at["COMPLETED"] - at["RUNNING"]).total_seconds()
    return {
        "wall": wall,
        "pickup": (at["PENDING"] - at["SCHEDULED"]).total_seconds(),
        "start": (at["RUNNING"] - at["PENDING"]).total_seconds(),
        "flow": flow_seconds,
        "run": run_seconds,
        "around the run": flow_seconds - run_seconds,
        "task runs": len(task_runs),
        "artifacts": len(artifacts),
        "artifact bytes": sum(len(json.dumps(a.data, default=str)) for a in artifacts),
    }


def in_process(settings: dict[str, str]) -> float:
    """The same run without Prefect, in a fresh process (imports included)."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from contract_sync.run import Request, reimport\n"
        "from contract_sync.settings import get_settings\n"
        "reimport(get_settings(), Request(company=1, actor='sync-service'))\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {**os.environ, **settings}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - started


def measure(contracts: int, items: int, runs: int) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    folder = Path(tempfile.mkdtemp(prefix="contract-sync-bench-served-"))
    console.print(f"building {contracts:,} contracts x {items} items, serving ...")
    settings = build(folder, contracts, items)
    env, api = serve(folder, settings)
    store = make_engine(settings["CONTRACT_SYNC_STORE_URL"])
    try:
        with (
            temporary_settings(updates={PREFECT_API_URL: api}),
            get_client(sync_client=True) as client,
        ):
            deployment = client.read_deployment_by_name(
                "reimport-main-contracts/reimport-contracts"
            )
            one_run(client, deployment.id, store)  # the first: validates, warms the caches
            measured = [one_run(client, deployment.id, store) for _ in range(runs)]
        without = [in_process(settings) for _ in range(runs)]
    finally:
        subprocess.run([PROJECT / "scripts/stop.sh"], env=env, timeout=120, check=False)
        store.dispose()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "contracts": contracts,
        "items_per_contract": items,
        "runs": measured,
        "without prefect": without,
    }


def report(result: dict) -> Table:
    runs = result["runs"]
    table = Table(
        title=f"A served deployment run, nothing edited: {result['contracts']:,} contracts x "
        f"{result['items_per_contract']} items, median of {len(runs)}"
    )
    table.add_column("part")
    table.add_column("seconds / count", justify="right")
    for key in runs[0]:
        value = statistics.median(r[key] for r in runs)
        table.add_row(key, f"{value:,.0f}" if isinstance(runs[0][key], int) else f"{value:.2f}")
    without = statistics.median(result["without prefect"])
    table.add_row("the same run without Prefect (fresh process)", f"{without:.2f}")
    table.add_row(
        "Prefect's cost (wall - without)",
        f"{statistics.median(r['wall'] for r in runs) - without:.2f}",
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--items-per-contract", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    history.add_keep_option(parser)
    args = parser.parse_args()
    result = measure(args.contracts, args.items_per_contract, args.runs)
    console.print(report(result))
    out = history.record(result, "served", HERE / "results", keep=args.keep)
    console.print(f"results: {out}; a line added to {history.history_path()}")


if __name__ == "__main__":
    main()
