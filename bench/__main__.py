"""Benchmark at company scale: `python -m bench [--contracts N] [--items-per-contract M]
[--backend sqlite|postgresql] [--repeat R]`, or `make bench` (5,000 x 200 = 1M items).

Builds the company once with the data generator (ERP and an imported store), runs the
sync of the hour before on it (its audit records and kept verdicts), keeps a pristine copy,
and for each scenario and repetition restores it, edits the ERP and runs one measured
process (bench/once.py). Reports medians per stage against the read floor,
end-to-end flow time with Prefect's start-up apart, rows per second and peak memory; then
each target against its floor (a full refresh's compare against a plain two-way keyed
diff of the same frames, a sync against reading the ERP alone); the compare's and the
diff's memory growth come from one more run of each that measures memory alone. Adds the
run's line to the history (bench/history.py) and writes its full JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench import history
from bench.figures import (
    APPLY_MS_TARGET,
    GROWTH_SCENARIO,
    Figure,
    apply_of_edited,
    floor_figures,
    median,
    memory_figures,
    stage_medians,
)
from contract_sync.demo.edit import edit_erp
from contract_sync.demo.seed import seed
from contract_sync.settings import VALIDATION_CACHE_FILE
from contract_sync.store.db import make_engine, upgrade

HERE = Path(__file__).resolve().parent
SCENARIOS = {  # name -> (fraction of contracts edited in the ERP, mode)
    "a: 2% edited": (0.02, "changed"),
    "b: nothing edited": (0.0, "changed"),
    "c: 10% edited": (0.10, "changed"),
    "d: full refresh": (0.02, "full_refresh"),
    # As an hourly sync finds it: the verdicts of the contents validated by the run before
    # are kept (the validation cache, warmed on the unedited company); edited ones are new.
    "a': 2% edited, verdicts kept": (0.02, "kept"),
    "b': nothing edited, verdicts kept": (0.0, "kept"),
}
console = Console(width=None if sys.stdout.isatty() else 140)


class Backend:
    """Two databases (ERP, store) with a pristine copy to restore before every run."""

    def __init__(self, kind: str, folder: Path, postgres_url: str | None) -> None:
        self.kind, self.folder, self.admin_url = kind, folder, postgres_url
        # Two benchmarks can share one PostgreSQL server under different prefixes.
        self.prefix = os.environ.get("BENCH_DB_PREFIX", "bench")
        folder.mkdir(parents=True, exist_ok=True)

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / f'{name}.sqlite'}"
        return (
            sa.engine.make_url(self.admin_url)
            .set(database=f"{self.prefix}_{name}")
            .render_as_string(hide_password=False)
        )

    def _admin(self, statements: list[str]) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
        engine.dispose()

    def fresh(self) -> None:
        for name in ("erp", "store"):
            if self.kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.folder / name}.sqlite{suffix}").unlink(missing_ok=True)
            else:
                self._admin(
                    [
                        f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{self.prefix}_{name}"',
                    ]
                )

    def keep_pristine(self) -> None:
        for name in ("erp", "store"):
            if self.kind == "sqlite":
                shutil.copyfile(self.folder / f"{name}.sqlite", self.folder / f"{name}.pristine")
            else:
                self._admin(
                    [
                        f'DROP DATABASE IF EXISTS "{self.prefix}_{name}_pristine" WITH (FORCE)',
                        f'CREATE DATABASE "{self.prefix}_{name}_pristine" '
                        f'TEMPLATE "{self.prefix}_{name}"',
                    ]
                )

    @property
    def verdicts(self) -> Path:
        """The data folder of the runs that keep verdicts (its validation cache)."""
        return self.folder / "verdicts"

    def keep_verdicts(self) -> None:
        shutil.copyfile(self.verdicts / VALIDATION_CACHE_FILE, self.folder / "verdicts.pristine")

    def restore_verdicts(self) -> None:
        shutil.copyfile(self.folder / "verdicts.pristine", self.verdicts / VALIDATION_CACHE_FILE)

    def restore(self) -> None:
        for name in ("erp", "store"):
            if self.kind == "sqlite":
                for suffix in ("-wal", "-shm"):
                    Path(f"{self.folder / name}.sqlite{suffix}").unlink(missing_ok=True)
                shutil.copyfile(self.folder / f"{name}.pristine", self.folder / f"{name}.sqlite")
            else:
                self._admin(
                    [
                        f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{self.prefix}_{name}" '
                        f'TEMPLATE "{self.prefix}_{name}_pristine"',
                    ]
                )


def build(backend: Backend, contracts: int, items: int) -> float:
    started = time.perf_counter()
    backend.fresh()
    erp, store = make_engine(backend.url("erp")), make_engine(backend.url("store"))
    upgrade(store)
    seed(erp, store, companies=1, contracts=contracts, items_per_contract=items, seed=7)
    erp.dispose()
    store.dispose()
    # The sync of the hour before, on the unedited company: every scenario starts from the
    # audit records and the kept verdicts it leaves, as an hourly sync does.
    shutil.rmtree(backend.verdicts, ignore_errors=True)
    measure(backend, "warm")
    backend.keep_pristine()
    backend.keep_verdicts()
    return time.perf_counter() - started


def measure(backend: Backend, mode: str, memory: bool = False) -> dict:
    """One run of `mode` (bench/once.py) in a process of its own; with `memory`, the run
    that measures memory growth (each stage starting with the allocator's free memory
    given back), whose times are not reported."""
    if mode == "kept":
        backend.restore_verdicts()
    command = [sys.executable, "-m", "bench.once", backend.url("erp"), backend.url("store"), mode]
    command.append(str(backend.verdicts))
    command += ["--memory"] if memory else []
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=HERE.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prefect_overhead(backend: Backend) -> float:
    """End-to-end flow time minus the same work without Prefect: one run, nothing edited."""
    code = (
        "import time, os; t = time.perf_counter();"
        "from contract_sync_flows.reimport import reimport_main_contracts;"
        "reimport_main_contracts(company=1, requested_by='admin');"
        "print(time.perf_counter() - t)"
    )
    env = {
        **os.environ,
        "CONTRACT_SYNC_ERP_URL": backend.url("erp"),
        "CONTRACT_SYNC_STORE_URL": backend.url("store"),
        "CONTRACT_SYNC_DATA_DOCS": "false",  # as in the measured runs
        "PREFECT_HOME": str(backend.folder / "prefect"),
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    backend.restore()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=HERE.parent
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    with_prefect = float(done.stdout.strip().splitlines()[-1])
    backend.restore()
    without = measure(backend, "changed")["total"]
    return with_prefect - without


def run(args: argparse.Namespace) -> dict:
    folder = args.data_dir / f"{args.backend}-{args.contracts}x{args.items_per_contract}"
    backend = Backend(args.backend, folder, args.postgres_url)
    console.print(
        f"building {args.contracts:,} contracts x {args.items_per_contract} items "
        f"on {args.backend} ..."
    )
    build_seconds = build(backend, args.contracts, args.items_per_contract)
    results = {"floor": [], **{name: [] for name in SCENARIOS}}
    for _ in range(args.repeat):
        if args.floor:
            results["floor"].append(measure_scenario(backend, "floor"))
        for name in SCENARIOS:
            results[name].append(measure_scenario(backend, name))
    # The compare's memory growth against the keyed diff's, each measured once more apart.
    grown = ["floor", GROWTH_SCENARIO] if args.floor else []
    memory_runs = {name: measure_scenario(backend, name, memory=True) for name in grown}
    overhead = prefect_overhead(backend) if args.prefect else None
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": args.backend,
        "contracts": args.contracts,
        "items_per_contract": args.items_per_contract,
        "items": args.contracts * args.items_per_contract,
        "repeat": args.repeat,
        "build_seconds": build_seconds,
        "prefect_overhead_seconds": overhead,
        "runs": results,
        "memory_runs": memory_runs,
    }


def measure_scenario(backend: Backend, name: str, memory: bool = False) -> dict:
    """The floor or a scenario of SCENARIOS, measured on the restored company with the
    scenario's share of contracts edited in the ERP."""
    fraction, mode = SCENARIOS.get(name, (0.0, name))
    backend.restore()
    if fraction:
        erp = make_engine(backend.url("erp"))
        edit_erp(erp, 1, fraction, seed=11)
        erp.dispose()
    return measure(backend, mode, memory)


