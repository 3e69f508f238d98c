"""Every failure a user can meet, through the real command: one line naming the problem
and the fix, a non-zero exit, no traceback, and nothing left behind."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contract_sync.demo.export import write_files
from contract_sync.demo.seed import seed
from contract_sync.erp.vista import read_vista
from contract_sync.settings import get_settings
from contract_sync.store.db import make_engine, upgrade
from contract_sync_faces.cli import main
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


Change = Callable[[list[list[str]]], None]  # edits the rows of an export file in place


def _broken_export(demo: Path, tmp_path: Path, file: str, change: Change) -> Path:
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


@dataclass(frozen=True)
class Case:
    """A failing command: its arguments, the words its output must hold, its settings
    (beside the demo's data folder; `{demo}` and `{tmp}` name the two folders) and, for
    the files connector, the export file it breaks and how."""

    args: list[str]
    words: list[str]
    settings: dict[str, str] = field(default_factory=dict)
    broken: tuple[str, Change] | None = None


def _store(url: str) -> dict[str, str]:
    return {"CONTRACT_SYNC_STORE_URL": url}


def _blank(column: int, row: int = 2) -> Change:
    return lambda rows: rows[row].__setitem__(column, "")


MISSING_FILE = "sqlite:///{tmp}/nope/store.sqlite"
CASES = {
    "unknown connector": Case(
        ["sync"], ["CONTRACT_SYNC_ERP_CONNECTOR", "vista", "files"],
        {"CONTRACT_SYNC_ERP_CONNECTOR": "bogus"},
    ),
    "unparsable store URL": Case(["sync"], ["database URL", "not a url"], _store("not a url")),
    "missing driver": Case(["ready"], ["pyodbc", "***"], _store("mssql+pyodbc://u:secret@h/db")),
    "unreachable store": Case(
        ["sync"], ["cannot reach the project store", "127.0.0.1:1"],
        _store("postgresql+psycopg://u@127.0.0.1:1/x"),
    ),
    "missing store file": Case(["sync"], ["no database file", "db upgrade"], _store(MISSING_FILE)),
    "store not upgraded": Case(
        ["sync"], ["not initialised", "db upgrade"], _store("sqlite:///{demo}/erp_vista.sqlite"),
    ),
    "unknown user": Case(["sync", "--as", "ADMIN"], ["'ADMIN'", "not a user", "recorded"]),
    "unknown company": Case(["sync", "--company", "99"], ["company 99"]),
    "unknown user's list": Case(
        ["ready", "--as", "nobody"], ["'nobody'", "not a user", "act as one of its logins"]
    ),
    "import --all as nobody": Case(["import", "--all", "--as", "admn"], ["'admn'"]),
    "unknown project": Case(["ready", "--project", "NOPE"], ["project NOPE"]),
    "directory on a missing store": Case(
        ["directory", "export"], ["no database file"], _store(MISSING_FILE),
    ),
    "demo too small": Case(["demo", "seed", "--contracts", "4"], ["at least 8 contracts"]),
    "unknown contract": Case(["diff", "24001"], ["'24001'", "nearest", "24001-"]),
    "bad policy": Case(["sync", "--policy", "always_erp"], ["--policy", "erp_wins"]),
    "bad date": Case(["audit", "report", "--since", "May 1"], ["May 1", "YYYY-MM-DD"]),
    "blank contract in contracts.csv": Case(
        ["sync"], ["contracts.csv line 3", "Contract", "blank"],
        broken=("contracts.csv", _blank(1)),
    ),
    "contract twice in contracts.csv": Case(
        ["sync"], ["contracts.csv lines 3,", "given 2 times"],
        broken=("contracts.csv", lambda rows: rows.append(rows[2])),
    ),
    "blank contract in items.csv": Case(
        ["sync"], ["items.csv line 5", "Contract", "blank"], broken=("items.csv", _blank(1, 4)),
    ),
    "short row in items.csv": Case(
        ["sync"], ["items.csv line 7", "fields"], broken=("items.csv", lambda rows: rows[6].pop()),
    ),
}  # fmt: skip
if POSTGRES_URL:
    CASES["missing PostgreSQL database"] = Case(
        ["sync"],
        ["no_such_database"],
        _store(POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_database_here"),
    )


def _settings(case: Case, demo: Path, tmp_path: Path) -> dict[str, str]:
    """The case's settings, its folders filled in, with its broken export if it has one."""
    settings = {"CONTRACT_SYNC_DATA_DIR": str(demo)}
    settings |= {k: v.format(demo=demo, tmp=tmp_path) for k, v in case.settings.items()}
    if case.broken:
        folder = _broken_export(demo, tmp_path, *case.broken)
        settings |= {
            "CONTRACT_SYNC_ERP_CONNECTOR": "files",
            "CONTRACT_SYNC_ERP_FILES_DIR": str(folder),
        }
    return settings


@pytest.mark.parametrize("name", list(CASES))
def test_every_failure_is_one_line_without_a_traceback(demo, tmp_path, name):
    case = CASES[name]
    done = _run(case.args, _settings(case, demo, tmp_path), tmp_path)
    shown = done.stdout + done.stderr
    error = [line for line in shown.splitlines() if line.startswith(("error:", "Error:"))]
    assert done.returncode != 0, shown[-600:]
    assert "Traceback" not in shown and len(error) == 1, shown[-600:]
    assert [w for w in case.words if w not in shown] == [], shown[-600:]
    assert not (tmp_path / "nope").exists()  # a wrong SQLite path leaves no empty file


def test_debug_shows_the_traceback(demo, tmp_path):
    settings = {"CONTRACT_SYNC_DATA_DIR": str(demo), "CONTRACT_SYNC_STORE_URL": "not a url"}
    done = _run(["sync", "--debug"], settings, tmp_path)
    assert done.returncode != 0 and "Traceback" in done.stdout + done.stderr


# The failures below run the console entry in this process (`main()`, which the
# `contract-sync` script calls before its exit), which is what the user reads without a
# process's start each time.


@pytest.fixture
def contract_sync(monkeypatch, capsys, tmp_path) -> Callable[..., tuple[int, list[str]]]:
    """`contract-sync ARGS` with these settings (data_dir in tmp_path unless given): its exit
    code and the lines it shows."""

    def run(args: list[str], **settings: str) -> tuple[int, list[str]]:
        for name in [k for k in os.environ if k.startswith("CONTRACT_SYNC_")]:
            monkeypatch.delenv(name)
        settings = {"data_dir": str(tmp_path / "data"), **settings}
        for name, value in settings.items():
            monkeypatch.setenv(f"CONTRACT_SYNC_{name.upper()}", value)
        monkeypatch.setattr(sys, "argv", ["contract-sync", *args])
        get_settings.cache_clear()
        try:
            with pytest.raises(SystemExit) as done:
                main()
        finally:
            get_settings.cache_clear()
        shown = capsys.readouterr()
        return done.value.code, (shown.out + shown.err).splitlines()

    return run


def _a_file(tmp_path: Path) -> Path:
    """A file where a folder is expected."""
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


def test_db_upgrade_on_an_unreachable_postgresql_is_one_line(contract_sync):
    url = "postgresql+psycopg://u@127.0.0.1:1/x"
    assert contract_sync(["db", "upgrade"], store_url=url) == (
        1,
        [
            f"error: cannot reach the project store at {url}: connection failed: connection "
            'to server at "127.0.0.1", port 1 failed: Connection refused'
        ],
    )


def test_a_sqlite_store_whose_folder_cannot_be_made_is_one_line(contract_sync, tmp_path):
    blocked = _a_file(tmp_path)
    url = f"sqlite:///{blocked / 'store.sqlite'}"
    assert contract_sync(["db", "upgrade"], store_url=url) == (
        1,
        [
            f"error: cannot make the folder of the SQLite database {blocked / 'store.sqlite'}: "
            f"{blocked} is not a folder"
        ],
    )


def test_demo_seed_before_db_upgrade_is_one_line_and_makes_no_file(contract_sync, tmp_path):
    data = tmp_path / "data"
    assert contract_sync(["demo", "seed"]) == (
        1,
        [
            f"error: no database file at {data / 'store.sqlite'}: check the URL "
            "(CONTRACT_SYNC_ERP_URL, CONTRACT_SYNC_STORE_URL), or create the project store "
            "with `contract-sync db upgrade`"
        ],
    )
    assert not data.exists()


def test_demo_edit_before_demo_seed_is_one_line_and_makes_no_file(contract_sync, tmp_path):
    data = tmp_path / "data"
    assert contract_sync(["demo", "edit-erp", "--fraction", "0.5"]) == (
        1,
        [f"error: no ERP database at {data / 'erp_vista.sqlite'}: `contract-sync demo seed` "
         "makes the demo's"],
    )  # fmt: skip
    assert not data.exists()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["audit", "report", "--format", "csv", "--output", "{missing}/report.csv"],
         "cannot write {missing}/report.csv: there is no folder {missing}"),
        (["audit", "report", "--format", "html", "--output", "{blocked}/report.html"],
         "cannot write {blocked}/report.html: {blocked} is not a folder"),
        (["audit", "report", "--format", "csv", "--output", "{folder}"],
         "cannot write {folder}: it is a folder: give the name of a file"),
        (["directory", "export", "--output", "{missing}/directory.yaml"],
         "cannot write {missing}/directory.yaml: there is no folder {missing}"),
        (["demo", "export-files", "--to", "{blocked}/export"],
         "cannot make the folder {blocked}/export: {blocked} is not a folder"),
    ],
)  # fmt: skip
def test_an_output_path_that_cannot_be_written_is_one_line(
    contract_sync, demo, tmp_path, args, shown
):
    paths = {"missing": tmp_path / "missing", "blocked": _a_file(tmp_path), "folder": tmp_path}
    before = sorted(tmp_path.rglob("*"))
    done = contract_sync([a.format(**paths) for a in args], data_dir=str(demo))
    assert done == (1, [f"error: {shown.format(**paths)}"])
    assert sorted(tmp_path.rglob("*")) == before  # nothing left behind


