"""The ERP read a group of contracts at a time, so that a run's memory does not grow with
the company: the headers whole (a row per contract), the items streamed in contract order
and cut between contracts into pieces of about `group_items` items, 20,000 at most
(read_piece_items)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd

from contract_sync.columns import ITEM_COLUMNS, empty, is_in, run_starts
from contract_sync.erp.frames import MAX_LISTED, ErpDataError
from contract_sync.model import ErpFrames

# A run's group (its memory budget, CONTRACT_SYNC_GROUP_ITEMS) is read and hashed in pieces
# of whole contracts of about this many items: their rows are freed while still in the
# processor's cache. Per 1M items, reading and hashing in pieces of 20,000 took 0.3 to 0.8 s
# less than in groups of 100,000.
READ_PIECE_ITEMS = 20_000


def read_piece_items(group_items: int | None) -> int | None:
    """The items of a piece of the ERP read (None: one piece, as for a group)."""
    return None if group_items is None else min(group_items, READ_PIECE_ITEMS)


@dataclass(frozen=True)
class ErpGroups:
    contracts: pd.DataFrame  # every contract in scope
    groups: Iterator[ErpFrames]  # whole contracts with their headers; item-less ones last


def split_by_contract(
    chunks: Iterable[pd.DataFrame], group_items: int | None, key: str = "contract_no"
) -> Iterator[pd.DataFrame]:
    """Item rows ordered by `key`, arriving in chunks, as groups of whole contracts: each
    cut at the first contract boundary after `group_items` rows (one group when None)."""
    pending: list[pd.DataFrame] = []
    rows = 0
    for chunk in chunks:
        pending.append(chunk)
        rows += len(chunk)
        if group_items is None or rows < group_items:
            continue
        frame = pd.concat(pending, ignore_index=True)
        starts = run_starts(frame[key])
        begin = 0
        for cut in starts[starts >= group_items]:
            if cut - begin >= group_items:
                yield frame.iloc[begin:cut].reset_index(drop=True)
                begin = cut
        # The last contract may go on in the next chunk: the rest waits for it.
        pending = [frame.iloc[begin:].reset_index(drop=True)]
        rows = len(pending[0])
    if rows:
        yield pd.concat(pending, ignore_index=True)


def frames_in_groups(
    contracts: pd.DataFrame, item_groups: Iterable[pd.DataFrame]
) -> Iterator[ErpFrames]:
    """Each group of canonical items with its contracts' headers; then the contracts that
    have no items. A contract whose items come back after its group was closed (codes that
    differ only in spaces sort apart) is an error, never two halves of one contract."""
    seen: set[str] = set()
    for items in item_groups:
        numbers = items["contract_no"].dropna().unique()
        again = sorted(seen.intersection(numbers))
        if again:
            listed = ", ".join(map(repr, again[:MAX_LISTED]))
            raise ErpDataError(
                f"JCCI: the items of contracts {listed} are stored under contract codes "
                "that differ only in spaces"
            )
        seen.update(numbers)
        yield ErpFrames(contracts[is_in(contracts["contract_no"], numbers)], items)
    rest = contracts[~is_in(contracts["contract_no"], seen)]
    if len(rest):
        yield ErpFrames(rest, empty(ITEM_COLUMNS))


def in_groups(frames: ErpFrames, group_items: int | None) -> ErpGroups:
    """Frames read whole (the files connector), handed out in groups all the same."""
    items = split_by_contract([frames.items], read_piece_items(group_items))
    return ErpGroups(frames.contracts, frames_in_groups(frames.contracts, items))
