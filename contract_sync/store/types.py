"""Exact decimal columns that read and write scaled integers."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa


class Scaled(sa.types.TypeDecorator):
    """NUMERIC(p, s) on PostgreSQL, a scaled INTEGER on SQLite (whose NUMERIC is a float).

    Python sees the scaled integer on both: 12.34 at scale 2 is 1234.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale))

    def process_bind_param(self, value: int | None, dialect: sa.Dialect) -> object:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(value)
        return Decimal(int(value)).scaleb(-self.scale)

    def process_result_value(self, value: object, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(value)
        return int(Decimal(value).scaleb(self.scale))


def Amount() -> Scaled:  # noqa: N802 - reads as a type in table definitions
    return Scaled(15, 2)


def Quantity() -> Scaled:  # noqa: N802
    return Scaled(15, 3)


def UnitCost() -> Scaled:  # noqa: N802
    return Scaled(15, 5)


def Percent() -> Scaled:  # noqa: N802
    return Scaled(5, 2)


def exact(column: sa.Column, dialect: str) -> sa.ColumnElement:
    """A column to read in bulk: a Scaled one as its scaled integer computed by the database,
    so that no Python function runs per value; any other column as it is."""
    if not isinstance(column.type, Scaled):
        return column
    if dialect == "sqlite":
        return sa.type_coerce(column, sa.BigInteger).label(column.name)
    numeric = sa.type_coerce(column, sa.Numeric())  # so the factor binds as a number
    return sa.cast(numeric * 10**column.type.scale, sa.BigInteger).label(column.name)
