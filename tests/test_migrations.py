"""Migrations: replayed from 0001 on an empty store, they make what the models describe
(alembic's own comparison, the names of constraints and indexes, every append-only guard);
0005 chains an existing log to the digests it made when it was written; and no migration
imports code of contract_sync outside its own package, so a later change to the models or
to the chain never changes what an old revision makes."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.db import (
    MIGRATIONS,
    _alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from contract_sync.store.types import Amount

FROZEN = "contract_sync.store.migrations"


@pytest.fixture
def replayed(database_url) -> Iterator[sa.Engine]:
    """An empty store taken through every migration, 0001 to head."""
    engine = make_engine(database_url("store"))
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_replayed_schema_is_the_models(replayed):
    """What `alembic check` compares: tables, columns, types, nullability, server defaults,
    indexes, unique constraints and foreign keys."""
    options = {"compare_type": True, "compare_server_default": True}
    with replayed.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        assert compare_metadata(context, s.metadata) == []


def test_the_replayed_constraints_and_indexes_have_the_models_names(replayed):
    """What alembic's comparison leaves out: a constraint of the same columns, named otherwise."""
    assert _names_in_database(replayed) == _names_in_models()


def test_every_append_only_guard_is_there_after_the_replay(replayed):
    last = "truncate" if replayed.dialect.name == "postgresql" else "replace"
    expected = {
        (table, f"{table}_no_{action}")
        for table in s.APPEND_ONLY_TABLES
        for action in ("update", "delete", last)
    }
    assert _triggers(replayed) == expected


def test_a_downgrade_to_the_base_undoes_every_revision_and_the_replay_makes_them_again(
    replayed,
):
    with replayed.begin() as connection:
        command.downgrade(_alembic_config(connection), "base")
    assert set(sa.inspect(replayed).get_table_names()) == {"alembic_version"}
    assert _triggers(replayed) == set()
    upgrade(replayed)
    assert current_revision(replayed) == head_revision()
    assert len(_triggers(replayed)) == 3 * len(s.APPEND_ONLY_TABLES)


def test_0005_chains_an_existing_log_to_the_digests_it_made_when_written(database_url):
    """The log of a store at 0004, chained by 0005: the head is the one 0005 computed when it
    was written (the same on both databases), and today's chain verifies it."""
    engine = make_engine(database_url("store"))
    upgrade(engine, "0004")
    with engine.begin() as connection:
        _write_log_of_0004(connection)
    upgrade(engine, "0005")
    with engine.connect() as connection:
        last = "SELECT seq, digest FROM audit_chain ORDER BY seq DESC LIMIT 1"
        head = tuple(connection.execute(sa.text(last)).one())
    assert head == (14, "3dc4661752d227a059b51eabc447a84cdefb5d5239eb96f52ca3efad20af22f5")
    upgrade(engine)
    with engine.connect() as connection:
        verdict = chain.verify(connection)
    engine.dispose()
    assert (verdict.records, verdict.head, verdict.problem) == (14, head, None)


def test_no_migration_imports_code_of_contract_sync_outside_its_package():
    files = sorted(p for p in MIGRATIONS.rglob("*") if p.suffix in (".py", ".mako"))
    assert {p.name for p in files} >= {"env.py", "guards.py", "0001_initial_store_schema.py"}
    outside = [
        f"{path.relative_to(MIGRATIONS)}: {name}"
        for path in files
        for name in _imported(_python_of(path), _package_of(path))
        if _outside_migrations(name)
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("import contract_sync.store.types", FROZEN),
        ("from contract_sync.store import schema", FROZEN),
        ("from contract_sync import store", FROZEN),
        ("from ... import chain", f"{FROZEN}.versions"),
    ],
)
def test_the_import_check_finds_live_code(source, package):
    assert any(_outside_migrations(name) for name in _imported(source, package))


def test_the_import_check_lets_the_frozen_package_through():
    source = "from contract_sync.store.migrations import guards\nfrom .. import guards"
    assert not any(_outside_migrations(n) for n in _imported(source, f"{FROZEN}.versions"))


