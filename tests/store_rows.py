"""Looking up store rows in tests."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync.erp.vista_schema import JCCI
from contract_sync.store import schema as s


def contract_id(connection: sa.Connection, contract_no: str, company: int = 1) -> int:
    """The store id of the (single) contract imported from this ERP contract."""
    return connection.execute(
        sa.select(s.main_contracts.c.id).where(
            s.main_contracts.c.origin_id == contract_no, s.main_contracts.c.company_id == company
        )
    ).scalar_one()


def first_item(connection: sa.Connection, store_contract_id: int, column: sa.Column):  # noqa: ANN201
    """The smallest value of a line-item column (id or origin) in one store contract."""
    return connection.execute(
        sa.select(sa.func.min(column)).where(s.line_items.c.contract_id == store_contract_id)
    ).scalar_one()


def describe_first_item(
    sides, contract_no: str, *, store: str | None = None, erp: str | None = None
) -> tuple[int, str]:
    """Set the description of a contract's first item in the store, the ERP or both; returns
    the store contract's id and the item's number."""
    with sides.store.begin() as connection:
        store_id = contract_id(connection, contract_no)
        item_no = first_item(connection, store_id, s.line_items.c.origin_id)
        if store is not None:
            connection.execute(
                s.line_items.update()
                .where(s.line_items.c.contract_id == store_id, s.line_items.c.origin_id == item_no)
                .values(description=store)
            )
    if erp is not None:
        with sides.erp.begin() as connection:
            connection.execute(
                JCCI.update()
                .where(JCCI.c.JCCo == 1, JCCI.c.Contract == contract_no, JCCI.c.Item == item_no)
                .values(Description=erp)
            )
    return store_id, item_no
