"""Append-only guards for audit tables, as migrations create them: UPDATE and DELETE
refused on both databases, TRUNCATE on PostgreSQL, and on SQLite an insert colliding with a
key already there (REPLACE's implicit delete fires no DELETE trigger). On PostgreSQL the
trigger function refuse_audit_change() comes from migration 0001."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from contract_sync.store import schema as s


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_update_delete_guards(tables: list[str]) -> None:
    for table in tables:
        for action in ("UPDATE", "DELETE"):
            _refuse(table, action.lower(), f"BEFORE {action} ON {table}")


def create_truncate_replace_guards(tables: list[str]) -> None:
    for table in tables:
        if _postgresql():
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
            )
        else:
            _refuse(table, "replace", f"BEFORE INSERT ON {table} WHEN {_collides(table)}")


def drop_guards(update_delete: list[str], truncate_replace: list[str]) -> None:
    names = [(t, a) for t in update_delete for a in ("update", "delete")]
    names += [(t, "truncate" if _postgresql() else "replace") for t in truncate_replace]
    for table, action in names:
        op.execute(f"DROP TRIGGER {table}_no_{action}" + (f" ON {table}" if _postgresql() else ""))


def _collides(table: str) -> str:
    """SQL true when NEW has the primary key or a unique key of a row already there."""
    definition = s.metadata.tables[table]
    keys = [list(definition.primary_key.columns)] + [
        list(c.columns) for c in definition.constraints if isinstance(c, sa.UniqueConstraint)
    ]
    matches = " OR ".join(
        "(" + " AND ".join(f"{column.name} = NEW.{column.name}" for column in key) + ")"
        for key in keys
    )
    return f"EXISTS (SELECT 1 FROM {table} WHERE {matches})"


def _refuse(table: str, action: str, when: str) -> None:
    name = f"{table}_no_{action}"
    if _postgresql():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, "
            f"'the audit log is append-only: {action.upper()} on {table} refused'); END"
        )
