"""The append-only guards of the current schema: on every audit table a trigger refusing
UPDATE, one refusing DELETE, and TRUNCATE (PostgreSQL) or a REPLACE's insert over a key
already there (SQLite); on PostgreSQL each calls refuse_audit_change(). `guard_problems`
reads what the database holds of them and names each guard missing, disabled or altered."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from contract_sync.store import schema as s

REFUSING_FUNCTION = "refuse_audit_change"
# The body migration 0001 gave it, whitespace aside.
REFUSING_BODY = (
    "BEGIN RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, "
    "TG_TABLE_NAME; END"
)


@dataclass(frozen=True)
class Guard:
    table: str
    action: str  # update, delete, truncate (PostgreSQL) or replace (SQLite)

    @property
    def name(self) -> str:
        return f"{self.table}_no_{self.action}"


@dataclass(frozen=True)
class _Held:
    """A trigger as the database holds it."""

    table: str
    definition: str  # whitespace collapsed
    enabled: bool


def expected_guards(dialect: str) -> list[Guard]:
    """Every guard the current schema's audit tables should have on this database."""
    last = "truncate" if dialect == "postgresql" else "replace"
    return [
        Guard(table, action)
        for table in s.APPEND_ONLY_TABLES
        for action in ("update", "delete", last)
    ]


def guard_problems(connection: sa.Connection, skipped: set[str] = frozenset()) -> list[str]:
    """Each guard missing, disabled or altered (the tables `skipped` aside), in words."""
    postgresql = connection.dialect.name == "postgresql"
    held = _held_postgresql(connection) if postgresql else _held_sqlite(connection)
    faults: dict[str, list[str]] = {"missing": [], "disabled": [], "altered": []}
    for guard in expected_guards(connection.dialect.name):
        found = held.get(guard.name)
        if guard.table in skipped:
            continue
        if found is None or found.table != guard.table:
            faults["missing"].append(guard.name)
        elif not found.enabled:
            faults["disabled"].append(guard.name)
        elif not _refuses(guard, found.definition, postgresql):
            faults["altered"].append(guard.name)
    problems = [_in_words(names, fault) for fault, names in faults.items() if names]
    if postgresql and not _function_refuses(connection):
        problems.append(
            f"the function {REFUSING_FUNCTION}() that every guard calls was altered: it no "
            "longer refuses"
        )
    return problems


# A fault of guards in words: (of one guard, of several).
FAULTS = {
    "missing": ("is missing (dropped)", "are missing (dropped)"),
    "disabled": ("is disabled", "are disabled"),
    "altered": (
        "was altered: it no longer refuses what it should",
        "were altered: they no longer refuse what they should",
    ),
}


def _in_words(names: list[str], fault: str) -> str:
    one, several = FAULTS[fault]
    if len(names) == 1:
        return f"the append-only guard {names[0]} {one}"
    return f"the append-only guards {', '.join(names)} {several}"


def _held_postgresql(connection: sa.Connection) -> dict[str, _Held]:
    rows = connection.execute(
        sa.text(
            "SELECT c.relname, t.tgname, t.tgenabled IN ('O', 'A'), pg_get_triggerdef(t.oid) "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    )
    return {name: _Held(table, _plain(sql), enabled) for table, name, enabled, sql in rows}


def _held_sqlite(connection: sa.Connection) -> dict[str, _Held]:
    rows = connection.execute(
        sa.text("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")
    )
    return {name: _Held(table, _plain(sql or ""), True) for table, name, sql in rows}


def _refuses(guard: Guard, definition: str, postgresql: bool) -> bool:
    """The trigger still refuses what its guard is for, as the migrations made it."""
    if postgresql:
        each = "STATEMENT" if guard.action == "truncate" else "ROW"
        shape = (
            rf"CREATE TRIGGER {guard.name} BEFORE {guard.action.upper()} ON (\w+\.)?"
            rf"{guard.table} FOR EACH {each} EXECUTE FUNCTION (\w+\.)?{REFUSING_FUNCTION}\(\)"
        )
        return re.fullmatch(shape, definition) is not None
    return definition == definition_sql(guard, "sqlite")


def definition_sql(guard: Guard, dialect: str) -> str:
    """The SQL that makes the guard, as migrations 0001, 0005 and 0006 make it."""
    if dialect == "postgresql":
        each = "STATEMENT" if guard.action == "truncate" else "ROW"
        return (
            f"CREATE TRIGGER {guard.name} BEFORE {guard.action.upper()} ON {guard.table} "
            f"FOR EACH {each} EXECUTE FUNCTION {REFUSING_FUNCTION}()"
        )
    event = "INSERT" if guard.action == "replace" else guard.action.upper()
    when = f" WHEN {_collides(guard.table)}" if guard.action == "replace" else ""
    refused = f"the audit log is append-only: {guard.action.upper()} on {guard.table} refused"
    return (
        f"CREATE TRIGGER {guard.name} BEFORE {event} ON {guard.table}{when} "
        f"BEGIN SELECT RAISE(ABORT, '{refused}'); END"
    )


def _collides(table: str) -> str:
    """SQL true when NEW has a key (the primary key, then each unique key) of a row there."""
    model = s.metadata.tables[table]
    uniques = [c for c in model.constraints if isinstance(c, sa.UniqueConstraint)]
    keys = [model.primary_key, *sorted(uniques, key=lambda c: [col.name for col in c.columns])]
    matches = " OR ".join(
        "(" + " AND ".join(f"{col.name} = NEW.{col.name}" for col in key.columns) + ")"
        for key in keys
    )
    return f"EXISTS (SELECT 1 FROM {table} WHERE {matches})"


def _function_refuses(connection: sa.Connection) -> bool:
    body = connection.execute(
        sa.text(
            "SELECT prosrc FROM pg_proc WHERE proname = :name "
            "AND pronamespace = current_schema()::regnamespace"
        ),
        {"name": REFUSING_FUNCTION},
    ).scalar_one_or_none()
    return body is not None and _plain(body) == REFUSING_BODY


def _plain(sql: str) -> str:
    """SQL with its whitespace collapsed."""
    return " ".join(sql.split())