def report(result: dict) -> Table:
    floor = median(result["runs"]["floor"], "total") if result["runs"]["floor"] else None
    items = result["items"]
    table = Table(
        title=f"{result['contracts']:,} contracts x {result['items_per_contract']} "
        f"items on {result['backend']} (medians of {result['repeat']})"
    )
    for column in [
        "scenario",
        "seconds",
        "x floor",
        "items/s",
        "peak MB",
        "compared",
        "reimported",
        "slowest stages",
    ]:
        table.add_column(
            column, justify="left" if column in ("scenario", "slowest stages") else "right"
        )
    for name, runs in result["runs"].items():
        if not runs:
            continue
        total = median(runs, "total")
        stages = sorted(stage_medians(runs).items(), key=lambda kv: -kv[1])[:4]
        table.add_row(
            name,
            f"{total:.2f}",
            f"{total / floor:.2f}" if floor else "",
            f"{items / total:,.0f}",
            f"{median(runs, 'peak_rss_mb'):,.0f}",
            str(runs[0].get("compared_contracts", "")),
            str(runs[0].get("outcomes", {}).get("reimported", "")),
            ", ".join(f"{s} {t:.2f}" for s, t in stages),
        )
    return table


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=5000)
    parser.add_argument("--items-per-contract", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CONTRACT_SYNC_TEST_POSTGRES_URL"),
        help="superuser URL for --backend postgresql",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data-dir", type=Path, default=HERE / "data", help="where the generated databases go"
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the read floor (it holds the whole ERP and store in memory)",
    )
    parser.add_argument(
        "--peak-against",
        type=Path,
        help="a results file at a smaller scale: report the peak memory against its peak",
    )
    history.add_keep_option(parser)
    parser.add_argument(
        "--no-prefect",
        dest="prefect",
        action="store_false",
        help="skip measuring Prefect's own start-up",
    )
    args = parser.parse_args(argv)
    if args.backend == "postgresql" and not args.postgres_url:
        parser.error(
            "--backend postgresql needs --postgres-url (or CONTRACT_SYNC_TEST_POSTGRES_URL)"
        )
    return args


