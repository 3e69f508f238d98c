"""The command line's wall time on the demo, as a person meets it: `python -m bench.cli`
(or `make bench-cli`). Each command is a fresh process, timed from start to exit;
medians of --repeat runs. Targets: `ready` and `reimport ONE` 3 s or less, the steps of
`make demo` on an existing demo 15 s or less. A contract whose content was never validated
is measured apart, each run after an edit of one of its items' descriptions in the ERP: it
pays for loading Great Expectations and running the suites, then writes the change. Adds
the run's line to the history (bench/history.py) and writes its full JSON to
bench/results/."""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from bench import history

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "contract_sync_faces.cli"]
DEMO = [  # the steps of `make demo`, on data that is already there
    ["db", "upgrade"],
    ["demo", "seed", "--contracts", "16", "--items-per-contract", "12", "--skip-existing"],
    ["demo", "edit-erp", "--fraction", "0.4"],
    ["sync", "--company", "1", "--company", "2"],
]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"contract-sync {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def new_content(erp: Path, contract: str) -> None:
    """An edit in the ERP: the first item of `contract` gets a description it never had."""
    with closing(sqlite3.connect(erp)) as connection, connection:
        edited = connection.execute(
            "UPDATE JCCI SET Description = ? WHERE Contract = ? AND Item = "
            "(SELECT min(Item) FROM JCCI WHERE Contract = ?)",
            (f"edited {uuid.uuid4().hex[:8]}", contract, contract),
        ).rowcount
    if edited != 1:
        raise RuntimeError(f"contract {contract} has no item in {erp}: nothing new to measure")


def run(repeat: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="contract-sync-bench-cli-"))
    env = {**os.environ, "CONTRACT_SYNC_DATA_DIR": str(folder), "COLUMNS": "200"}
    for key in ("CONTRACT_SYNC_ERP_URL", "CONTRACT_SYNC_STORE_URL", "PREFECT_API_URL"):
        env.pop(key, None)
    for step in DEMO:  # the first demo: not measured
        timed(step, env)
    figures: dict[str, list[float]] = {
        "reimport one, new content": [],
        "ready": [],
        "reimport one": [],
        "make demo again": [],
    }
    for _ in range(repeat):
        new_content(folder / "erp_vista.sqlite", "24016-")  # never validated: GX loads and runs
        figures["reimport one, new content"].append(
            timed(["reimport", "24016-", "--as", "admin"], env)
        )
        figures["ready"].append(timed(["ready"], env))
        figures["reimport one"].append(timed(["reimport", "24008-", "--as", "admin"], env))
        figures["make demo again"].append(sum(timed(step, env) for step in DEMO))
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": repeat,
        "seconds": figures,
        "medians": {name: statistics.median(runs) for name, runs in figures.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    history.add_keep_option(parser)
    args = parser.parse_args()
    result = run(args.repeat)
    for name, seconds in result["medians"].items():
        runs = len(result["seconds"][name])
        print(f"{name:26} {seconds:6.2f} s" + (f" (median of {runs})" if runs > 1 else ""))
    out = history.record(result, "cli", HERE / "results", keep=args.keep)
    print(f"results: {out}; a line added to {history.history_path()}")


if __name__ == "__main__":
    main()
