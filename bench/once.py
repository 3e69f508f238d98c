"""One measured run in a process of its own (so peak memory is this run's alone).

python -m bench.once ERP_URL STORE_URL SCENARIO VERDICTS [--memory]  ->  JSON on stdout
SCENARIO: floor (read ERP and store items, and a plain two-way keyed diff of them), or a
sync: changed | full_refresh | kept (verdicts kept in VERDICTS) | warm (fills them)
--memory: each stage starts with the C allocator's free memory given back (see
Stopwatch), so that its growth is what it needs; its times are not the ones to report.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from contract_sync import arrow_reads
from contract_sync.collector import long_lived_frozen
from contract_sync.columns import ITEM_FIELDS
from contract_sync.erp.read import read_erp
from contract_sync.hooks import Hooks
from contract_sync.model import Request, StoreState
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store.db import make_engine
from contract_sync.store.state import load_state, with_items
from contract_sync.vocabulary import Outcome

ACTOR = "admin"


def _status_kb(field: str, process: str = "self") -> int | None:
    """A memory figure of a process from /proc/PID/status (VmRSS, VmHWM), in kB; None where
    there is no such file."""
    try:
        lines = Path(f"/proc/{process}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith(f"{field}:")), None)


def _children_peak_kb() -> int:
    """The largest peak resident size of this process's live children, in kB: a run's
    validation helper (contract_sync/stages/suite_worker.py) is one."""
    return max([0, *_children_kb("VmHWM")])


def _children_kb(field: str) -> list[int]:
    """A memory figure (see _status_kb) of each live child of this process, in kB; of a
    child that is a copy of it, its memory of its own (_copy_kb)."""
    found = []
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            children = listing.read_text().split()
        except OSError:
            continue
        found += [_child_kb(field, child) for child in children]
    return found


def _child_kb(field: str, child: str) -> int:
    copy = _copy_kb(child)
    return copy if copy is not None else _status_kb(field, child) or 0


SAME_MEMORY_KB = 4096


@cache
def _own_command() -> bytes:
    """This process's command line as /proc gives it (read once: the sampler asks often)."""
    return Path("/proc/self/cmdline").read_bytes()


def _copy_kb(child: str) -> int | None:
    """The memory of its own of a child that is a copy of this process (its command line is
    ours, or no longer readable), in kB; None for another program. Between Popen's fork and
    the exec of its program a child shows this process's whole resident size as its own:
    counted so, one sample of a full refresh of 1M items took a 500 MB run for 995 MB. Popen
    forks with vfork, so the child then uses this process's very memory, pages its own by
    smaps' count too: a copy as large as this process counts nothing (within SAME_MEMORY_KB,
    more than this process can touch between the two reads). A copy forked to work
    (stages/suite_worker.py) counts its private pages once it has grown."""
    try:
        line = Path(f"/proc/{child}/cmdline").read_bytes()
    except OSError:
        return 0
    if line and line != _own_command():
        return None
    ours, theirs = _status_kb("VmRSS") or 0, _status_kb("VmRSS", child) or 0
    if abs(theirs - ours) <= SAME_MEMORY_KB:
        return 0
    try:
        rollup = Path(f"/proc/{child}/smaps_rollup").read_text().splitlines()
    except OSError:  # it ended meanwhile
        return 0
    private = ("Private_Clean:", "Private_Dirty:")
    return sum(int(row.split()[1]) for row in rollup if row.startswith(private))


