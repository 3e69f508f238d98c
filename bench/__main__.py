"""Benchmark at company scale: `python -m bench [--contracts N] [--items-per-contract M]
[--backend sqlite|postgresql] [--repeat R]`, or `make bench` (5,000 x 200 = 1M items).

Builds the company once with the data generator (ERP and an imported store), runs the
sync of the hour before on it (its audit records and kept verdicts), keeps a pristine copy,
and for each scenario and repetition restores it, edits the ERP and runs one measured
process (bench/once.py). Reports medians per stage against the read floor,
end-to-end flow time with Prefect's start-up apart, rows per second and peak memory; then
each target against its floor (a full refresh's compare against a plain two-way keyed
diff of the same frames, a sync against reading the ERP alone); the compare's and the
diff's memory growth come from one more run of each that measures memory alone. Writes
JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

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
GROWTH_SCENARIO = "d: full refresh"  # its compare's memory growth is held against the diff's
APPLY_MS_TARGET = 3  # apply per re-imported contract in scenario c (issue 18)
PEAK_MB_TARGET = 1000  # a run's peak memory at 1M items (issue 18)
PEAK_GROWTH_TARGET = 1.2  # at a larger scale, against the peak at 1M
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


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def stage_medians(runs: list[dict]) -> dict[str, float]:
    names = {s for r in runs for s in r["stages"]}
    return {s: statistics.median(r["stages"].get(s, 0.0) for r in runs) for s in sorted(names)}


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


def _total(runs: dict, name: str, floor: dict) -> tuple[float, float, None]:
    """A scenario's total against reading the ERP, shown without a target."""
    return median(runs[name], "total"), floor["read ERP"], None


def growth_medians(runs: list[dict]) -> dict[str, float]:
    """Per stage, the median of its memory growth (MB; stages never measured left out)."""
    names = {s for r in runs for s in r.get("growth_mb", {})}
    return {s: statistics.median(r["growth_mb"].get(s, 0.0) for r in runs) for s in names}


def peak_mb(result: dict) -> float:
    """The largest median peak memory of any sync scenario (the floor left out)."""
    return max(
        median(runs, "peak_rss_mb") for name, runs in result["runs"].items() if name != "floor"
    )


def memory_rows(result: dict, smaller: dict | None) -> list[tuple]:
    target = PEAK_MB_TARGET if result["items"] == 1_000_000 else None
    rows = [("peak memory of any scenario, MB", peak_mb(result), None, target)]
    if smaller is not None:
        rows.append(
            (
                f"peak memory / its peak at {smaller['items']:,} items",
                peak_mb(result),
                peak_mb(smaller),
                PEAK_GROWTH_TARGET,
            )
        )
    return rows


def _table(rows: list[tuple]) -> Table:
    table = Table(title="Against the floors")
    for column in ["figure", "measured", "floor", "ratio", "target"]:
        table.add_column(column, justify="left" if column == "figure" else "right")
    for name, measured, base, target in rows:
        ratio = f"{measured / base:.2f}" if base else ""
        table.add_row(
            name, f"{measured:.2f}", "" if base is None else f"{base:.2f}", ratio, f"{target or ''}"
        )
    return table


def apart_runs(result: dict) -> list[dict]:
    """The runs that measured memory apart (none in files written before them)."""
    return list(result.get("memory_runs", {}).values())


def _floor_rows(result: dict) -> list[tuple]:
    runs = result["runs"]
    floor = stage_medians(runs["floor"])
    rows = [
        (
            "compare (full refresh) / keyed diff, s",
            stage_medians(runs[GROWTH_SCENARIO])["compare"],
            floor["keyed diff"],
            1.5,
        ),
        (
            "nothing edited, verdicts kept / read ERP, s",
            median(runs["b': nothing edited, verdicts kept"], "total"),
            floor["read ERP"],
            1.15,
        ),
        (
            "2% edited, verdicts kept / read ERP, s",
            median(runs["a': 2% edited, verdicts kept"], "total"),
            floor["read ERP"],
            1.5,
        ),
        ("nothing edited, all validated / read ERP, s", *_total(runs, "b: nothing edited", floor)),
        ("2% edited, all validated / read ERP, s", *_total(runs, "a: 2% edited", floor)),
    ]
    # Growth from the runs that measure memory apart; files written before them have none.
    apart = {name: [run] for name, run in result.get("memory_runs", {}).items()}
    grown = growth_medians(apart.get(GROWTH_SCENARIO, runs[GROWTH_SCENARIO]))
    floor_grown = growth_medians(apart.get("floor", runs["floor"]))
    untrimmed = any(not r.get("allocator_trimmed", True) for r in apart_runs(result))
    if "compare" in grown and floor_grown.get("keyed diff"):
        rows.append(
            (
                "compare (full refresh) / keyed diff, memory growth MB"
                + (" (free memory not given back: no glibc)" if untrimmed else ""),
                grown["compare"],
                floor_grown["keyed diff"],
                1.2,
            )
        )
    return rows


def targets(result: dict, smaller: dict | None = None) -> Table:
    """Each figure against its floor: the full refresh's compare against a plain keyed diff
    of the same frames (seconds, then memory growth), and a sync against reading the ERP
    alone; then the peak memory (against a smaller scale's when given), apply per contract."""
    runs = result["runs"]
    rows = _floor_rows(result) if runs["floor"] else []
    table = _table(rows + memory_rows(result, smaller))
    edited = runs["c: 10% edited"]
    written = edited[0].get("outcomes", {}).get("reimported", 0)
    if written:  # a target of its own: milliseconds of apply per contract written
        apply_seconds = stage_medians(edited)["apply"]
        table.add_row(
            f"apply per re-imported contract (c: {written} written)",
            f"{apply_seconds:.2f}",
            "",
            f"{1000 * apply_seconds / written:.1f} ms",
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
    out = (
        HERE
        / "results"
        / (
            f"{result['when'][:19].replace(':', '')}-{args.backend}-"
            f"{args.contracts}x{args.items_per_contract}.json"
        )
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
