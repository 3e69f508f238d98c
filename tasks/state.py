"""Load: what the store holds for the run, as frames (items only where they are needed)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE

from contract_sync.store.state import StoreState, load_state, with_items
from tasks.compare import single_store_contracts


def load_items(engine: sa.Engine, state: StoreState, contract_nos: pd.Series) -> StoreState:
    """Items of the store contracts that go to compare; the others' items are never read."""
    single = single_store_contracts(state)
    ids = single.loc[single["contract_no"].isin(contract_nos), "contract_id"]
    return with_items(engine, state, ids)


@task(name="load store state", cache_policy=NO_CACHE)
def load_state_task(
    engine: sa.Engine, company: int, actor: str, contracts: list[str] | None
) -> StoreState:
    return load_state(engine, company, actor, contracts)


@task(name="load store items", cache_policy=NO_CACHE)
def load_items_task(engine: sa.Engine, state: StoreState, contract_nos: pd.Series) -> StoreState:
    return load_items(engine, state, contract_nos)