def test_an_output_cut_short_leaves_no_half_written_file(demo, tmp_path):
    """The file system refuses the write beyond 1 KB (a full disk, a quota): the export is
    two and a half, and what was written of it goes."""
    import resource
    import signal
    import sqlite3

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    output = tmp_path / "directory.yaml"
    # The store's WAL index (32 KB) made here, at its full size, and kept while the command
    # runs: a connection that never reads makes none, and the command's own would pass 1 KB.
    with sqlite3.connect(demo / "store.sqlite") as store:
        store.execute("SELECT count(*) FROM sqlite_master").fetchone()
        done = subprocess.run(
            [sys.executable, "-m", "contract_sync_faces.cli", "directory", "export",
             "--output", str(output)],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("CONTRACT_SYNC_")},
                 "CONTRACT_SYNC_DATA_DIR": str(demo), "PYTHONDONTWRITEBYTECODE": "1",
                 "PYTHONPATH": str(PROJECT)},
            preexec_fn=limited, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert (done.returncode, done.stdout.splitlines(), done.stderr) == (
        1,
        [f"error: cannot write {output}: File too large"],
        "",
    )
    assert list(tmp_path.iterdir()) == []


def test_web_on_a_port_out_of_range_is_one_line(contract_sync):
    assert contract_sync(["web", "--port", "99999"]) == (
        1,
        ["error: port 99999 is not a TCP port: give --port (or CONTRACT_SYNC_WEB_PORT) 1 to 65535"],
    )


def test_web_on_a_port_in_use_is_one_line(contract_sync):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert contract_sync(["web", "--port", str(port)]) == (
            1,
            [
                f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
                "(give another --port or --host)"
            ],
        )


def test_verify_reports_a_renamed_audit_table_as_a_finding(contract_sync, demo, tmp_path):
    import sqlite3

    copy = tmp_path / "store.sqlite"
    with sqlite3.connect(demo / "store.sqlite") as live, sqlite3.connect(copy) as target:
        live.backup(target)
        target.execute("ALTER TABLE audit_changes RENAME TO audit_changes_old")
    assert contract_sync(["audit", "verify"], store_url=f"sqlite:///{copy}") == (
        1,
        ["error: the audit log is not intact: the audit table audit_changes is missing: "
         "renamed or dropped"],
    )  # fmt: skip
