"""A simulated year of hourly syncs of 5,000 contracts, written through the store's own
audit writers (start_run, insert_audit, finish_run, each chained): how big the audit log
grows, and how long `audit report`, `audit contract` and `audit verify` take over it.

Each hour EDITED contracts are re-imported, with FIELDS field changes each, and FLIPS
contracts change state (blocked, then up to date again); every other contract is found as
last recorded, and counted in the run's end instead of recorded (stages.plan.repeats).
The first hour records every contract once. The writers' clock is the simulated one.

python -m bench.audit_year [--backend sqlite|postgresql] [--hours 8760] [--contracts 5000]
[--keep]
(PostgreSQL: CONTRACT_SYNC_BENCH_POSTGRES_URL, a superuser URL; a database is made for it)
Adds the run's line to the history (bench/history.py) and writes its full JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench import history
from contract_sync.reports.audit import load_report
from contract_sync.store import chain, writes
from contract_sync.store import schema as s
from contract_sync.store.audit_log import AuditFilter, last_checked
from contract_sync.store.db import make_engine, upgrade
from contract_sync.vocabulary import Outcome, Reason, RunStatus

HERE = Path(__file__).resolve().parent
EDITED, FLIPS, FIELDS = 10, 2, 5
START = datetime(2025, 11, 26, tzinfo=UTC)


def _store(backend: str, folder: Path) -> tuple[sa.Engine, str]:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{folder / 'store.sqlite'}"), "sqlite"
    admin_url = os.environ["CONTRACT_SYNC_BENCH_POSTGRES_URL"]
    name = f"cs_bench_year_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name)
    return make_engine(url.render_as_string(hide_password=False)), name


def _size(engine: sa.Engine) -> int:
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(engine.url.database).stat().st_size
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()


def _audit(numbers: np.ndarray, outcome: str, reasons: str, hour: int) -> pd.DataFrame:
    n = len(numbers)
    zeros = np.zeros(n, dtype="int64")
    return pd.DataFrame(
        {
            "erp_company": 1,
            "contract_no": numbers,
            "project_id": pd.array([None] * n, dtype="Int64"),
            "contract_id": pd.array([None] * n, dtype="Int64"),
            "outcome": outcome,
            "reasons": reasons,
            "failed_expectations": [None] * n,
            "error": [None] * n,
            "items_added": zeros,
            "items_changed": zeros + (FIELDS if outcome == Outcome.reimported else 0),
            "items_removed": zeros,
            "items_unchanged": zeros + 200,
            "header_changes": zeros,
            "amount_before": zeros + 100_000_00,
            "amount_after": zeros + 100_000_00 + hour,
            "erp_hash": [f"{hour:016x}"] * n,
            "version_before": pd.array([None] * n, dtype="Int64"),
            "version_after": pd.array([None] * n, dtype="Int64"),
        }
    )


def _changes(numbers: np.ndarray, hour: int) -> pd.DataFrame:
    repeated = np.repeat(numbers, FIELDS)
    return pd.DataFrame(
        {
            "contract_no": repeated,
            "item_no": [str(i % FIELDS + 1) for i in range(len(repeated))],
            "change": "changed",
            "field": "amount",
            "before": "1000.00",
            "after": f"{1000 + hour}.00",
            "overwritten": False,
        }
    )


class SimulatedClock:
    """The writers' clock: the simulated hour, a millisecond later at each reading."""

    def __init__(self) -> None:
        self.hour, self.readings = START, 0

    def at(self, hour: int) -> None:
        self.hour, self.readings = START + timedelta(hours=hour), 0

    def now(self, _connection: sa.Connection | None = None) -> datetime:
        self.readings += 1
        return self.hour + timedelta(milliseconds=self.readings)


def simulate(engine: sa.Engine, hours: int, contracts: int, clock: SimulatedClock) -> None:
    with engine.begin() as connection:
        company_id = connection.execute(
            s.companies.insert().returning(s.companies.c.id), {"erp_company": 1, "name": "Bench"}
        ).scalar_one()
    numbers = np.array([f"{24000 + i}-" for i in range(contracts)], dtype=object)
    rng = np.random.default_rng(7)
    for hour in range(hours):
        clock.at(hour)
        run_id = str(uuid.uuid4())
        writes.start_run(
            engine,
            {
                "id": run_id,
                "company_id": company_id,
                "trigger": "scheduled",
                "deployment": "scheduled-sync",
                "actor": "sync-service",
                "parameters": {"contracts": None, "project": None},
                "dry_run": False,
            },
        )
        if hour == 0:
            audit = _audit(numbers, Outcome.up_to_date, Reason.no_updates, hour)
            changes = None
        else:
            picked = rng.choice(contracts, EDITED + FLIPS, replace=False)
            edited, flipped = numbers[picked[:EDITED]], numbers[picked[EDITED:]]
            blocked = hour % 2 == 0
            audit = pd.concat(
                [
                    _audit(edited, Outcome.reimported, "", hour),
                    _audit(
                        flipped,
                        Outcome.blocked if blocked else Outcome.up_to_date,
                        Reason.contract_unapproved if blocked else Reason.no_updates,
                        hour,
                    ),
                ],
                ignore_index=True,
            )
            changes = _changes(edited, hour)
        with writes.audit_transaction(engine) as connection:
            writes.insert_audit(connection, run_id, audit, changes)
        writes.finish_run(engine, run_id, RunStatus.completed, contracts - len(audit))
        if hour % 500 == 0:
            print(f"  hour {hour} of {hours}", flush=True)


def _timed(action):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run(backend: str, hours: int, contracts: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="contract-sync-bench-year-"))
    engine, where = _store(backend, folder)
    upgrade(engine)
    clock = SimulatedClock()
    writes.now = clock.now
    _, write_seconds = _timed(lambda: simulate(engine, hours, contracts, clock))
    with engine.connect() as connection:
        records = {
            table: connection.execute(
                sa.select(sa.func.count()).select_from(s.metadata.tables[table])
            ).scalar()
            for table in [*s.CHAINED, "audit_chain"]
        }
    report, report_seconds = _timed(lambda: load_report(engine, AuditFilter(company=1)))
    _, contract_seconds = _timed(lambda: last_checked(engine, 1, "24007-"))
    with engine.connect() as connection:
        verdict, verify_seconds = _timed(lambda: chain.verify(connection))
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "database": where,
        "hours": hours,
        "contracts": contracts,
        "contracts_checked": hours * contracts,
        "records": records,
        "audit_records": sum(v for k, v in records.items() if k != "audit_chain"),
        "bytes": _size(engine),
        "seconds": {
            "write the year": round(write_seconds, 1),
            "audit report (whole year)": round(report_seconds, 2),
            "last checked (one contract)": round(contract_seconds, 3),
            "audit verify": round(verify_seconds, 1),
        },
        "report_rows_listed": len(report.rows),
        "verify": verdict.problem or f"intact, head {verdict.head[0]}",
    }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit_year", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--hours", type=int, default=24 * 365)
    parser.add_argument("--contracts", type=int, default=5_000)
    history.add_keep_option(parser)
    arguments = parser.parse_args()
    result = run(arguments.backend, arguments.hours, arguments.contracts)
    print(json.dumps(result, indent=1))
    out = history.record(result, "audit-year", HERE / "results", keep=arguments.keep)
    print(f"results: {out}; a line added to {history.history_path()}")


if __name__ == "__main__":
    main()
