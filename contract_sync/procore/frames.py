"""Procore's records as the product's frames, and the product's rows as Procore's bodies:
pure functions, no calls.

What each store field is in Procore (the writable attributes of the generated SDK,
weigandconstruction/procore_python_sdk docs/PrimeContract.md and docs/LineItem1.md):

- a prime contract: title -> title, retainage_pct -> retainage_percent, start_date ->
  contract_start_date, projected_completion -> contract_estimated_completion_date, the ERP
  contract code -> origin_id; the customer and the original amount have no attribute of
  their own that takes the ERP's values (vendor_id is a directory id; grand_total is the
  line items' sum), so they travel in origin_data, which Procore keeps for integrators;
- a line item: description, amount, quantity, unit_cost and uom as themselves; origin_id is
  "<contract>/<item>" (origin ids are unique in a company, and item codes repeat across
  contracts: guides/using_sync_actions.md); the ERP's item code, position, cost code, line
  item type and tax code in origin_data (Procore's position is not writable, and its cost
  codes and types are ids of its own directory).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS, normal_text
from contract_sync.vocabulary import AMOUNT_SCALE

from .records import LineItem, PrimeContract, Project
from .values import decimal_text, scaled

PROJECT_COLUMNS = ["remote_id", "number", "name", "job_no"]
CONTRACT_COLUMNS = [
    "remote_id",
    "remote_project_id",
    "origin_id",
    "number",
    "status",
    *HEADER_FIELDS,
    "remote_updated_at",
    "remote_total",
]
ITEM_COLUMNS = ["remote_id", "origin_id", *ITEM_FIELDS]
# Line item fields Procore holds as attributes; the others travel in origin_data.
ITEM_ATTRIBUTES = ["description", "uom", "quantity", "unit_cost", "amount"]
ITEM_EXTRAS = ["position", "cost_code", "line_item_type", "tax_code"]


def job_of(project: Project, erp_company: int) -> str | None:
    """The ERP job a Procore project is linked to: its origin_id, "<company>:<job>" or the
    job alone; a project of another ERP company's job is linked to none here."""
    origin = (project.origin_id or "").strip()
    if not origin:
        return None
    company, colon, job = origin.partition(":")
    if not colon:
        return normal_text(origin)
    return normal_text(job) if company.strip() == str(erp_company) else None


def project_frame(projects: Iterable[Project], erp_company: int) -> pd.DataFrame:
    """The projects as the ledger keeps them (a number of 40 characters at most and a name
    of 120, the store's columns: longer ones cut, as they are only shown)."""
    rows = [
        (
            p.id,
            (p.project_number or str(p.id))[:40],
            (p.name or p.project_number or str(p.id))[:120],
            job_of(p, erp_company),
        )
        for p in projects
    ]
    return pd.DataFrame(rows, columns=PROJECT_COLUMNS).astype(
        {"remote_id": "int64", "number": "string", "name": "string", "job_no": "string"}
    )


def _origin_data(text: str | None) -> dict:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def contract_frame(
    contracts: Iterable[tuple[int, PrimeContract]], erp_company: int
) -> pd.DataFrame:
    """(Procore project id, prime contract) pairs: a contract listed in two projects gives
    two rows. Only contracts with an origin_id (made by an import) are an ERP's, and those
    this product made for another ERP company (its origin_data says which) are left out.
    One an import of Procore's own made has no original amount of the product's: its total
    stands for it."""
    rows = []
    for project_id, c in contracts:
        if not (c.origin_id or "").strip():
            continue
        extra = _origin_data(c.origin_data)
        if extra.get("erp_company", erp_company) != erp_company:
            continue
        raw = c.raw
        rows.append(
            {
                "remote_id": c.id,
                "remote_project_id": project_id,
                "origin_id": c.origin_id,
                "number": c.number or c.origin_id,
                "status": c.status,
                "title": c.title,
                "customer": extra.get("customer"),
                "retainage_pct": c.retainage_percent,
                "start_date": raw.get("contract_start_date"),
                "projected_completion": raw.get("contract_estimated_completion_date"),
                "original_amount": scaled(
                    extra.get("original_amount"),
                    AMOUNT_SCALE,
                    record=f"prime contract {c.id}",
                    field="origin_data original_amount",
                )
                if extra.get("original_amount") is not None
                else c.grand_total or 0,
                "remote_updated_at": c.updated_at,
                "remote_total": c.grand_total,
            }
        )
    frame = pd.DataFrame(rows, columns=CONTRACT_COLUMNS)
    return frame.astype(
        {
            "remote_id": "int64",
            "remote_project_id": "int64",
            "retainage_pct": "Int64",
            "original_amount": "Int64",
            "remote_total": "Int64",
        }
    )


