"""The changed contracts' frames between the ERP read and the compare: in memory up to a
budget of items, in files of a private temporary folder beyond it. A run thus reads and
validates the whole ERP before it writes anything, in memory that does not grow with it."""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pandas as pd

from contract_sync.erp.frames import ErpFrames


class HeldFrames:
    def __init__(self, budget_items: int | None) -> None:
        self.budget_items = budget_items  # None: everything in memory
        self.in_memory = 0
        self.entries: list[ErpFrames | Path] = []
        self._folder: tempfile.TemporaryDirectory | None = None

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
        if frames.contracts.empty and frames.items.empty:
            return
        size = len(frames.items)
        if self.budget_items is None or self.in_memory + size <= self.budget_items:
            self.entries.append(frames)
            self.in_memory += size
            return
        if self._folder is None:  # created private (0700), removed on exit
            self._folder = tempfile.TemporaryDirectory(prefix="contract-sync-held-")
        path = Path(self._folder.name) / f"{len(self.entries)}.pickle"
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
    with entry.open("rb") as file:  # our own file, written by this process
        return pickle.load(file)  # noqa: S301


def _joined(batch: list[ErpFrames]) -> ErpFrames:
    if len(batch) == 1:
        return batch[0]
    return ErpFrames(
        pd.concat([b.contracts for b in batch]),
        pd.concat([b.items for b in batch], ignore_index=True),
    )
