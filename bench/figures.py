"""The figures of a sync benchmark's result (`python -m bench`): medians per scenario and
stage, and each figure against its floor and target (issue 18). The terminal's tables and
the history line both read them here. Results written before a figure was measured lack
it: a figure whose runs or stages are missing is left out, never guessed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

GROWTH_SCENARIO = "d: full refresh"  # its compare's memory growth is held against the diff's
EDITED_SCENARIO = "c: 10% edited"  # its apply is held to APPLY_MS_TARGET per contract
APPLY_MS_TARGET = 3  # apply per re-imported contract in scenario c (issue 18)
PEAK_MB_TARGET = 1000  # a run's peak memory at 1M items (issue 18)
PEAK_GROWTH_TARGET = 1.2  # at a larger scale, against the peak at 1M
COMPARE_TARGET = 1.2  # the full refresh's compare against the keyed diff, seconds (issue 32)
ROWS_FLOOR_TARGET = 1.0  # the full refresh against the floor read through rows (issue 32)
LARGEST_TARGET = 1.0  # the full refresh's validate against its largest other stage (issue 32)
GROWTH_TARGET = 1.2  # the same, memory growth
# Scenarios held against reading the ERP: (scenario, figure's label, target).
AGAINST_READ_ERP = [
    ("b': nothing edited, verdicts kept", "nothing edited, verdicts kept / read ERP, s", 1.15),
    ("a': 2% edited, verdicts kept", "2% edited, verdicts kept / read ERP, s", 1.5),
    ("b: nothing edited", "nothing edited, all validated / read ERP, s", None),
    ("a: 2% edited", "2% edited, all validated / read ERP, s", None),
]
# Held against the ERP read through SQLAlchemy's rows (the floor before Arrow reads, issue 32).
AGAINST_ROWS = [
    (
        "b': nothing edited, verdicts kept",
        "nothing edited, verdicts kept / read ERP as rows, s",
        0.4,
    ),
]


@dataclass(frozen=True)
class Figure:
    """A measured figure, the floor it is held against and its target, if any."""

    key: str  # its name in the history line
    label: str  # its name in the terminal's table
    measured: float
    base: float | None = None
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.measured / self.base if self.base else None


@dataclass(frozen=True)
class Apply:
    """Scenario c's apply: the contracts it wrote and its median seconds."""

    written: int
    seconds: float

    @property
    def ms_per_contract(self) -> float:
        return 1000 * self.seconds / self.written


def scenario_key(name: str) -> str:
    """A scenario's short name: its letter (`a`, `b'`), or `floor`."""
    return name.split(":")[0]


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def stage_medians(runs: list[dict]) -> dict[str, float]:
    names = {s for r in runs for s in r["stages"]}
    return {s: statistics.median(r["stages"].get(s, 0.0) for r in runs) for s in sorted(names)}


def growth_medians(runs: list[dict]) -> dict[str, float]:
    """Per stage, the median of its memory growth (MB; stages never measured left out)."""
    names = {s for r in runs for s in r.get("growth_mb", {})}
    return {s: statistics.median(r["growth_mb"].get(s, 0.0) for r in runs) for s in names}


def peak_mb(result: dict) -> float:
    """The largest median peak memory of any sync scenario (the floor left out)."""
    return max(
        median(runs, "peak_rss_mb")
        for name, runs in result["runs"].items()
        if name != "floor" and runs
    )


def apart_runs(result: dict) -> list[dict]:
    """The runs that measured memory apart (none in files written before them)."""
    return list(result.get("memory_runs", {}).values())


def floor_figures(result: dict) -> list[Figure]:
    """The full refresh's compare against a plain keyed diff of the same frames (seconds,
    then memory growth), and syncs against reading the ERP alone; none without a floor."""
    runs = result["runs"]
    if not runs.get("floor"):
        return []
    floor = stage_medians(runs["floor"])
    figures = [*_compare_figure(runs, floor), *_read_erp_figures(runs, floor)]
    figures += _through_rows_figures(runs, floor) + largest_stage_figure(result)
    return figures + _growth_figure(result)


def _compare_figure(runs: dict, floor: dict[str, float]) -> list[Figure]:
    if "keyed diff" not in floor or not runs.get(GROWTH_SCENARIO):
        return []
    compare = stage_medians(runs[GROWTH_SCENARIO])["compare"]
    label = "compare (full refresh) / keyed diff, s"
    return [Figure("compare/diff", label, compare, floor["keyed diff"], COMPARE_TARGET)]


