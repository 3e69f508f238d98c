"""Changes some contracts in the ERP, as people do after an import, so a sync has work."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from contract_sync.demo.catalog import BUILDINGS, PLACES
from contract_sync.demo.generator import EDGE_COMPANY, _items, edge_case_contracts
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_write import write_vista
from contract_sync.vocabulary import LUMP_SUM_UOM


@dataclass(frozen=True)
class EditSummary:
    contracts: list[str]
    items_changed: int
    items_added: int
    items_removed: int
    headers_changed: int


def edit_erp(engine: sa.Engine, company: int, fraction: float, seed: int) -> EditSummary:
    """Edit `fraction` of the company's regular contracts (edge cases are left as seeded).

    Each round draws from the ERP's current content, so repeated rounds make new edits.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    frames = read_vista(engine, company)
    contracts, items = frames.contracts, frames.items
    state = int(items["amount"].sum()) % 2**32
    rng = np.random.default_rng([seed, company, state, len(items)])
    edge = (
        set(edge_case_contracts(contracts["contract_no"]).values())
        if company == EDGE_COMPANY
        else set()
    )
    regular = np.array(sorted(set(contracts["contract_no"]) - edge), dtype=object)
    count = min(len(regular), int(np.ceil(fraction * len(regular))))
    chosen = pd.Series(rng.choice(regular, count, replace=False) if count else [], dtype="string")
    items = items[items["contract_no"].isin(chosen)].copy()
    contracts = contracts[contracts["contract_no"].isin(chosen)].copy()
    items, changed = _change_items(items, rng)
    items, removed = _remove_items(items, changed, rng)
    items, added = _add_items(items, chosen, company, rng)
    items = _set_missing_cost_codes(items, rng)
    headers = _change_headers(contracts, rng)
    totals = items.groupby("contract_no")["amount"].sum()
    headers["original_amount"] = headers["contract_no"].map(totals).fillna(0).astype("int64")
    with engine.begin() as connection:
        write_vista(connection, headers, items, replace=True)
    return EditSummary(
        contracts=list(chosen),
        items_changed=len(changed),
        items_added=added,
        items_removed=removed,
        headers_changed=int((headers["title"] != contracts["title"]).sum()),
    )


def _change_items(items: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Index]:
    """One item per contract: more units (amount follows exactly) or a new lump sum."""
    picked = items.groupby("contract_no").sample(1, random_state=rng).index
    unit = items.loc[picked, "uom"] != LUMP_SUM_UOM
    more = pd.Series(rng.integers(1, 50, len(picked)) * 1000, index=picked)
    quantity = items.loc[picked, "quantity"] + more
    unit_amount = quantity * items.loc[picked, "unit_cost"] // 1_000_000
    lump_amount = items.loc[picked, "amount"] + rng.integers(1_000_00, 20_000_00, len(picked))
    items.loc[picked, "quantity"] = quantity.where(unit, 0)
    items.loc[picked, "amount"] = unit_amount.where(unit, lump_amount)
    return items, picked


def _remove_items(
    items: pd.DataFrame, keep: pd.Index, rng: np.random.Generator
) -> tuple[pd.DataFrame, int]:
    candidates = items.drop(index=keep)
    candidates = candidates[candidates.groupby("contract_no")["item_no"].transform("size") > 1]
    if candidates.empty:
        return items, 0
    picked = candidates.groupby("contract_no").sample(1, random_state=rng)
    picked = picked[rng.random(len(picked)) < 0.4]
    return items.drop(index=picked.index), len(picked)


def _add_items(
    items: pd.DataFrame, contracts: pd.Series, company: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, int]:
    adding = contracts[rng.random(len(contracts)) < 0.5].reset_index(drop=True)
    if adding.empty:
        return items, 0
    new = _items(rng, company, len(adding), 1)
    last = items.groupby("contract_no")["item_no"].max().astype(int)
    new["contract_no"] = adding.to_numpy()
    new["item_no"] = (
        (adding.map(last).fillna(0).astype(int) + 5).astype(str).str.zfill(5).to_numpy()
    )
    return pd.concat([items, new], ignore_index=True), len(new)


def _set_missing_cost_codes(items: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The ERP fills in a budget code the store may have filled in too (a conflict)."""
    missing = items[items["cost_code"].isna()]
    if missing.empty:
        return items
    picked = missing.groupby("contract_no").sample(1, random_state=rng).index
    picked = picked[rng.random(len(picked)) < 0.3]
    items.loc[picked, "cost_code"] = "01-9000"
    return items


def _change_headers(contracts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    headers = contracts.copy()
    renamed = rng.random(len(headers)) < 0.3
    titles = (
        pd.Series(PLACES[rng.integers(0, len(PLACES), len(headers))])
        + " "
        + pd.Series(BUILDINGS[rng.integers(0, len(BUILDINGS), len(headers))])
    )
    headers.loc[renamed, "title"] = titles[renamed].to_numpy()
    return headers
