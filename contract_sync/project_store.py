"""The store port: where a run reads the store's state from and writes contracts to.

Two stores: the SQL store (SQLite or PostgreSQL at store_url, the embedded default), whose
tables the run reads and writes in transactions; and Procore (CONTRACT_SYNC_STORE=procore),
read into a mirror in the same tables of the ledger database before each run reads them,
and written through its REST API (contract_sync.procore.store). The audit log, its chain,
the baselines, run records and requests, and the validation cache stay in the ledger
database (store_url) whichever store is the target, so every other part of a run (gates,
compare, plan, the audit) is one code for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import sqlalchemy as sa

from contract_sync.settings import Settings, StoreKind
from contract_sync.stages.apply import GroupWrite


class ProjectStore(Protocol):
    """What a run asks of the store beyond the ledger's tables."""

    # How a group of contracts is written; None: the SQL store's transactions (apply).
    write_group: GroupWrite | None
    # Whether the store is read into the ledger's tables before they are read (a remote
    # store's stages "read remote store" and "read remote items"; none for the SQL store).
    remote: bool

    def refresh(self, ledger: sa.Engine, erp_company: int, *, contracts: bool = True) -> None:
        """The company's projects, job links and contracts, as the store holds them now,
        readable from the ledger's tables. Without `contracts` (a first import, which looks
        for each contract where it writes it) the contracts stay as last read."""

    def refresh_items(self, ledger: sa.Engine, erp_company: int, contract_ids: list[int]) -> None:
        """The items of these contracts, as the store holds them now, likewise."""

    def close(self) -> None: ...


class SqlStore:
    """The SQL store: its tables are the ledger's; nothing to read into them."""

    write_group = None
    remote = False

    def refresh(self, ledger: sa.Engine, erp_company: int, *, contracts: bool = True) -> None:
        return None

    def refresh_items(self, ledger: sa.Engine, erp_company: int, contract_ids: list[int]) -> None:
        return None

    def close(self) -> None:
        return None


SQL_STORE = SqlStore()


@contextmanager
def project_store(settings: Settings) -> Iterator[ProjectStore]:
    """The store the settings name (CONTRACT_SYNC_STORE), closed at the end."""
    if settings.store == StoreKind.procore:
        from contract_sync.procore.store import ProcoreStore  # only a Procore run loads it

        store: ProjectStore = ProcoreStore(settings)
    else:
        store = SqlStore()
    try:
        yield store
    finally:
        store.close()


def read_store(
    store: ProjectStore, ledger: sa.Engine, erp_company: int, contracts: bool = True
) -> None:
    """Stage "read remote store": the store's state into the ledger's tables (Procore: lists)."""
    store.refresh(ledger, erp_company, contracts=contracts)


def read_store_items(
    store: ProjectStore, ledger: sa.Engine, erp_company: int, contract_ids: list[int]
) -> None:
    """Stage "read remote items": the compared contracts' items (Procore: only those)."""
    store.refresh_items(ledger, erp_company, [int(i) for i in contract_ids])
