"""Append-only guards for audit tables, as migrations 0005 and 0006 create them: UPDATE and
DELETE refused on both databases, TRUNCATE on PostgreSQL, and on SQLite an insert colliding
with a key already there (REPLACE's implicit delete fires no DELETE trigger). On PostgreSQL
the trigger function refuse_audit_change() comes from migration 0001.

Frozen as of revision 0006: each migration gives the tables' keys as they were when it was
written, and nothing here reads the models, so replaying those revisions makes the triggers
they made. A later revision that needs other guards writes them out itself."""

from __future__ import annotations

from alembic import op

# A table's keys: its primary key, then each unique key, as column names.
Keys = list[tuple[str, ...]]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_update_delete_guards(tables: list[str]) -> None:
    for table in tables:
        for action in ("UPDATE", "DELETE"):
            _refuse(table, action.lower(), f"BEFORE {action} ON {table}")


def create_truncate_replace_guards(keys: dict[str, Keys]) -> None:
    """Guards of the tables of `keys` (table -> its keys: on SQLite, an insert matching a
    row already there on any of them is refused)."""
    for table, table_keys in keys.items():
        if _postgresql():
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
            )
        else:
            when = f"BEFORE INSERT ON {table} WHEN {_collides(table, table_keys)}"
            _refuse(table, "replace", when)


def drop_guards(update_delete: list[str], truncate_replace: list[str]) -> None:
    names = [(t, a) for t in update_delete for a in ("update", "delete")]
    names += [(t, "truncate" if _postgresql() else "replace") for t in truncate_replace]
    for table, action in names:
        op.execute(f"DROP TRIGGER {table}_no_{action}" + (f" ON {table}" if _postgresql() else ""))


def _collides(table: str, keys: Keys) -> str:
    """SQL true when NEW has one of these keys of a row already there."""
    matches = " OR ".join(
        "(" + " AND ".join(f"{column} = NEW.{column}" for column in key) + ")" for key in keys
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