def item_frame(items: Iterable[LineItem]) -> pd.DataFrame:
    """The product's line items (those with an origin_id) as store item rows: origin_id is
    the ERP's item code (from origin_data), the fields as the store holds them."""
    rows = []
    for i in items:
        if not (i.origin_id or "").strip():
            continue
        extra = _origin_data(i.origin_data)
        code = extra.get("item") or i.origin_id.rpartition("/")[2]
        rows.append(
            {
                "remote_id": i.id,
                "origin_id": code,
                "position": extra.get("position", i.position),
                "description": i.description,
                "cost_code": extra.get("cost_code"),
                "line_item_type": extra.get("line_item_type"),
                "uom": i.uom,
                "quantity": 0 if i.quantity is None else i.quantity,
                "unit_cost": 0 if i.unit_cost is None else i.unit_cost,
                "amount": 0 if i.amount is None else i.amount,
                "tax_code": extra.get("tax_code"),
            }
        )
    frame = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    return frame.astype(
        {
            "remote_id": "int64",
            "position": "int64",
            "quantity": "int64",
            "unit_cost": "int64",
            "amount": "int64",
        }
    )


def _plain(value: Any) -> Any:
    return None if value is None or value is pd.NA or pd.isna(value) else value


# Where each header field goes in Procore: an attribute, or origin_data.
HEADER_ATTRIBUTES = {
    "title": "title",
    "retainage_pct": "retainage_percent",
    "start_date": "contract_start_date",
    "projected_completion": "contract_estimated_completion_date",
    "customer": "origin_data",
    "original_amount": "origin_data",
}


def contract_body(
    header: dict[str, Any],
    erp_company: int,
    *,
    origin_id: str | None = None,
    fields: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A prime contract's attributes from a store header row (HEADER_FIELDS); only those
    of `fields` when given (the ones a re-import changes: a person's edit to another field
    made meanwhile is not sent back over)."""
    body = {
        "title": _plain(header.get("title")),
        "retainage_percent": _int_or_none(header.get("retainage_pct")),
        "contract_start_date": _plain(header.get("start_date")),
        "contract_estimated_completion_date": _plain(header.get("projected_completion")),
        "origin_data": json.dumps(
            {
                "customer": _plain(header.get("customer")),
                "erp_company": erp_company,
                "original_amount": decimal_text(
                    _int_or_none(header.get("original_amount")), AMOUNT_SCALE
                ),
            },
            sort_keys=True,
        ),
    }
    if fields is not None:
        wanted = {HEADER_ATTRIBUTES[f] for f in fields if f in HEADER_ATTRIBUTES}
        body = {k: v for k, v in body.items() if k in wanted}
    if origin_id is not None:
        body["origin_id"] = origin_id
    return body


def item_origin_id(erp_company: int, contract_no: str, item_no: str) -> str:
    """A line item's origin_id: unique in a Procore company, which may hold the contracts
    of several ERP companies, whose contract and item codes repeat."""
    return f"{erp_company}:{normal_text(contract_no)}/{normal_text(item_no)}"


def item_records(items: pd.DataFrame, contract_no: str, erp_company: int) -> list[dict[str, Any]]:
    """Sync records for these store item rows (item_code, the ERP's text of the item's code,
    and ITEM_FIELDS; remote_id where Procore holds the item already)."""
    records = []
    for row in items.to_dict("records"):
        record = {name: _plain(row.get(name)) for name in ITEM_ATTRIBUTES}
        for name in ("quantity", "unit_cost", "amount"):
            record[name] = _int_or_none(record[name])
        extra = {name: _plain(row.get(name)) for name in ITEM_EXTRAS}
        extra["position"] = _int_or_none(extra["position"])
        extra["item"] = row["item_code"]
        record["origin_data"] = json.dumps(extra, sort_keys=True)
        record["origin_id"] = item_origin_id(erp_company, contract_no, row["item_code"])
        remote = _plain(row.get("remote_id"))
        if remote is not None:
            record["id"] = int(remote)
        records.append(record)
    return records


def _int_or_none(value: Any) -> int | None:
    value = _plain(value)
    return None if value is None else int(value)
