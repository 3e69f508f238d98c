"""The store's items read one group ahead: while a run compares, gates and writes a group
of contracts, a thread reads the next group's items (the read mostly waits on the database,
or on its reader process on SQLite), so that the run does not wait for them after.

What is read ahead is what with_items reads when asked: the next group's contracts are not
the ones the run writes meanwhile, and apply checks each contract's store items and baseline
against the ones read (a store user's edit in between makes the contract `stale`, as it
would have at the read).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import sqlalchemy as sa

from contract_sync.model import StoreState
from contract_sync.store.state import with_items


class ItemsAhead:
    """The store items of a run's groups, each group's read as soon as it is asked for;
    used as `with closing(ItemsAhead(...))` (a read still queued is dropped at its end, one
    under way waited for). `ahead=False`: each is read when taken."""

    def __init__(self, engine: sa.Engine, state: StoreState, *, ahead: bool = True) -> None:
        self.engine, self.state = engine, state
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="store-items") if ahead else None
        self._asked: dict[tuple[int, ...], Future] = {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def ask(self, contract_ids: pd.Series) -> None:
        """Start reading these contracts' items (after the reads asked for before)."""
        key = _key(contract_ids)
        if self._pool is not None and key not in self._asked:
            self._asked[key] = self._pool.submit(with_items, self.engine, self.state, key)

    def take(self, contract_ids: pd.Series) -> StoreState:
        """The run's state with these contracts' items: as read ahead, or read now."""
        key = _key(contract_ids)
        asked = self._asked.pop(key, None)
        if asked is not None:
            return asked.result()
        return with_items(self.engine, self.state, key)


def load_items(ahead: ItemsAhead, contract_ids: pd.Series) -> StoreState:
    """The stage that loads a group's store items (contract_sync.evaluation)."""
    return ahead.take(contract_ids)


def _key(contract_ids: pd.Series) -> tuple[int, ...]:
    return tuple(contract_ids.tolist())
