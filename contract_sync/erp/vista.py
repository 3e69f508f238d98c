"""Vista connector: JCJM/JCCM/JCCI read set-based into the canonical frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import (
    CONTRACT_COLUMNS,
    ERP_STATUSES,
    ITEM_COLUMNS,
    conform,
)
from contract_sync.erp.vista_schema import BILL_TYPES, JCCI, JCCM, JCJM


@dataclass(frozen=True)
class ErpFrames:
    contracts: pd.DataFrame
    items: pd.DataFrame


class ErpReadError(RuntimeError):
    """The ERP could not be read; the message names what is missing or wrong."""


def _scaled(column: sa.ColumnElement, scale: int) -> sa.ColumnElement:
    """An exact decimal column as a scaled integer, computed by the database."""
    return sa.cast(sa.func.round(column * 10**scale), sa.BigInteger)


def read_vista(
    engine: sa.Engine, company: int, contract_nos: Sequence[str] | None = None
) -> ErpFrames:
    """Read one company's contracts and items: two queries, whatever the count."""
    contracts_query = (
        sa.select(
            JCCM.c.JCCo.label("erp_company"),
            JCCM.c.Contract.label("contract_no"),
            JCJM.c.Job.label("job_no"),
            JCCM.c.Description.label("title"),
            JCCM.c.ContractStatus.label("status_code"),
            JCCM.c.Customer.label("customer"),
            _scaled(JCCM.c.RetainagePCT, 4).label("retainage_pct"),
            JCCM.c.StartMonth.label("start_date"),
            JCCM.c.ProjCloseDate.label("projected_completion"),
            _scaled(JCCM.c.OrigContractAmt, 2).label("original_amount"),
        )
        .select_from(
            JCCM.outerjoin(
                JCJM, sa.and_(JCJM.c.JCCo == JCCM.c.JCCo, JCJM.c.Contract == JCCM.c.Contract)
            )
        )
        .where(JCCM.c.JCCo == company)
    )
    items_query = sa.select(
        JCCI.c.JCCo.label("erp_company"),
        JCCI.c.Contract.label("contract_no"),
        JCCI.c.Item.label("item_no"),
        JCCI.c.Description.label("description"),
        JCCI.c.SICode.label("cost_code"),
        JCCI.c.BillType.label("bill_type"),
        JCCI.c.UM.label("uom"),
        _scaled(JCCI.c.OrigContractUnits, 3).label("quantity"),
        _scaled(JCCI.c.OrigUnitPrice, 5).label("unit_cost"),
        _scaled(JCCI.c.OrigContractAmt, 2).label("amount"),
        JCCI.c.TaxCode.label("tax_code"),
    ).where(JCCI.c.JCCo == company)
    if contract_nos is not None:
        contracts_query = contracts_query.where(JCCM.c.Contract.in_(list(contract_nos)))
        items_query = items_query.where(JCCI.c.Contract.in_(list(contract_nos)))
    try:
        with engine.connect() as connection:
            contracts = pd.read_sql(contracts_query, connection)
            items = pd.read_sql(items_query, connection)
    except sa.exc.OperationalError as error:
        raise ErpReadError(
            f"cannot read the Vista tables at {engine.url!r}: {error.orig}"
        ) from error
    return ErpFrames(_contracts_frame(contracts), _items_frame(items))


def _contracts_frame(raw: pd.DataFrame) -> pd.DataFrame:
    # A contract linked to several jobs keeps its first job; Vista links one job per contract.
    raw = raw.sort_values(["contract_no", "job_no"]).drop_duplicates("contract_no")
    frame = raw.assign(
        erp_status=raw["status_code"].map(ERP_STATUSES),
        # Vista keeps retainage as a fraction at scale 4: the same integer as percent at scale 2.
        retainage_pct=raw["retainage_pct"].fillna(0),
        start_date=_iso_dates(raw["start_date"]),
        projected_completion=_iso_dates(raw["projected_completion"]),
        original_amount=raw["original_amount"].fillna(0),
    )
    return conform(frame, CONTRACT_COLUMNS)


def _items_frame(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.sort_values(["erp_company", "contract_no", "item_no"])
    frame = raw.assign(
        position=raw.groupby("contract_no").cumcount() + 1,
        line_item_type=raw["bill_type"].map(BILL_TYPES),
        quantity=raw["quantity"].fillna(0),
        unit_cost=raw["unit_cost"].fillna(0),
    )
    return conform(frame, ITEM_COLUMNS)


def _iso_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")
