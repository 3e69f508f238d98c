"""The benchmarks' history: one line per run in bench/history.tsv, its full JSON apart.

Every benchmark (sync, cli, served, audit-year) ends by adding its run's line to the
history (BENCH_HISTORY names another file) and writing the run's full JSON to
bench/results/, which git ignores; with --keep the JSON goes to bench/results/cited/,
which is committed, for a run a note cites.

The history is tab-separated: when (UTC, as in the JSON's name), bench, backend, size
(contracts x items per contract; audit-year: contracts), commit (the code measured; `+`
when it had uncommitted changes) and the figures, `key=value` separated by spaces, in
seconds unless the key says otherwise, a target in parentheses:

- sync: repeat; each scenario's median (`floor`, `a` ... `b'`); `compare/diff` (the full
  refresh's compare against the keyed diff), `growth/diff` (their memory growth), `a/erp`
  ... `b'/erp` (a scenario against reading the ERP); `apply_ms` per contract written in c;
  `peak_mb` of any scenario; `prefect` (its own cost for a flow run);
- cli: repeat; each command's median;
- served: runs; the median of each part of a served run, `without` (the same run without
  Prefect) and `prefect` (wall less without);
- audit-year: hours, records, db_mb, each timing, verified.

python -m bench.history --backfill DIR [--history PATH]: one line per result JSON in DIR
(the commit: the last one before the run), leaving out runs already in the history.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

from bench.figures import (
    APPLY_MS_TARGET,
    apply_of_edited,
    floor_figures,
    median,
    memory_figures,
    scenario_key,
)

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
HISTORY = HERE / "history.tsv"
HISTORY_VARIABLE = "BENCH_HISTORY"
CITED = "cited"  # the folder, within the results folder, of the JSON a note cites
COLUMNS = ("when", "bench", "backend", "size", "commit", "figures")
CLI_KEYS = {
    "ready": "ready",
    "reimport one": "reimport_one",
    "reimport one, new content": "reimport_new",
    "make demo again": "demo_again",
}
AUDIT_YEAR_KEYS = {
    "write the year": "write",
    "audit report (whole year)": "report",
    "last checked (one contract)": "last_checked",
    "audit verify": "verify",
}


def history_path() -> Path:
    """The history file: BENCH_HISTORY if set, else bench/history.tsv."""
    return Path(os.environ.get(HISTORY_VARIABLE) or HISTORY)


def stamp(result: dict) -> str:
    """The run's time as its JSON's name starts: 2026-11-27T073127 (UTC)."""
    return result["when"][:19].replace(":", "")


def result_name(result: dict, bench: str) -> str:
    """The name of a run's JSON file."""
    if bench == "sync":
        return f"{stamp(result)}-{result['backend']}-{_size(result, bench)}.json"
    if bench == "audit-year":
        return f"{stamp(result)}-audit-year-{result['backend']}.json"
    if bench == "procore":
        return f"{stamp(result)}-procore-{_size(result, bench)}.json"
    return f"{stamp(result)}-{bench}.json"


def bench_of(name: str) -> str:
    """Which benchmark wrote a result JSON, from its name."""
    for bench in ("cli", "served", "audit-year", "procore"):
        if name.endswith(f"-{bench}.json") or f"-{bench}-" in name:
            return bench
    return "sync"


def row(result: dict, bench: str, commit: str) -> str:
    """A run's line in the history (without its line end)."""
    figures = " ".join(f"{key}={value}" for key, value in FIGURES[bench](result).items())
    fields = [stamp(result), bench, _backend(result), _size(result, bench), commit, figures]
    return "\t".join(fields)


def parse_row(line: str) -> dict:
    """A history line as its columns, the figures as a dict of text values."""
    fields = dict(zip(COLUMNS, line.rstrip("\n").split("\t"), strict=True))
    pairs = (pair.split("=", 1) for pair in fields["figures"].split(" ") if pair)
    return {**fields, "figures": dict(pairs)}


def _backend(result: dict) -> str:
    """The database the run measured; the command line's and a served run's demo use SQLite."""
    return result.get("backend", "sqlite")


def _size(result: dict, bench: str) -> str:
    if bench == "cli":
        return "32x12"  # the demo: 2 companies of 16 contracts, 12 items each
    if bench == "audit-year":
        return str(result["contracts"])
    return f"{result['contracts']}x{result['items_per_contract']}"


def _with_target(value: str, target: float | None) -> str:
    return f"{value}({target:g})" if target else value


def sync_figures(result: dict) -> dict[str, str]:
    """Each scenario's median, each figure against its floor, apply, peak, Prefect's cost."""
    runs = result["runs"]
    figures = {"repeat": str(result["repeat"])}
    figures |= {scenario_key(name): f"{median(r, 'total'):.2f}" for name, r in runs.items() if r}
    figures |= {f.key: _with_target(f"{f.ratio:.2f}", f.target) for f in floor_figures(result)}
    applied = apply_of_edited(result)
    if applied:
        figures["apply_ms"] = _with_target(f"{applied.ms_per_contract:.1f}", APPLY_MS_TARGET)
    [peak] = memory_figures(result)
    figures["peak_mb"] = _with_target(f"{peak.measured:.0f}", peak.target)
    if result.get("prefect_overhead_seconds") is not None:
        figures["prefect"] = f"{result['prefect_overhead_seconds']:.1f}"
    return figures


