"""Every failure a user can meet, through the real command: one line naming the problem
and the fix, a non-zero exit, no traceback, and nothing left behind."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contract_sync.demo.export import write_files
from contract_sync.demo.seed import seed
from contract_sync.erp.vista import read_vista
from contract_sync.store.db import make_engine, upgrade
from tests.conftest import POSTGRES_URL, SMALL

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A seeded demo on SQLite, and a files export of it."""
    folder = tmp_path_factory.mktemp("demo")
    erp = make_engine(f"sqlite:///{folder / 'erp_vista.sqlite'}")
    store = make_engine(f"sqlite:///{folder / 'store.sqlite'}")
    upgrade(store)
    seed(erp, store, **SMALL)
    write_files(read_vista(erp, 1), folder / "export", "csv", "utf-8")
    erp.dispose()
    store.dispose()
    return folder


def _broken_export(demo: Path, tmp_path: Path, file: str, change) -> Path:  # noqa: ANN001
    folder = tmp_path / "export"
    shutil.copytree(demo / "export", folder)
    rows = list(csv.reader((folder / file).open(newline="")))
    change(rows)
    with (folder / file).open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    return folder


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACT_SYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "contract_sync_faces.cli", *args],
        env={**base, "COLUMNS": "200", "PYTHONPATH": str(PROJECT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cases(demo: Path, tmp_path: Path) -> dict[str, tuple[list[str], dict[str, str], list[str]]]:
    """name -> (arguments, settings, words the output must hold)."""
    data = {"CONTRACT_SYNC_DATA_DIR": str(demo)}
    made = iter(range(1000))

    def store(url: str) -> dict[str, str]:
        return {**data, "CONTRACT_SYNC_STORE_URL": url}

    def export(file: str, change) -> dict[str, str]:  # noqa: ANN001
        folder = _broken_export(demo, tmp_path / f"export-{next(made)}", file, change)
        files = {"CONTRACT_SYNC_ERP_CONNECTOR": "files", "CONTRACT_SYNC_ERP_FILES_DIR": str(folder)}
        return {**data, **files}

    def blank(column: int, row: int = 2):  # noqa: ANN202
        return lambda rows: rows[row].__setitem__(column, "")

    missing_file = f"sqlite:///{tmp_path / 'nope' / 'store.sqlite'}"
    cases = {
        "unknown connector": (
            ["sync"], {**data, "CONTRACT_SYNC_ERP_CONNECTOR": "bogus"},
            ["CONTRACT_SYNC_ERP_CONNECTOR", "vista", "files"],
        ),
        "unparsable store URL": (["sync"], store("not a url"), ["database URL", "not a url"]),
        "missing driver": (["ready"], store("mssql+pyodbc://u:secret@h/db"), ["pyodbc", "***"]),
        "unreachable store": (
            ["sync"], store("postgresql+psycopg://u@127.0.0.1:1/x"),
            ["cannot reach the project store", "127.0.0.1:1"],
        ),
        "missing store file": (["sync"], store(missing_file), ["no database file", "db upgrade"]),
        "store not upgraded": (
            ["sync"], store(f"sqlite:///{demo / 'erp_vista.sqlite'}"),
            ["not initialised", "db upgrade"],
        ),
        "unknown user": (["sync", "--as", "ADMIN"], data, ["'ADMIN'", "not a user", "recorded"]),
        "unknown company": (["sync", "--company", "99"], data, ["company 99"]),
        "unknown user's list": (["ready", "--as", "nobody"], data, ["'nobody'", "not a user"]),
        "import --all as nobody": (["import", "--all", "--as", "admn"], data, ["'admn'"]),
        "unknown project": (["ready", "--project", "NOPE"], data, ["project NOPE"]),
        "directory on a missing store": (
            ["directory", "export"], store(missing_file), ["no database file"],
        ),
        "demo too small": (
            ["demo", "seed", "--contracts", "4"], data, ["at least 8 contracts"],
        ),
        "unknown contract": (["diff", "24001"], data, ["'24001'", "nearest", "24001-"]),
        "bad policy": (["sync", "--policy", "always_erp"], data, ["--policy", "erp_wins"]),
        "bad date": (["audit", "report", "--since", "May 1"], data, ["May 1", "YYYY-MM-DD"]),
        "blank contract in contracts.csv": (
            ["sync"], export("contracts.csv", blank(1)),
            ["contracts.csv line 3", "Contract", "blank"],
        ),
        "contract twice in contracts.csv": (
            ["sync"], export("contracts.csv", lambda r: r.append(r[2])),
            ["contracts.csv lines 3,", "given 2 times"],
        ),
        "blank contract in items.csv": (
            ["sync"], export("items.csv", blank(1, 4)), ["items.csv line 5", "Contract", "blank"],
        ),
        "short row in items.csv": (
            ["sync"], export("items.csv", lambda r: r[6].pop()), ["items.csv line 7", "fields"],
        ),
        "bad number in items.csv": (
            ["sync"], export("items.csv", lambda r: r[3].__setitem__(9, "12.3.4")),
            ["items.csv", "12.3.4"],
        ),
    }  # fmt: skip
    if POSTGRES_URL:
        missing = POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_database_here"
        cases["missing PostgreSQL database"] = (["sync"], store(missing), ["no_such_database"])
    return cases


def test_every_failure_is_one_line_without_a_traceback(demo, tmp_path):
    failed = {}
    for name, (args, env, words) in _cases(demo, tmp_path).items():
        done = _run(args, env, tmp_path)
        shown = done.stdout + done.stderr
        error = [line for line in shown.splitlines() if line.startswith(("error:", "Error:"))]
        if (
            done.returncode == 0
            or "Traceback" in shown
            or len(error) != 1
            or not all(w in shown for w in words)
        ):
            failed[name] = (done.returncode, shown[-600:])
    assert failed == {}
    assert not (tmp_path / "nope").exists()  # a wrong SQLite path leaves no empty file


def test_debug_shows_the_traceback(demo, tmp_path):
    settings = {"CONTRACT_SYNC_DATA_DIR": str(demo), "CONTRACT_SYNC_STORE_URL": "not a url"}
    done = _run(["sync", "--debug"], settings, tmp_path)
    assert done.returncode != 0 and "Traceback" in done.stdout + done.stderr