def _names_in_models() -> set[tuple[str, str, str]]:
    names = set()
    for table in s.metadata.tables.values():
        names.add((table.name, "primary key", table.primary_key.name))
        names |= {(table.name, "index", index.name) for index in table.indexes}
        for constraint in table.constraints:
            kind = {
                sa.UniqueConstraint: "unique",
                sa.ForeignKeyConstraint: "foreign key",
                sa.CheckConstraint: "check",
            }.get(type(constraint))
            if kind:
                names.add((table.name, kind, constraint.name))
    return names


def _names_in_database(engine: sa.Engine) -> set[tuple[str, str, str]]:
    inspector = sa.inspect(engine)
    names = set()
    for table in set(inspector.get_table_names()) - {"alembic_version"}:
        names.add((table, "primary key", inspector.get_pk_constraint(table)["name"]))
        for kind, found in [
            ("unique", inspector.get_unique_constraints(table)),
            ("foreign key", inspector.get_foreign_keys(table)),
            ("check", inspector.get_check_constraints(table)),
            # PostgreSQL lists a unique constraint's index too: the constraint is counted.
            (
                "index",
                [i for i in inspector.get_indexes(table) if "duplicates_constraint" not in i],
            ),
        ]:
            names |= {(table, kind, item["name"]) for item in found}
    return names


def _triggers(engine: sa.Engine) -> set[tuple[str, str]]:
    """(table, trigger) of every trigger made by the migrations (not PostgreSQL's own
    triggers behind foreign keys)."""
    if engine.dialect.name == "postgresql":
        query = "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        query = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
    with engine.connect() as connection:
        return {tuple(row) for row in connection.execute(sa.text(query))}


def _python_of(path: Path) -> str:
    """A file's Python; of the migration template, its import lines."""
    text = path.read_text()
    if path.suffix == ".mako":
        return "\n".join(
            line for line in text.splitlines() if line.startswith(("import ", "from "))
        )
    return text


def _package_of(path: Path) -> str:
    folders = path.parent.relative_to(MIGRATIONS).parts
    return ".".join([FROZEN, *folders])