def cli_figures(result: dict) -> dict[str, str]:
    """Each command's median."""
    medians = {_key(CLI_KEYS, name): f"{s:.2f}" for name, s in result["medians"].items()}
    return {"repeat": str(result["repeat"]), **medians}


def served_figures(result: dict) -> dict[str, str]:
    """The median of each part of a served run, the same run without Prefect, their gap."""
    runs = result["runs"]
    figures = {"runs": str(len(runs))}
    for part, first in runs[0].items():
        value = statistics.median(r[part] for r in runs)
        figures[_key({}, part)] = f"{value:.0f}" if isinstance(first, int) else f"{value:.2f}"
    without = statistics.median(result["without prefect"])
    wall = statistics.median(r["wall"] for r in runs)
    return figures | {"without": f"{without:.2f}", "prefect": f"{wall - without:.2f}"}


def audit_year_figures(result: dict) -> dict[str, str]:
    """The year's size in records and bytes, each command's time, the chain's verdict."""
    seconds = {_key(AUDIT_YEAR_KEYS, name): f"{s:g}" for name, s in result["seconds"].items()}
    verified = "intact" if result["verify"].startswith("intact") else "broken"
    return {
        "hours": str(result["hours"]),
        "records": str(result["audit_records"]),
        "db_mb": f"{result['bytes'] / 2**20:.1f}",
        **seconds,
        "verified": verified,
    }


def procore_figures(result: dict) -> dict[str, str]:
    """Procore requests: the first import's across hourly windows (and the 429 answers:
    none is the target), each sync scenario's against its target."""
    first = result["first import"]
    figures = {
        "first": str(first["requests"]),
        "windows": str(first["windows"]),
        "429": _with_target(str(first["answers_429"]), None),
    }
    for name, scenario in result.items():
        if isinstance(scenario, dict) and "target_edited" in scenario:
            nothing = scenario["written"] == 0
            target = scenario["target_nothing_edited" if nothing else "target_edited"]
            key = "nothing" if nothing else _key({}, name.replace("%", "pct"))
            figures[key] = _with_target(str(scenario["requests"]), target)
    return figures


def _key(keys: dict[str, str], name: str) -> str:
    """A figure's key: its short name where it has one, else its name without spaces."""
    return keys.get(name) or "_".join(name.replace(",", "").split())


FIGURES = {
    "sync": sync_figures,
    "cli": cli_figures,
    "served": served_figures,
    "audit-year": audit_year_figures,
    "procore": procore_figures,
}


def append(lines: list[str], path: Path) -> None:
    """Add lines to the history, with its header when the file is new."""
    header = [] if path.exists() and path.stat().st_size else ["\t".join(COLUMNS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as history:
        history.writelines(f"{line}\n" for line in header + lines)


def _git(*args: str) -> str:
    """A git command's output in the project, or '' where there is no git or repository."""
    try:
        done = subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def current_commit() -> str:
    """The commit checked out, `+` when tracked files other than the history changed."""
    commit = _git("rev-parse", "--short=7", "HEAD") or "-"
    excluded = f":(exclude){HISTORY.relative_to(PROJECT)}"
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".", excluded)
    return f"{commit}+" if changed else commit


def commit_before(result: dict) -> str:
    """The last commit before the run (for results that do not name theirs)."""
    found = _git("rev-list", "-1", f"--before={result['when']}", "HEAD")
    return found[:7] or "-"


def add_keep_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="write the full JSON to bench/results/cited/ (committed) for a note that cites it",
    )


def record(result: dict, bench: str, results: Path, keep: bool = False) -> Path:
    """End a run: its line added to the history, its JSON written to `results` (its folder
    `cited` with `keep`). Returns the JSON's path."""
    folder = results / CITED if keep else results
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / result_name(result, bench)
    out.write_text(json.dumps(result, indent=1, default=str))
    append([row(result, bench, current_commit())], history_path())
    return out


def backfill(folder: Path, path: Path) -> int:
    """Add a line for each result JSON under `folder` whose run is not yet in the history,
    in the order the runs ran. Returns how many lines were added."""
    known = {_run_of(parse_row(line)) for line in _lines(path)}
    lines = []
    for json_path in sorted(folder.rglob("*.json"), key=lambda p: p.name):
        result, bench = json.loads(json_path.read_text()), bench_of(json_path.name)
        line = row(result, bench, commit_before(result))
        if _run_of(parse_row(line)) not in known:
            lines.append(line)
    append(lines, path)
    return len(lines)


def _lines(path: Path) -> list[str]:
    """The history's lines, header left out."""
    return path.read_text().splitlines()[1:] if path.exists() else []


def _run_of(fields: dict) -> tuple[str, ...]:
    return fields["when"], fields["bench"], fields["backend"], fields["size"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--backfill", type=Path, required=True, metavar="DIR", help="result JSON files"
    )
    parser.add_argument(
        "--history", type=Path, default=None, help="default: BENCH_HISTORY or bench/history.tsv"
    )
    args = parser.parse_args(argv)
    path = args.history or history_path()
    print(f"{backfill(args.backfill, path)} lines added to {path}")


if __name__ == "__main__":
    main()
