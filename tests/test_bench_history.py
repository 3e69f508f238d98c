"""The benchmarks' history (bench/history.py): a stored result backfills to its line, each
benchmark's result gives its line, and a run adds exactly one line to the history it is
given, never to the committed one."""

from __future__ import annotations

import shutil
import sys

import pytest

from bench import audit_year, history
from contract_sync.store import writes

CITED = history.HERE / "results" / history.CITED
SYNC_RESULT = CITED / "2026-11-27T073127-sqlite-5000x200.json"
SYNC_LINE = (
    "2026-11-27T073127\tsync\tsqlite\t5000x200\tcd33b4c\trepeat=3 floor=14.48 a=7.43 b=6.59"
    " c=11.82 d=27.89 a'=6.34 b'=5.56 compare/diff=0.99(1.5) b'/erp=1.11(1.15)"
    " a'/erp=1.27(1.5) b/erp=1.32 a/erp=1.49 growth/diff=0.12(1.2) apply_ms=1.9(3)"
    " peak_mb=734(1000)"
)
# The same result's line as a backfill gives it today: issue 32 set the compare's target to
# 1.2 and added the full refresh's validate against its largest other stage.
SYNC_LINE_NOW = (
    "2026-11-27T073127\tsync\tsqlite\t5000x200\tcd33b4c\trepeat=3 floor=14.48 a=7.43 b=6.59"
    " c=11.82 d=27.89 a'=6.34 b'=5.56 compare/diff=0.99(1.2) b'/erp=1.11(1.15)"
    " a'/erp=1.27(1.5) b/erp=1.32 a/erp=1.49 d/validate=2.04(1) growth/diff=0.12(1.2)"
    " apply_ms=1.9(3) peak_mb=734(1000)"
)
CLI = {
    "when": "2026-11-26T14:31:01+00:00",
    "repeat": 3,
    "medians": {
        "reimport one, new content": 4.3442,
        "ready": 1.1068,
        "reimport one": 1.1816,
        "make demo again": 6.7593,
    },
}
SERVED = {
    "when": "2026-11-26T17:34:31+00:00",
    "contracts": 1000,
    "items_per_contract": 200,
    "runs": [
        {"wall": wall, "pickup": pickup, "start": start, "flow": flow, "run": run}
        | {"around the run": around, "task runs": 9, "artifacts": 3, "artifact bytes": 4024}
        for wall, pickup, start, flow, run, around in [
            (6.634, 0.848, 3.256, 2.359, 1.819, 0.54),
            (5.745, 0.548, 3.114, 1.971, 1.57, 0.401),
            (6.422, 1.056, 2.71, 2.58, 1.968, 0.612),
        ]
    ],
    "without prefect": [2.955, 2.694, 2.943],
}
AUDIT_YEAR = {
    "when": "2026-11-26T15:50:58+00:00",
    "backend": "postgresql",
    "hours": 8760,
    "contracts": 5000,
    "audit_records": 565578,
    "bytes": 221044071,
    "seconds": {
        "write the year": 211.1,
        "audit report (whole year)": 5.08,
        "last checked (one contract)": 0.022,
        "audit verify": 17.0,
    },
    "verify": "intact, head 565578",
}
LINES = {
    "cli": "2026-11-26T143101\tcli\tsqlite\t32x12\tdcfb0e2\trepeat=3 reimport_new=4.34"
    " ready=1.11 reimport_one=1.18 demo_again=6.76",
    "served": "2026-11-26T173431\tserved\tsqlite\t1000x200\t4f59c32\truns=3 wall=6.42"
    " pickup=0.85 start=3.11 flow=2.36 run=1.82 around_the_run=0.54 task_runs=9 artifacts=3"
    " artifact_bytes=4024 without=2.94 prefect=3.48",
    "audit-year": "2026-11-26T155058\taudit-year\tpostgresql\t5000\t30cb6c2\thours=8760"
    " records=565578 db_mb=210.8 write=211.1 report=5.08 last_checked=0.022 verify=17"
    " verified=intact",
}