def _imported(source: str, package: str) -> Iterator[str]:
    """Every module or name the source imports, in full (relative imports resolved)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _outside_migrations(name: str) -> bool:
    of_contract_sync = name == "contract_sync" or name.startswith("contract_sync.")
    return of_contract_sync and not (name == FROZEN or name.startswith(f"{FROZEN}."))


def _tables_of_0004() -> dict[str, sa.Table]:
    """The audit tables as they were at revision 0004 (runs with their status and end)."""
    tables = sa.MetaData()
    text, time = sa.String, sa.DateTime(timezone=True)
    columns = {
        "sync_runs": [
            ("id", text), ("company_id", sa.Integer), ("trigger", text), ("deployment", text),
            ("actor", text), ("parameters", sa.JSON), ("dry_run", sa.Boolean),
            ("status", text), ("started_at", time), ("finished_at", time),
        ],
        "audit_contracts": [
            ("id", sa.Integer), ("run_id", text), ("erp_company", sa.Integer),
            ("contract_no", text), ("project_id", sa.Integer), ("contract_id", sa.Integer),
            ("outcome", text), ("reasons", text), ("failed_expectations", sa.JSON),
            ("error", text), ("items_added", sa.Integer), ("items_changed", sa.Integer),
            ("items_removed", sa.Integer), ("items_unchanged", sa.Integer),
            ("header_changes", sa.Integer), ("amount_before", Amount()),
            ("amount_after", Amount()), ("erp_hash", text), ("version_before", sa.Integer),
            ("version_after", sa.Integer), ("recorded_at", time),
        ],
        "audit_changes": [
            ("id", sa.Integer), ("audit_id", sa.Integer), ("item_no", text), ("change", text),
            ("field", text), ("before", text), ("after", text), ("overwritten", sa.Boolean),
        ],
        "directory_changes": [
            ("id", sa.Integer), ("change_set", text), ("recorded_at", time), ("actor", text),
            ("source", text), ("erp_company", sa.Integer), ("entry", text), ("kind", text),
            ("action", text), ("before", sa.JSON), ("after", sa.JSON),
            ("security_event", sa.Boolean),
        ],
    }  # fmt: skip
    return {
        name: sa.Table(name, tables, *(sa.Column(c, kind) for c, kind in table_columns))
        for name, table_columns in columns.items()
    }


def _at(day: int, hour: int, minute: int, microsecond: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, 0, microsecond, tzinfo=UTC)


RUNS = ["0b5c1a7e-0000-4000-8000-00000000000a", "0b5c1a7e-0000-4000-8000-00000000000b"]
RUNS += ["0b5c1a7e-0000-4000-8000-00000000000c"]


def _write_log_of_0004(connection: sa.Connection) -> None:
    """Three ended runs (one without its end time), contracts with amounts, failures and an
    error, field changes, and directory changes between and at the same time as them."""
    t = _tables_of_0004()
    run = {"company_id": None, "deployment": None, "actor": "admin", "dry_run": False}
    connection.execute(
        t["sync_runs"].insert(),
        [
            {**run, "id": RUNS[0], "trigger": "cli", "status": "completed",
             "parameters": {"companies": [1], "note": "reprise à zéro"},
             "started_at": _at(1, 9, 0, 123456), "finished_at": _at(1, 9, 5)},
            {**run, "id": RUNS[1], "trigger": "scheduled", "deployment": "sync/scheduled",
             "dry_run": True, "status": "failed", "parameters": {},
             "started_at": _at(2, 10, 0), "finished_at": None},
            {**run, "id": RUNS[2], "trigger": "manual", "status": "failed",
             "parameters": {"contracts": ["24003-"]},
             "started_at": _at(3, 8, 0), "finished_at": _at(3, 8, 30, 500000)},
        ],
    )  # fmt: skip
    counts = {"items_added": 2, "items_changed": 1, "items_removed": 0, "items_unchanged": 5}
    empty = ["failed_expectations", "error", "amount_before", "amount_after", "erp_hash"]
    empty += ["version_before", "version_after"]
    contract = {**dict.fromkeys(empty), **counts, "project_id": 3, "contract_id": 7}
    contract |= {"reasons": "", "header_changes": 1}
    connection.execute(
        t["audit_contracts"].insert(),
        [
            {**contract, "id": 1, "run_id": RUNS[0], "erp_company": 1, "contract_no": "24001-",
             "outcome": "reimported", "amount_before": 1_234_567, "amount_after": -50,
             "erp_hash": "ab" * 32, "version_before": 1, "version_after": 2,
             "recorded_at": _at(1, 9, 1)},
            {**contract, "id": 2, "run_id": RUNS[0], "erp_company": 1, "contract_no": "24002-",
             "outcome": "blocked", "reasons": "failed_validation", "header_changes": 0,
             "failed_expectations": [{"column": "uom", "expectation": "not_null"}],
             "recorded_at": _at(1, 9, 2, 750000)},
            {**contract, "id": 3, "run_id": RUNS[2], "erp_company": 2, "contract_no": "24003-",
             "outcome": "failed", "error": "ERP unreachable: timeout", "project_id": None,
             "contract_id": None, "recorded_at": _at(3, 8, 10)},
        ],
    )  # fmt: skip
    change = {"item_no": None, "change": "changed", "overwritten": False}
    connection.execute(
        t["audit_changes"].insert(),
        [
            {**change, "id": 1, "audit_id": 1, "item_no": "010", "field": "amount",
             "before": "12.34", "after": "-0.50", "overwritten": True},
            {**change, "id": 2, "audit_id": 1, "field": "title", "before": "Old",
             "after": "Nouveau «titre»"},
            {**change, "id": 3, "audit_id": 2, "item_no": "020", "change": "added",
             "field": None, "before": None, "after": None},
        ],
    )  # fmt: skip
    entry = {"change_set": "5d0c9a4e-0000-4000-8000-000000000001", "actor": "admin",
             "source": "directory.yaml", "erp_company": 1}  # fmt: skip
    connection.execute(
        t["directory_changes"].insert(),
        [
            {**entry, "id": 1, "recorded_at": datetime(2024, 2, 28, 8, 0, tzinfo=UTC),
             "entry": "company 1", "kind": "company", "action": "added", "before": None,
             "after": {"name": "Société Générale de Bâtiment"}, "security_event": False},
            {**entry, "id": 2, "recorded_at": _at(1, 9, 1), "erp_company": None,
             "entry": "user jdoe", "kind": "permission", "action": "changed",
             "before": {"level": "read_only"}, "after": {"level": "admin"},
             "security_event": True},
        ],
    )  # fmt: skip
