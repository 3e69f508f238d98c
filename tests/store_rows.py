"""Looking up store rows in tests."""

from __future__ import annotations

import sqlalchemy as sa

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