def _read_erp_figures(runs: dict, floor: dict[str, float]) -> list[Figure]:
    return [
        Figure(
            f"{scenario_key(name)}/erp",
            label,
            median(runs[name], "total"),
            floor["read ERP"],
            target,
        )
        for name, label, target in AGAINST_READ_ERP
        if runs.get(name)
    ]


def _through_rows_figures(runs: dict, floor: dict[str, float]) -> list[Figure]:
    """The ERP read through Arrow against the same read through SQLAlchemy's rows, and
    syncs against the latter; the store read so too, and the full refresh against the
    floor read through rows (its reads through rows, the same keyed diff). None where the
    floor did not read through Arrow (no `arrow` extra) or was measured before both were."""
    measured = [r for r in runs["floor"] if r.get("arrow_reads") and "read_erp_through_rows" in r]
    if not measured:
        return []
    rows = median(measured, "read_erp_through_rows")
    label = "read ERP through Arrow / through SQLAlchemy rows, s"
    figures = [Figure("arrow/rows", label, floor["read ERP"], rows)]
    for name, label, target in AGAINST_ROWS:
        if runs.get(name):
            key = f"{scenario_key(name)}/rows"
            figures.append(Figure(key, label, median(runs[name], "total"), rows, target))
    both = [r for r in measured if "read_store_through_rows" in r]
    if not both:
        return figures
    store_rows = median(both, "read_store_through_rows")
    label = "read store through Arrow / through SQLAlchemy rows, s"
    figures.append(Figure("store/rows", label, floor["read store"], store_rows))
    if runs.get(GROWTH_SCENARIO):
        rows_floor = rows + store_rows + floor["keyed diff"]
        label = "full refresh / read floor through rows, s"
        refresh = median(runs[GROWTH_SCENARIO], "total")
        figures.append(Figure("d/rowsfloor", label, refresh, rows_floor, ROWS_FLOOR_TARGET))
    return figures


def largest_stage_figure(result: dict) -> list[Figure]:
    """The full refresh's validate against its largest other stage (target: not larger)."""
    runs = result["runs"].get(GROWTH_SCENARIO)
    stages = stage_medians(runs) if runs else {}
    if "validate" not in stages or len(stages) < 2:
        return []
    others = {name: s for name, s in stages.items() if name != "validate"}
    largest = max(others, key=others.get)
    label = f"full refresh: validate / its largest other stage ({largest}), s"
    return [Figure("d/validate", label, stages["validate"], others[largest], LARGEST_TARGET)]


def _growth_figure(result: dict) -> list[Figure]:
    """The compare's memory growth against the keyed diff's, from the runs that measure
    memory apart where there are any (files written before them have none)."""
    runs = result["runs"]
    apart = {name: [run] for name, run in result.get("memory_runs", {}).items()}
    grown = growth_medians(apart.get(GROWTH_SCENARIO, runs.get(GROWTH_SCENARIO, [])))
    floor_grown = growth_medians(apart.get("floor", runs["floor"]))
    if "compare" not in grown or not floor_grown.get("keyed diff"):
        return []
    untrimmed = any(not r.get("allocator_trimmed", True) for r in apart_runs(result))
    label = "compare (full refresh) / keyed diff, memory growth MB" + (
        " (free memory not given back: no glibc)" if untrimmed else ""
    )
    measured, base = grown["compare"], floor_grown["keyed diff"]
    return [Figure("growth/diff", label, measured, base, GROWTH_TARGET)]


def memory_figures(result: dict, smaller: dict | None = None) -> list[Figure]:
    """The peak memory of any scenario (held to PEAK_MB_TARGET at 1M items), and against
    the peak of a result at a smaller scale when given."""
    target = PEAK_MB_TARGET if result["items"] == 1_000_000 else None
    peak = peak_mb(result)
    figures = [Figure("peak_mb", "peak memory of any scenario, MB", peak, None, target)]
    if smaller is not None:
        label = f"peak memory / its peak at {smaller['items']:,} items"
        figures.append(Figure("peak/smaller", label, peak, peak_mb(smaller), PEAK_GROWTH_TARGET))
    return figures


def apply_of_edited(result: dict) -> Apply | None:
    """Scenario c's apply, where it wrote contracts and its runs say how many."""
    edited = result["runs"].get(EDITED_SCENARIO)
    written = edited[0].get("outcomes", {}).get("reimported", 0) if edited else 0
    if not written:
        return None
    return Apply(written, stage_medians(edited)["apply"])
