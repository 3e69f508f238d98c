"""Deterministic company data: ERP contracts and the store they were imported into.

One generator serves the demo, the tests and the benchmark. Company 1 carries every
case the gates must catch, on its first contracts (see EDGE_CASES); company 2 (when
asked for) is on QuickBooks Online, which does not sync main contracts, and holds a
handful of contracts only (each is blocked for the same reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract_sync.columns import CONTRACT_COLUMNS, ITEM_COLUMNS, conform
from contract_sync.demo.catalog import AREAS, BUILDINGS, OWNERS, PLACES, SECTIONS
from contract_sync.errors import UserError
from contract_sync.vocabulary import LUMP_SUM_UOM, ErpStatus, Reason

# Edge cases, in the order they take company 1's first contracts: each named by the reason
# it gives, but the two invalid ones (both invalid_erp_data).
EDGE_CASES = [
    Reason.contract_unapproved,
    Reason.job_not_synced,
    Reason.contract_in_multiple_projects,
    Reason.permission_denied,
    "invalid_unit_amount",
    "invalid_header_total",
    Reason.not_imported,
]
MIN_CONTRACTS = len(EDGE_CASES) + 1
EDGE_COMPANY = 1
QUICKBOOKS_COMPANY = 2
QUICKBOOKS_CONTRACTS = 3


@dataclass(frozen=True)
class CompanyData:
    """ERP frames as the ERP holds them now, and as they were when imported."""

    company: int
    erp_type: str
    contracts: pd.DataFrame
    items: pd.DataFrame
    imported_contracts: pd.DataFrame
    imported_items: pd.DataFrame


def erp_type_of(company: int) -> str:
    return "quickbooks_online" if company == QUICKBOOKS_COMPANY else "viewpoint_vista"


def edge_case_contracts(contract_nos: pd.Series) -> dict[str, str]:
    """Edge case name -> contract number, for company 1's contracts."""
    ordered = sorted(set(contract_nos))
    return dict(zip(EDGE_CASES, ordered, strict=False))


class DemoSizeError(UserError, ValueError):
    """A demo too small to hold every edge case."""


def generate_company(
    company: int, contracts: int, items_per_contract: int, seed: int
) -> CompanyData:
    if contracts < MIN_CONTRACTS and company == EDGE_COMPANY:
        raise DemoSizeError(
            f"company 1 needs at least {MIN_CONTRACTS} contracts for its edge cases"
        )
    if items_per_contract < 2:
        raise DemoSizeError("a contract needs at least 2 items")
    if company == QUICKBOOKS_COMPANY:
        contracts = min(contracts, QUICKBOOKS_CONTRACTS)
    rng = np.random.default_rng([seed, company])
    items = _items(rng, company, contracts, items_per_contract)
    header = _contracts(rng, company, contracts, items, items_per_contract)
    erp_contracts, erp_items = header.copy(), items.copy()
    if company == EDGE_COMPANY:
        erp_contracts, erp_items = _break_expectations(erp_contracts, erp_items)
    return CompanyData(company, erp_type_of(company), erp_contracts, erp_items, header, items)


def _contracts(
    rng: np.random.Generator, company: int, n: int, items: pd.DataFrame, m: int
) -> pd.DataFrame:
    numbers = pd.Series(np.arange(24001, 24001 + n)).astype(str)
    start = np.datetime64("2025-01-06") + rng.integers(0, 540, n).astype("timedelta64[D]")
    finish = start + rng.integers(180, 900, n).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "erp_company": company,
            "contract_no": numbers + "-",
            "job_no": numbers + "-001",
            "title": pd.Series(PLACES[rng.integers(0, len(PLACES), n)])
            + " "
            + BUILDINGS[rng.integers(0, len(BUILDINGS), n)],
            "erp_status": ErpStatus.open,
            "customer": OWNERS[rng.integers(0, len(OWNERS), n)],
            "retainage_pct": rng.choice([500, 1000], n),
            "start_date": pd.Series(start).dt.strftime("%Y-%m-%d"),
            "projected_completion": pd.Series(finish).dt.strftime("%Y-%m-%d"),
            "original_amount": items["amount"].to_numpy().reshape(n, m).sum(axis=1),
        }
    )
    return conform(frame, CONTRACT_COLUMNS)


def _items(rng: np.random.Generator, company: int, n: int, m: int) -> pd.DataFrame:
    rows = n * m
    section = SECTIONS[rng.integers(0, len(SECTIONS), rows)]
    uom = section[:, 2]
    # Item numbers are zero-padded and not sequential, as in Vista.
    item_numbers = (rng.integers(1, 4, rows) * 5).reshape(n, m).cumsum(axis=1).ravel()
    unit_item = uom != LUMP_SUM_UOM
    halves = rng.random(rows) < 0.2
    units = rng.integers(1, 2000, rows)
    unit_cents = rng.integers(50, 40_000, rows)
    # quantity x unit cost lands exactly on a cent: 0.5 units at an even-cent price, or whole units.
    quantity = np.where(halves, units * 500, units * 1000)
    unit_cost = np.where(halves, unit_cents * 2000, unit_cents * 1000)
    lump_sum = rng.integers(5_000_00, 1_500_000_00, rows)
    cost_code = pd.Series(section[:, 0], dtype="string").mask(rng.random(rows) < 0.1)
    frame = pd.DataFrame(
        {
            "erp_company": company,
            "contract_no": (pd.Series(np.repeat(np.arange(24001, 24001 + n), m)).astype(str) + "-"),
            "item_no": pd.Series(item_numbers).astype(str).str.zfill(5),
            "position": np.tile(np.arange(1, m + 1), n),
            "description": pd.Series(section[:, 1])
            + " - "
            + AREAS[rng.integers(0, len(AREAS), rows)],
            "cost_code": cost_code,
            "line_item_type": np.where(uom == "HR", "time_and_material", "progress"),
            "uom": uom,
            "quantity": np.where(unit_item, quantity, 0),
            "unit_cost": np.where(unit_item, unit_cost, 0),
            "amount": np.where(unit_item, units * unit_cents, lump_sum),
            "tax_code": np.where(rng.random(rows) < 0.7, "ST", "EX"),
        }
    )
    return conform(frame, ITEM_COLUMNS)


def _break_expectations(
    contracts: pd.DataFrame, items: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ERP rows changed after import so that they fail the expectations."""
    edge = edge_case_contracts(contracts["contract_no"])
    contracts, items = contracts.copy(), items.copy()
    # A unit item whose amount is a cent off quantity x unit cost (header total kept consistent).
    in_contract = items.index[items["contract_no"] == edge["invalid_unit_amount"]]
    target = in_contract[0]
    items.loc[target, ["uom", "quantity", "unit_cost"]] = ["EA", 3000, 1_250_000]
    items.loc[target, "amount"] = 3_751  # 3 x 12.50 is 37.50
    totals = items.groupby("contract_no")["amount"].sum()
    contracts["original_amount"] = contracts["contract_no"].map(totals).astype("int64")
    # A header total that is not the sum of its items.
    header = contracts["contract_no"] == edge["invalid_header_total"]
    contracts.loc[header, "original_amount"] += 100_00
    return contracts, items


def imported_store_items(data: CompanyData, rng: np.random.Generator) -> pd.DataFrame:
    """The store's items: the imported ones, plus budget codes users added in the store."""
    items = data.imported_items.copy()
    missing = items["cost_code"].isna()
    added = missing & (rng.random(len(items)) < 0.5)
    items.loc[added, "cost_code"] = "01-0000"
    return items
