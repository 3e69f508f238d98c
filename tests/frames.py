"""Tiny canonical ERP frames and the StoreState right after importing them, for unit tests."""

from __future__ import annotations

import pandas as pd

from contract_sync.columns import (
    BASELINE_HEADER_FIELDS,
    CONTRACT_COLUMNS,
    HEADER_FIELDS,
    ITEM_COLUMNS,
    ITEM_FIELDS,
    conform,
    empty,
)
from contract_sync.hashing import contract_hashes
from contract_sync.model import StoreState


def contract(no: str, **fields) -> dict:
    """A canonical contract row numbered `no`, with `fields` overriding the defaults."""
    return {
        "erp_company": 1,
        "contract_no": no,
        "job_no": f"J{no}",
        "title": f"Contract {no}",
        "erp_status": "open",
        "customer": "Acme",
        "retainage_pct": 1000,
        "start_date": "2024-01-01",
        "projected_completion": "2025-06-30",
        "original_amount": 1_000_000,
        **fields,
    }


def item(contract_no: str, item_no: str, **fields) -> dict:
    """A canonical item row (position int(item_no)), with `fields` overriding the defaults."""
    return {
        "erp_company": 1,
        "contract_no": contract_no,
        "item_no": item_no,
        "position": int(item_no),
        "description": f"Item {item_no}",
        "cost_code": None,
        "line_item_type": "progress",
        "uom": "EA",  # 1.000 x 123.45000 = 123.45
        "quantity": 1000,
        "unit_cost": 12_345_000,
        "amount": 12_345,
        "tax_code": "T1",
        **fields,
    }


def contracts_frame(*contracts: str | dict) -> pd.DataFrame:
    """A conformed contracts frame; each argument a contract number or a contract() row."""
    rows = [contract(row) if isinstance(row, str) else row for row in contracts]
    return conform(pd.DataFrame(rows), CONTRACT_COLUMNS) if rows else empty(CONTRACT_COLUMNS)


def items_frame(*items: tuple[str, str] | dict, position: int | None = None) -> pd.DataFrame:
    """A conformed items frame; each argument a (contract_no, item_no) key or an item() row.

    A key's item gets `position` if given, else its argument's index (0, 1, ...).
    """
    rows = [
        row if isinstance(row, dict) else item(*row, position=n if position is None else position)
        for n, row in enumerate(items)
    ]
    return conform(pd.DataFrame(rows), ITEM_COLUMNS) if rows else empty(ITEM_COLUMNS)


def as_loaded(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as load_state builds it: rows of Python values, None for SQL NULL."""
    columns = [[None if pd.isna(v) else v for v in frame[c].tolist()] for c in frame.columns]
    return pd.DataFrame(list(zip(*columns, strict=True)), columns=list(frame.columns))


def make_state(contracts: pd.DataFrame, items: pd.DataFrame) -> StoreState:
    """The store right after importing these ERP frames: store == baseline == ERP.

    The i-th contract (from 0) is store contract 101 + i in project 1 + i, its job synced
    to that project, the actor admin everywhere, each baseline's erp_hash the real digest.
    """
    n = len(contracts)
    stored = contracts.assign(
        contract_id=range(101, 101 + n), project_id=range(1, 1 + n), status="Approved", version=1
    )
    stored_items = items.merge(stored[["contract_no", "contract_id"]], on="contract_no")
    stored_items["item_id"] = range(1, 1 + len(stored_items))
    hashes = contract_hashes(contracts, items).to_numpy()
    return StoreState(
        company_id=1,
        erp_type="viewpoint_vista",
        integration_configured=True,
        actor="admin",
        actor_known=True,
        erp_integrations_level="admin",
        main_contracts_levels=as_loaded(stored[["project_id"]].assign(level="admin")),
        synced_jobs=as_loaded(stored[["job_no", "project_id"]]),
        projects=as_loaded(
            stored[["project_id"]].assign(project=stored["job_no"], project_name=stored["title"])
        ),
        contracts=as_loaded(
            stored[
                ["contract_id", "project_id", "contract_no", "status", "version", *HEADER_FIELDS]
            ]
        ),
        items=as_loaded(
            stored_items[["contract_id", "item_id", "contract_no", "item_no", *ITEM_FIELDS]]
        ),
        baselines=as_loaded(
            stored.assign(erp_hash=hashes)[["contract_id", "erp_hash", *BASELINE_HEADER_FIELDS]]
        ),
        baseline_items=as_loaded(stored_items[["contract_id", "item_no", *ITEM_FIELDS]]),
    )