class TogetherPeak:
    """The largest resident size of this process and its live children together, sampled
    every `interval` seconds in a thread while the block runs: a run's validation helper
    and the run's own peak need not fall at the same moment (the helper ends when the
    changes go beyond a group, before the run validates them itself)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            own = _status_kb("VmRSS") or 0
            self.peak_kb = max(self.peak_kb, own + sum(_children_kb("VmRSS")))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TogetherPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reset_peak() -> bool:
    """Start the peak resident size (VmHWM) again from the current one (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _trim_allocator() -> bool:
    """Give the C allocator's free memory back to the system (glibc's malloc_trim); False
    where there is no such call."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return True
    return False


class Stopwatch:
    """Each stage's seconds and, where Linux lets the peak be reset, its memory growth: the
    peak resident size during the stage less the resident size at its start (MB).

    With `trim`, each stage starts with the allocator's free memory given back: else a
    stage's growth depends on what the stages before it freed, not on what it needs (a
    PostgreSQL driver's read leaves hundreds of MB free that a keyed diff after it reuses).
    Giving it back costs the stage fresh pages, so a trimmed run is for memory only."""

    def __init__(self, trim: bool = False) -> None:
        self.trim = trim
        self.trimmed = False  # the allocator gave its free memory back (with trim)
        self.stages: dict[str, float] = {}
        self.growth_mb: dict[str, float] = {}
        self.peak_kb = 0  # the process's peak, kept across the resets
        self.helper_kb = 0  # the largest peak of a child seen at the end of a stage

    @contextmanager
    def stage(self, name: str):
        self.peak_kb = max(self.peak_kb, _status_kb("VmHWM") or 0)
        if self.trim:
            self.trimmed = _trim_allocator()
        before = _status_kb("VmRSS") if _reset_peak() else None
        start = time.perf_counter()
        yield
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - start
        self.helper_kb = max(self.helper_kb, _children_peak_kb())
        peak = _status_kb("VmHWM")
        if before is not None and peak is not None:
            self.peak_kb = max(self.peak_kb, peak)
            growth = (peak - before) / 1024
            self.growth_mb[name] = max(self.growth_mb.get(name, 0.0), growth)

    def own_peak_kb(self) -> int:
        """The process's peak resident size so far, resets or not. Not getrusage's maxrss
        where /proc tells: Linux carries that across fork and exec, so it would report the
        benchmark's own process (which built the company) instead of this one."""
        hwm = _status_kb("VmHWM")
        if hwm is None:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(self.peak_kb, hwm)

    def peak_rss_mb(self, together_kb: int = 0) -> float:
        """The process's peak, or the peak of it and its helper together (TogetherPeak)
        when larger."""
        return max(self.own_peak_kb(), together_kb) / 1024

    def summed_peak_mb(self) -> float:
        """The process's peak plus its helper's, as if both peaked at once: a bound."""
        return (self.own_peak_kb() + self.helper_kb) / 1024


def floor(settings: Settings, watch: Stopwatch) -> dict:
    store = make_engine(settings.store_database_url)
    # The floor gets the collector setting a run has (contract_sync.collector): else a run
    # would gain on it by that alone.
    with long_lived_frozen():
        with watch.stage("read ERP"):  # through Arrow where it can (the `arrow` extra)
            erp = read_erp(settings, 1)
        through_arrow = arrow_reads.READS["arrow"] > 0  # its items did go through Arrow
        with watch.stage("read store"):
            state = read_store(store)
        # The reads through SQLAlchemy's rows as well, beside the floor's stages (the floor
        # before Arrow reads, named as such): not added to the floor's total.
        with rows_only():
            read_erp_through_rows = timed(lambda: read_erp(settings, 1))
            read_store_through_rows = timed(lambda: read_store(store))
        with watch.stage("keyed diff"):
            differing = keyed_diff(erp.items, state.items)
    return {
        "stages": watch.stages,
        "growth_mb": watch.growth_mb,
        "peak_rss_mb": watch.peak_rss_mb(),
        "arrow_reads": through_arrow,
        "read_erp_through_rows": read_erp_through_rows,
        "read_store_through_rows": read_store_through_rows,
        "erp_items": len(erp.items),
        "store_items": len(state.items),
        "differing_items": differing,
    }


def read_store(store: sa.Engine) -> StoreState:
    state = load_state(store, 1, ACTOR)
    return with_items(store, state, state.contracts["contract_id"])


def timed(read: Callable[[], object]) -> float:
    started = time.perf_counter()
    read()
    return time.perf_counter() - started


@contextmanager
def rows_only() -> Iterator[None]:
    """Reads through SQLAlchemy's rows while the block runs (Arrow switched off)."""
    arrow = os.environ.get(arrow_reads.SWITCH)
    os.environ[arrow_reads.SWITCH] = "off"
    try:
        yield
    finally:
        if arrow is None:
            del os.environ[arrow_reads.SWITCH]
        else:
            os.environ[arrow_reads.SWITCH] = arrow


def keyed_diff(erp_items: pd.DataFrame, store_items: pd.DataFrame) -> int:
    """The plain two-way keyed diff a compare is held against: an outer merge with indicator
    on (contract, item), then per-field inequality. Returns the items that differ."""
    key = ["contract_no", "item_no"]
    merged = erp_items[[*key, *ITEM_FIELDS]].merge(
        store_items[[*key, *ITEM_FIELDS]], on=key, how="outer", indicator=True, suffixes=("", "_s")
    )
    both = merged["_merge"] == "both"
    changed = pd.Series(False, index=merged.index)
    for field in ITEM_FIELDS:
        changed |= merged[field].ne(merged[f"{field}_s"]).fillna(True)
    return int((~both | changed).sum())


def sync(settings: Settings, full_refresh: bool, watch: Stopwatch) -> dict:
    """A re-import run through the run API, each stage timed (without Prefect)."""
    request = Request(company=1, actor=ACTOR, full_refresh=full_refresh)
    with TogetherPeak() as together:
        result = reimport(settings, request, hooks=Hooks(timer=watch.stage))
    audit, found = result.audit, result.scan
    return {
        "stages": watch.stages,
        "growth_mb": watch.growth_mb,
        "peak_rss_mb": watch.peak_rss_mb(together.peak_kb),
        "summed_peak_mb": watch.summed_peak_mb(),
        "helper_peak_mb": watch.helper_kb / 1024,
        "erp_items": int(found.item_counts.sum()),
        "compared_contracts": int((~found.unchanged).sum()),
        "outcomes": {k: int(v) for k, v in audit["outcome"].value_counts().items()},
        "reimported": sorted(audit.loc[audit["outcome"] == Outcome.reimported, "contract_no"]),
    }


def main(erp_url: str, store_url: str, scenario: str, verdicts: str, *flags: str) -> None:
    # Validation measured as work done (no verdict kept from an earlier run), except in the
    # scenarios that keep verdicts: "kept" (measured) and "warm" (fills them) use the
    # validation cache in the folder `verdicts`.
    keep = scenario in ("kept", "warm")
    settings = Settings(
        erp_url=erp_url,
        store_url=store_url,
        data_docs=False,
        validation_cache=keep,
        data_dir=Path(verdicts),
    )
    watch = Stopwatch(trim="--memory" in flags)
    started = time.perf_counter()
    if scenario == "floor":
        result = floor(settings, watch)
    else:
        result = sync(settings, scenario == "full_refresh", watch)
    result["total"] = time.perf_counter() - started
    result["allocator_trimmed"] = watch.trimmed
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
