"""The benchmark at a small scale, so it cannot rot: outcome counts, every stage timed, the
figures of its table consistent with the runs, its JSON file and its line in the history."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench import history
from bench.__main__ import SCENARIOS, report, targets
from bench.once import TogetherPeak, _child_kb, _children_kb, _children_peak_kb, _status_kb
from contract_sync.demo.generator import EDGE_CASES

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
# The stages the run API times (contract_sync/run.py) and bench/once.py's read floor.
SYNC_STAGES = {
    "load state",
    "extract",
    "hash",
    "validate",
    "load items",
    "compare",
    "gate",
    "plan",
    "apply",
}
FLOOR_STAGES = {"read ERP", "read store", "keyed diff"}


def test_benchmark_runs_every_scenario_with_the_right_outcomes(tmp_path, monkeypatch):
    contracts, items_per_contract = 60, 5
    argv = ["--contracts", str(contracts), "--items-per-contract", str(items_per_contract)]
    argv += ["--repeat", "1", "--no-prefect", "--data-dir", str(tmp_path / "data")]
    monkeypatch.setattr(sys, "argv", ["bench", *argv])
    # main() writes its JSON to HERE/results and starts each measured process in HERE's
    # parent: both in tmp_path here, the processes importing bench from the project.
    monkeypatch.setattr(bench_main, "HERE", tmp_path / "bench")
    (tmp_path / "bench").mkdir()
    monkeypatch.setenv("PYTHONPATH", str(PROJECT))
    monkeypatch.setenv("BENCH_HISTORY", str(tmp_path / "history.tsv"))
    results = []

    def run(args):  # the real run, its result kept to compare with the file
        results.append(real_run(args))
        return results[-1]

    real_run = bench_main.run
    monkeypatch.setattr(bench_main, "run", run)
    bench_main.main()

    [result] = results
    [written] = (tmp_path / "bench" / "results").glob("*.json")
    stamp = result["when"][:19].replace(":", "")
    assert written.name == f"{stamp}-sqlite-{contracts}x{items_per_contract}.json"
    assert json.loads(written.read_text()) == result
    _assert_one_history_line(tmp_path / "history.tsv", result, f"{contracts}x{items_per_contract}")

    runs = {name: r[0] for name, r in result["runs"].items()}
    assert list(runs) == ["floor", *SCENARIOS]
    assert result["items"] == contracts * items_per_contract
    assert runs["floor"]["erp_items"] == contracts * items_per_contract
    # one contract never imported (-5 items), one imported into two projects (+5)
    assert runs["floor"]["store_items"] == contracts * items_per_contract
    regular = contracts - len(EDGE_CASES)
    for name, (fraction, _) in SCENARIOS.items():
        edited = math.ceil(fraction * regular)
        assert runs[name]["outcomes"].get("reimported", 0) == edited, name
        assert sum(runs[name]["outcomes"].values()) == contracts
        assert len(runs[name]["reimported"]) == edited
    single = contracts - 2  # the never-imported contract and the one in two projects
    assert runs["d: full refresh"]["compared_contracts"] >= single
    assert runs["b: nothing edited"]["compared_contracts"] < 10

    # Every stage timed, within the run's total.
    for name, measured in runs.items():
        stages = measured["stages"]
        assert set(stages) == (FLOOR_STAGES if name == "floor" else SYNC_STAGES), name
        assert all(seconds > 0 for seconds in stages.values()), (name, stages)
        assert sum(stages.values()) <= measured["total"], (name, stages, measured["total"])
        assert measured["peak_rss_mb"] > 0

    # The table: one row per scenario, its figures those of the runs.
    table = report(result)
    assert table.row_count == len(SCENARIOS) + 1
    cells = {column.header: list(column.cells) for column in table.columns}
    assert cells["scenario"] == list(runs)
    for row, name in enumerate(cells["scenario"]):
        total = runs[name]["total"]
        assert cells["seconds"][row] == shown(total)
        per_second = float(cells["items/s"][row].replace(",", ""))
        assert per_second == pytest.approx(result["items"] / total, abs=0.5), name
        times_floor = total / runs["floor"]["total"]
        assert cells["x floor"][row] == shown(times_floor), name
    assert cells["x floor"][0] == "1.00"

    # The targets, each figure against its floor; the keyed diff finds the ERP's edits.
    floors = targets(result)
    ratios = {column.header: list(column.cells) for column in floors.columns}
    compare = runs["d: full refresh"]["stages"]["compare"]
    assert ratios["figure"][0] == "compare (full refresh) / keyed diff, s"
    keyed = runs["floor"]["stages"]["keyed diff"]
    assert float(ratios["ratio"][0]) == pytest.approx(compare / keyed, rel=0.02)
    # Memory growth is measured where Linux lets a stage reset the peak (/proc/self/clear_refs).
    measured_growth = "compare" in runs["d: full refresh"]["growth_mb"]
    growth = ["1.2"] if measured_growth else []
    # With the `arrow` extra, the floor's ERP read through Arrow against it through rows, and
    # the nothing-edited sync against the latter; the store read so too, and the full
    # refresh against the floor read through rows.
    through_rows = ["", "0.4", "", "1.0"] if runs["floor"]["arrow_reads"] else []
    assert ratios["target"] == [
        *["1.2", "1.15", "1.5", "", "", *through_rows, "1.0", *growth, "", "3 ms"]
    ]
    refresh = runs["d: full refresh"]
    if through_rows:
        floor_run = runs["floor"]
        rows_floor = sum(
            [
                floor_run["read_erp_through_rows"],
                floor_run["read_store_through_rows"],
                floor_run["stages"]["keyed diff"],
            ]
        )
        assert ratios["figure"][8] == "full refresh / read floor through rows, s"
        assert ratios["floor"][8] == shown(rows_floor)
        assert float(ratios["ratio"][8]) == pytest.approx(refresh["total"] / rows_floor, rel=0.02)
    largest = 5 + len(through_rows)
    others = {name: s for name, s in refresh["stages"].items() if name != "validate"}
    biggest = max(others, key=others.get)
    label = f"full refresh: validate / its largest other stage ({biggest}), s"
    assert ratios["figure"][largest] == label
    assert ratios["measured"][largest] == shown(refresh["stages"]["validate"])
    peak = max(r["peak_rss_mb"] for name, r in runs.items() if name != "floor")
    assert ratios["figure"][-2] == "peak memory of any scenario, MB"
    assert ratios["measured"][-2] == shown(peak)
    # ... from the runs that measure memory apart, one each.
    assert list(result["memory_runs"]) == ["floor", "d: full refresh"]
    if measured_growth:
        assert set(runs["floor"]["growth_mb"]) == FLOOR_STAGES
        grown = 6 + len(through_rows)
        assert ratios["figure"][grown] == "compare (full refresh) / keyed diff, memory growth MB"
        apart = {name: r["growth_mb"] for name, r in result["memory_runs"].items()}
        assert ratios["measured"][grown] == shown(apart["d: full refresh"]["compare"])
        assert ratios["floor"][grown] == shown(apart["floor"]["keyed diff"])
    steady = runs["b': nothing edited, verdicts kept"]
    assert ratios["figure"][1] == "nothing edited, verdicts kept / read ERP, s"
    read_erp = runs["floor"]["stages"]["read ERP"]
    assert float(ratios["ratio"][1]) == pytest.approx(steady["total"] / read_erp, rel=0.02)
    written = runs["c: 10% edited"]["outcomes"]["reimported"]
    per_contract = 1000 * runs["c: 10% edited"]["stages"]["apply"] / written
    assert ratios["figure"][-1] == f"apply per re-imported contract (c: {written} written)"
    assert float(ratios["ratio"][-1].removesuffix(" ms")) == pytest.approx(per_contract, abs=0.05)
    assert runs["floor"]["differing_items"] >= 5  # the items of the contract never imported


def shown(value: float) -> str:
    """A figure as the tables print it: a tolerance of half the last digit fails on the
    binary value of an exact half (0.875 is printed 0.88, 0.005 and a hair away)."""
    return f"{value:.2f}"


def _assert_one_history_line(path: Path, result: dict, size: str) -> None:
    """The run added exactly one well-formed line (after the header) to the given history."""
    header, line = path.read_text().splitlines()
    assert header.split("\t") == list(history.COLUMNS)
    fields = history.parse_row(line)
    assert fields["when"] == result["when"][:19].replace(":", "")
    assert (fields["bench"], fields["backend"], fields["size"]) == ("sync", "sqlite", size)
    assert re.fullmatch(r"[0-9a-f]{7,40}\+?", fields["commit"])
    assert line == history.row(result, "sync", fields["commit"])
    figures = fields["figures"]
    assert {"repeat", "floor", "a", "b", "c", "d", "a'", "b'", "apply_ms", "peak_mb"} <= set(
        figures
    )
    assert {"compare/diff", "a/erp", "b/erp", "a'/erp", "b'/erp"} <= set(figures)
    number = r"\d+(\.\d+)?(\(\d+(\.\d+)?\))?"
    assert all(re.fullmatch(number, value) for value in figures.values()), figures
    kept = result["runs"]["b': nothing edited, verdicts kept"][0]["total"]
    assert figures["b'"] == shown(kept)
    assert figures["b'/erp"].endswith("(1.15)") and figures["apply_ms"].endswith("(3)")


HOLDS_60_MB = "import sys, time; b = b'x' * 60_000_000; print(); sys.stdout.flush(); time.sleep(60)"


def test_the_peak_of_a_child_process_is_seen_while_it_lives():
    """What adds a run's validation helper to the run's peak memory."""
    with TogetherPeak() as together:
        before = _status_kb("VmRSS") + sum(_children_kb("VmRSS"))  # the suite's own children
        child = subprocess.Popen([sys.executable, "-c", HOLDS_60_MB], stdout=subprocess.PIPE)
        try:
            child.stdout.readline()  # its 60 MB are allocated
            its_peak = _status_kb("VmHWM", str(child.pid))
            assert its_peak >= 55_000 and its_peak in _children_kb("VmHWM")
            assert _children_peak_kb() >= its_peak
            waited = time.monotonic() + 10  # until the sampler has seen it (a busy machine)
            while together.peak_kb < before + 55_000 and time.monotonic() < waited:
                time.sleep(0.02)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
    assert together.peak_kb >= before + 55_000


def _forked(allocate_mb: int) -> tuple[int, int]:
    """A copy of this process that holds `allocate_mb` MB of its own and waits: (pid, the
    read end of the pipe it said it is ready on)."""
    ready, said = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy
        held = b"x" * (allocate_mb * 1_000_000)
        os.write(said, b"1")
        time.sleep(60)
        os._exit(0 if held else 1)
    os.close(said)
    os.read(ready, 1)
    return pid, ready


@pytest.mark.parametrize("allocate_mb", [0, 60])
def test_a_copy_of_the_run_counts_its_own_memory_not_the_runs(allocate_mb: int) -> None:
    """A child between its fork and the exec of its program shows the run's whole resident
    size as its own: counted so, one sample took a 500 MB run for 995 MB. A copy counts
    what it made its own, as a helper forked to work does."""
    ballast = b"y" * 150_000_000  # the run's own memory, which a copy shares
    pid, ready = _forked(allocate_mb)
    try:
        shown = _status_kb("VmRSS", str(pid))
        counted = _child_kb("VmRSS", str(pid))
        assert shown >= 140_000  # what /proc says of the copy: the run's pages too
        assert allocate_mb * 900 <= counted < allocate_mb * 1000 + 40_000
        # counted so among the children (its private pages grow as the run writes to ours)
        assert any(abs(kb - counted) < 10_000 for kb in _children_kb("VmRSS"))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready)
    assert len(ballast) == 150_000_000