def _table(figures: list[Figure]) -> Table:
    table = Table(title="Against the floors")
    for column in ["figure", "measured", "floor", "ratio", "target"]:
        table.add_column(column, justify="left" if column == "figure" else "right")
    for figure in figures:
        table.add_row(
            figure.label,
            f"{figure.measured:.2f}",
            "" if figure.base is None else f"{figure.base:.2f}",
            "" if figure.ratio is None else f"{figure.ratio:.2f}",
            f"{figure.target or ''}",
        )
    return table


def targets(result: dict, smaller: dict | None = None) -> Table:
    """Each figure against its floor: the full refresh's compare against a plain keyed diff
    of the same frames (seconds, then memory growth), and a sync against reading the ERP
    alone; then the peak memory (against a smaller scale's when given), apply per contract."""
    table = _table(floor_figures(result) + memory_figures(result, smaller))
    applied = apply_of_edited(result)
    if applied:  # a target of its own: milliseconds of apply per contract written
        table.add_row(
            f"apply per re-imported contract (c: {applied.written} written)",
            f"{applied.seconds:.2f}",
            "",
            f"{applied.ms_per_contract:.1f} ms",
            f"{APPLY_MS_TARGET} ms",
        )
    return table


def main() -> None:
    args = parse()
    result = run(args)
    console.print(report(result))
    smaller = json.loads(args.peak_against.read_text()) if args.peak_against else None
    console.print(targets(result, smaller))
    if result["prefect_overhead_seconds"] is not None:
        console.print(
            f"Prefect's own cost for one flow run (start-up, task runs): "
            f"{result['prefect_overhead_seconds']:.1f} s, not in the figures above"
        )
    out = history.record(result, "sync", HERE / "results", keep=args.keep)
    console.print(f"results: {out}; a line added to {history.history_path()}")


if __name__ == "__main__":
    main()
