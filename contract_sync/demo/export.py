"""Writes ERP frames as an export folder (CSV or XLSX plus mapping.yaml), as an ERP report
would: Vista's column names, accounting-style numbers, US dates, status and bill-type codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from contract_sync.columns import scaled_text
from contract_sync.erp.files import MAPPING_FILE
from contract_sync.erp.vista_schema import BILL_TYPES
from contract_sync.model import ErpFrames
from contract_sync.vocabulary import ERP_STATUSES, RETAINAGE_FRACTION_SCALE, SCALES

CONTRACT_FIELDS = {
    "erp_company": "JCCo",
    "contract_no": "Contract",
    "job_no": "Job",
    "title": "Description",
    "erp_status": "ContractStatus",
    "customer": "Customer",
    "retainage_pct": "RetainagePCT",
    "start_date": "StartMonth",
    "projected_completion": "ProjCloseDate",
    "original_amount": "OrigContractAmt",
}
ITEM_FIELDS = {
    "erp_company": "JCCo",
    "contract_no": "Contract",
    "item_no": "Item",
    "description": "Description",
    "cost_code": "SICode",
    "line_item_type": "BillType",
    "uom": "UM",
    "quantity": "OrigContractUnits",
    "unit_cost": "OrigUnitPrice",
    "amount": "OrigContractAmt",
    "tax_code": "TaxCode",
}
DATE_FORMAT = "%m/%d/%Y"


def export_mapping(fmt: Literal["csv", "xlsx"], encoding: str) -> dict:
    return {
        "encoding": encoding,
        "delimiter": ",",
        "date_format": DATE_FORMAT,
        "retainage": "fraction",
        "numbers": {"thousands": ",", "decimal": ".", "parentheses_negative": True},
        "contracts": {
            "file": f"contracts.{fmt}",
            "columns": CONTRACT_FIELDS,
            "values": {"erp_status": {str(k): v.value for k, v in ERP_STATUSES.items()}},
        },
        "items": {
            "file": f"items.{fmt}",
            "columns": ITEM_FIELDS,
            "values": {"line_item_type": dict(BILL_TYPES)},
        },
    }


def accounting(values: pd.Series, scale: int) -> pd.Series:
    """1234567.5 -> '1,234,567.50'; negatives in parentheses."""
    text = scaled_text(values, scale)
    negative = text.str.startswith("-").fillna(False)
    parts = text.str.removeprefix("-").str.split(".", n=1, expand=True)
    whole = parts[0].str.replace(r"(\d)(?=(\d{3})+$)", r"\1,", regex=True)
    formatted = whole + "." + parts[1]
    return formatted.mask(negative, "(" + formatted + ")")


def _export_frame(frame: pd.DataFrame, fields: dict[str, str]) -> pd.DataFrame:
    out = frame[list(fields)].copy()
    for field in out.columns.intersection(list(SCALES)):
        scale = RETAINAGE_FRACTION_SCALE if field == "retainage_pct" else SCALES[field]
        out[field] = accounting(out[field], scale)
    for field in out.columns.intersection(["start_date", "projected_completion"]):
        out[field] = pd.to_datetime(out[field]).dt.strftime(DATE_FORMAT)
    if "erp_status" in out:
        codes = {name: str(code) for code, name in ERP_STATUSES.items()}
        out["erp_status"] = out["erp_status"].map(codes)
    if "line_item_type" in out:
        out["line_item_type"] = out["line_item_type"].map({v: k for k, v in BILL_TYPES.items()})
    return out.rename(columns=fields)


def write_files(
    frames: ErpFrames, folder: Path, fmt: Literal["csv", "xlsx"] = "csv", encoding: str = "utf-8"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    mapping = export_mapping(fmt, encoding)
    for name, frame, fields in (
        ("contracts", frames.contracts, CONTRACT_FIELDS),
        ("items", frames.items, ITEM_FIELDS),
    ):
        out = _export_frame(frame, fields)
        path = folder / mapping[name]["file"]
        if fmt == "xlsx":
            out.to_excel(path, index=False, sheet_name=name)
        else:
            out.to_csv(path, index=False, encoding=encoding)
    (folder / MAPPING_FILE).write_text(yaml.safe_dump(mapping, sort_keys=False))
    return folder
