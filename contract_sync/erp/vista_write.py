"""Writes canonical frames into Vista's tables: used by the demo, the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from contract_sync.erp.vista_schema import BILL_TYPES, JCCI, JCCM, JCJM, metadata
from contract_sync.store.bulk import insert_frame
from contract_sync.vocabulary import ERP_STATUSES, RETAINAGE_FRACTION_SCALE

_STATUS_CODES = {name: code for code, name in ERP_STATUSES.items()}
_BILL_CODES = {name: code for code, name in BILL_TYPES.items()}


def create_vista_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def _decimals(scaled: pd.Series, scale: int) -> list[Decimal | None]:
    return [None if pd.isna(v) else Decimal(int(v)).scaleb(-scale) for v in scaled]


def _dates(iso: pd.Series) -> list:
    return list(pd.to_datetime(iso).dt.date.astype(object).where(iso.notna(), None))


def write_vista(
    connection: sa.Connection,
    contracts: pd.DataFrame,
    items: pd.DataFrame,
    replace: bool = False,
) -> None:
    """Insert the contracts (their jobs too) and items; `replace` deletes them first."""
    if replace:
        _delete(connection, contracts)
    jobs = pd.DataFrame(
        {
            "JCCo": contracts["erp_company"],
            "Job": contracts["job_no"],
            "Description": contracts["title"],
            "Contract": contracts["contract_no"],
            "JobStatus": 1,
        }
    )
    headers = pd.DataFrame(
        {
            "JCCo": contracts["erp_company"],
            "Contract": contracts["contract_no"],
            "Description": contracts["title"],
            "ContractStatus": contracts["erp_status"].map(_STATUS_CODES),
            "Customer": contracts["customer"],
            "StartMonth": _dates(contracts["start_date"]),
            "ProjCloseDate": _dates(contracts["projected_completion"]),
            "RetainagePCT": _decimals(contracts["retainage_pct"], RETAINAGE_FRACTION_SCALE),
            "OrigContractAmt": _decimals(contracts["original_amount"], 2),
        }
    )
    lines = pd.DataFrame(
        {
            "JCCo": items["erp_company"],
            "Contract": items["contract_no"],
            "Item": items["item_no"],
            "Description": items["description"],
            "SICode": items["cost_code"],
            "UM": items["uom"],
            "TaxCode": items["tax_code"],
            "RetainPCT": _decimals(
                items["contract_no"]
                .map(contracts.set_index("contract_no")["retainage_pct"])
                .fillna(0),
                4,
            ),
            "OrigContractAmt": _decimals(items["amount"], 2),
            "OrigContractUnits": _decimals(items["quantity"], 3),
            "OrigUnitPrice": _decimals(items["unit_cost"], 5),
            "BillType": items["line_item_type"].map(_BILL_CODES),
        }
    )
    if replace:
        jobs = jobs.iloc[0:0]  # the jobs stay as they were
    insert_frame(connection, JCJM, jobs)
    insert_frame(connection, JCCM, headers)
    insert_frame(connection, JCCI, lines)


def _delete(connection: sa.Connection, contracts: pd.DataFrame) -> None:
    for company, group in contracts.groupby("erp_company"):
        numbers = list(group["contract_no"])
        for table in (JCCI, JCCM):
            for chunk in _chunks(numbers, 500):
                connection.execute(
                    table.delete().where(table.c.JCCo == int(company), table.c.Contract.in_(chunk))
                )


def _chunks(values: list, size: int) -> Iterable[list]:
    return (values[i : i + size] for i in range(0, len(values), size))
