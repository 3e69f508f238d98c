"""The changed contracts' frames between the ERP read and the compare: in memory up to a
budget of items, in files of a private temporary folder beyond it. A run thus reads and
validates the whole ERP before it writes anything, in memory that does not grow with it."""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pandas as pd

from contract_sync.model import ErpFrames

PREFIX = "contract-sync-held-"
MAKING = "contract-sync-making-"  # a folder not locked yet
LOCK = ".in-use"
UNTOUCHED_SECONDS = 3600  # before an unlocked folder counts as abandoned
log = logging.getLogger(__name__)


class _LockedFolder:
    """A private (0700) temporary folder its run holds locked while it lives. A run killed
    before it could remove it (SIGKILL, say) leaves it unlocked, and a later run removes it
    once untouched for an hour: the hour covers file systems whose locks other machines do
    not see (a run touches its folder whenever it reads from it). flock, not lockf: two
    runs in one process must not see each other's folders as free."""

    def __init__(self, temp: Path) -> None:
        sweep_abandoned(temp)
        # Locked under another name, then renamed: a sweep never sees it unlocked.
        making = Path(tempfile.mkdtemp(prefix=MAKING, dir=temp))
        self._lock = (making / LOCK).open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a file system without locks: swept by age alone
            log.warning("%s cannot be locked: kept by its age alone", making)
        self.path = making.with_name(PREFIX + making.name.removeprefix(MAKING))
        making.rename(self.path)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def sweep_abandoned(temp: Path) -> list[Path]:
    """Remove this user's held folders in `temp` that were left: untouched for an hour
    and locked by no live process."""
    removed = []
    for folder in [*temp.glob(f"{PREFIX}*"), *temp.glob(f"{MAKING}*")]:
        try:
            info = folder.stat()
        except OSError:  # removed meanwhile
            continue
        untouched = time.time() - info.st_mtime >= UNTOUCHED_SECONDS
        if info.st_uid != os.getuid() or not untouched or _in_use(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s, left by a run that ended without removing it", folder)
        removed.append(folder)
    return removed


def _in_use(folder: Path) -> bool:
    """Locked by a live run. Without a lock file (an earlier version's folder, or one killed
    before it locked) or without locks on the file system, the age decides alone."""
    try:
        with (folder / LOCK).open("r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


class HeldFrames:
    def __init__(self, budget_items: int | None) -> None:
        self.budget_items = budget_items  # None: everything in memory
        self.in_memory = 0
        self.entries: list[ErpFrames | Path] = []
        self._folder: _LockedFolder | None = None

    def __enter__(self) -> HeldFrames:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.entries.clear()
        if self._folder is not None:
            self._folder.cleanup()

    @property
    def spilled(self) -> int:
        """How many groups went to files."""
        return sum(isinstance(entry, Path) for entry in self.entries)

    def add(self, frames: ErpFrames) -> None:
        if frames.empty:
            return
        size = len(frames.items)
        if self.budget_items is None or self.in_memory + size <= self.budget_items:
            self.entries.append(frames)
            self.in_memory += size
            return
        if self._folder is None:
            self._folder = _LockedFolder(Path(tempfile.gettempdir()))
        path = self._folder.path / f"{len(self.entries)}.pickle"
        with path.open("wb") as file:
            pickle.dump(frames, file, protocol=pickle.HIGHEST_PROTOCOL)
        self.entries.append(path)

    def groups(self, group_items: int | None) -> Iterator[ErpFrames]:
        """The held frames in the order they came, consecutive ones joined up to
        `group_items` items (everything at once when None)."""
        batch: list[ErpFrames] = []
        rows = 0
        for entry in self.entries:
            frames = _load(entry)
            if batch and group_items is not None and rows + len(frames.items) > group_items:
                yield _joined(batch)
                batch, rows = [], 0
            batch.append(frames)
            rows += len(frames.items)
        if batch:
            yield _joined(batch)


def _load(entry: ErpFrames | Path) -> ErpFrames:
    if isinstance(entry, ErpFrames):
        return entry
    os.utime(entry.parent)  # in use: never swept by age
    with entry.open("rb") as file:  # our own file, written by this process
        return pickle.load(file)  # noqa: S301


def _joined(batch: list[ErpFrames]) -> ErpFrames:
    if len(batch) == 1:
        return batch[0]
    return ErpFrames(
        pd.concat([b.contracts for b in batch]),
        pd.concat([b.items for b in batch], ignore_index=True),
    )