def _committed_lines() -> list[str]:
    return history.HISTORY.read_text().splitlines()


def test_the_backfill_of_a_stored_result_gives_its_line(tmp_path):
    """Its figures as the terminal's tables give them, the commit the last before the run;
    the committed history holds its line with the same measures (the targets of its day),
    and a second backfill adds nothing."""
    results, path = tmp_path / "results", tmp_path / "history.tsv"
    results.mkdir()
    shutil.copy(SYNC_RESULT, results)
    assert history.backfill(results, path) == 1
    assert path.read_text().splitlines() == ["\t".join(history.COLUMNS), SYNC_LINE_NOW]
    assert SYNC_LINE in _committed_lines()
    then, now = (history.parse_row(line)["figures"] for line in (SYNC_LINE, SYNC_LINE_NOW))
    assert {key: value.split("(")[0] for key, value in then.items()} == {
        key: value.split("(")[0] for key, value in now.items() if key in then
    }
    assert history.backfill(results, path) == 0


@pytest.mark.parametrize(
    ("bench", "result"), [("cli", CLI), ("served", SERVED), ("audit-year", AUDIT_YEAR)]
)
def test_each_benchmark_gives_its_line(bench, result):
    """The results of the command line's, the served and the audit year's benchmarks, as
    the committed history holds them."""
    commit = LINES[bench].split("\t")[4]
    assert history.row(result, bench, commit) == LINES[bench]
    assert LINES[bench] in _committed_lines()


def test_a_result_file_names_its_benchmark():
    names = {
        "2026-11-27T073127-sqlite-5000x200.json": "sync",
        "2026-11-26T143101-cli.json": "cli",
        "2026-11-26T173431-served.json": "served",
        "2026-11-26T155058-audit-year-postgresql.json": "audit-year",
    }
    assert {name: history.bench_of(name) for name in names} == names
    assert (
        history.result_name(AUDIT_YEAR, "audit-year")
        == "2026-11-26T155058-audit-year-postgresql.json"
    )


def test_a_history_line_reads_back_as_its_columns():
    fields = history.parse_row(SYNC_LINE)
    expected = ["2026-11-27T073127", "sync", "sqlite", "5000x200", "cd33b4c"]
    assert [fields[column] for column in history.COLUMNS[:-1]] == expected
    assert fields["figures"]["b'/erp"] == "1.11(1.15)"
    assert len(fields["figures"]) == 16


def test_a_run_adds_one_line_to_the_history_it_is_given(tmp_path, monkeypatch):
    """A small audit year: its JSON in the results folder, one line in BENCH_HISTORY."""
    path = tmp_path / "history.tsv"
    monkeypatch.setenv(history.HISTORY_VARIABLE, str(path))
    monkeypatch.setattr(audit_year, "HERE", tmp_path)
    monkeypatch.setattr(writes, "now", writes.now)  # the run sets its simulated clock
    monkeypatch.setattr(sys, "argv", ["audit_year", "--hours", "3", "--contracts", "20"])
    committed = _committed_lines()
    audit_year.main()

    [written] = (tmp_path / "results").glob("*.json")
    header, line = path.read_text().splitlines()
    fields = history.parse_row(line)
    assert written.name == f"{fields['when']}-audit-year-sqlite.json"
    assert (fields["bench"], fields["backend"], fields["size"]) == ("audit-year", "sqlite", "20")
    assert fields["figures"]["hours"] == "3" and fields["figures"]["verified"] == "intact"
    assert _committed_lines() == committed


def test_keep_writes_the_full_json_among_the_cited(tmp_path, monkeypatch):
    monkeypatch.setenv(history.HISTORY_VARIABLE, str(tmp_path / "history.tsv"))
    written = history.record(CLI, "cli", tmp_path / "results", keep=True)
    assert written == tmp_path / "results" / "cited" / "2026-11-26T143101-cli.json"
    assert (tmp_path / "history.tsv").read_text().count("\n") == 2
