"""The exact decimal type of the store's money and quantity columns, frozen as of revision
0001: the DDL the migrations make with it (NUMERIC(p, s) on PostgreSQL, a scaled INTEGER on
SQLite) and the values they read through it (0005 chains them) must stay what they were
when those revisions were written. Never make it follow contract_sync.store.types: a later
revision that needs another type freezes a module of its own (and env.py's
user_module_prefix moves to it)."""

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
