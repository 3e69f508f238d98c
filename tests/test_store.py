"""The project store: migrations, the schema check, exact money, the append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from contract_sync.store import schema as s
from contract_sync.store.db import (
    StoreSchemaError,
    current_revision,
    head_revision,
    make_engine,
    require_current_schema,
    upgrade,
)
from contract_sync.store.types import exact


def test_upgrade_reaches_head_and_is_repeatable(database_url):
    engine = make_engine(database_url("store"))
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    require_current_schema(engine)
    assert set(s.metadata.tables) <= set(sa.inspect(engine).get_table_names())


def test_out_of_date_schema_is_refused_with_the_command_to_run(database_url):
    engine = make_engine(database_url("store"))
    with pytest.raises(StoreSchemaError, match="not initialised.*contract-sync db upgrade"):
        require_current_schema(engine)


def test_money_round_trips_exactly(empty_sides):
    cents = [999_999_999, -12_345, 1, 10 + 20]  # 9,999,999.99; a credit; 0.01; 0.10 + 0.20
    with empty_sides.store.begin() as connection:
        connection.execute(s.companies.insert(), {"id": 1, "erp_company": 1, "name": "Co"})
        connection.execute(
            s.projects.insert(), {"id": 1, "company_id": 1, "number": "P", "name": "P"}
        )
        for number, amount in enumerate(cents):
            connection.execute(
                s.main_contracts.insert(),
                {
                    "company_id": 1,
                    "project_id": 1,
                    "origin_id": str(number),
                    "number": str(number),
                    "status": "Approved",
                    "original_amount": amount,
                    "retainage_pct": 1000,
                },
            )
    with empty_sides.store.connect() as connection:
        stored = (
            connection.execute(
                sa.select(s.main_contracts.c.original_amount).order_by(s.main_contracts.c.id)
            )
            .scalars()
            .all()
        )
    assert stored == cents
    assert all(type(v) is int for v in stored)
    bulk = sa.select(exact(s.main_contracts.c.original_amount, empty_sides.store.dialect.name))
    with empty_sides.store.connect() as connection:  # the bulk read, computed by the database
        assert connection.execute(bulk.order_by(s.main_contracts.c.id)).scalars().all() == cents


def _audit_row(connection: sa.Connection) -> None:
    connection.execute(
        s.sync_runs.insert(),
        {
            "id": "run-1",
            "trigger": "cli",
            "actor": "admin",
            "parameters": {},
            "dry_run": False,
            "started_at": datetime.now(UTC),
        },
    )
    connection.execute(
        s.audit_contracts.insert(),
        {
            "run_id": "run-1",
            "erp_company": 1,
            "contract_no": "24001-",
            "outcome": "blocked",
            "reasons": "no_updates",
            "items_added": 0,
            "items_changed": 0,
            "items_removed": 0,
            "items_unchanged": 3,
            "header_changes": 0,
            "recorded_at": datetime.now(UTC),
        },
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_contracts SET outcome = 'reimported'",
        "DELETE FROM audit_contracts",
    ],
)
def test_the_database_refuses_to_change_the_audit_log(empty_sides, statement):
    with empty_sides.store.begin() as connection:
        _audit_row(connection)
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        empty_sides.store.begin() as connection,
    ):
        connection.execute(sa.text(statement))
    with empty_sides.store.connect() as connection:
        row = connection.execute(sa.select(s.audit_contracts.c.outcome)).one()
    assert row.outcome == "blocked"


def test_padded_baseline_item_numbers_of_an_older_store_are_trimmed(seeded):
    """A store written before codes were matched on their normal form holds Vista's padded
    item numbers in its baselines: the upgrade trims them, and keeps one row of an item
    held twice (the trimmed one, or one of two padded ones)."""
    b = s.baseline_items
    with seeded.store.begin() as connection:
        contract = connection.execute(sa.select(sa.func.min(b.c.contract_id))).scalar_one()
        rows = connection.execute(
            sa.select(b).where(b.c.contract_id == contract).order_by(b.c.item_no)
        ).all()
        padded, twice, padded_twice = rows[0].item_no, rows[1].item_no, rows[2].item_no
        connection.execute(
            b.update()
            .where(b.c.contract_id == contract, b.c.item_no == padded)
            .values(item_no=sa.literal("      ") + b.c.item_no)
        )
        connection.execute(b.insert().values({**rows[1]._asdict(), "item_no": f"   {twice}"}))
        trimmed = b.delete().where(b.c.contract_id == contract, b.c.item_no == padded_twice)
        connection.execute(trimmed)
        for text in (f"  {padded_twice}", f" {padded_twice}"):
            connection.execute(b.insert().values({**rows[2]._asdict(), "item_no": text}))
        # Back to 0006: what 0008 to 0011 add goes too.
        connection.execute(sa.text("ALTER TABLE import_baselines DROP COLUMN erp_status"))
        connection.execute(sa.text("DROP TABLE store_intents"))
        connection.execute(sa.text("DROP TABLE undo_images"))  # and what 0010 and 0011 add
        connection.execute(sa.text("DROP TABLE notices"))
        for table, column in (
            ("users", "email"),
            ("line_items", "remote_id"),
            ("main_contracts", "change_orders_approved"),
            ("main_contracts", "items_read_at"),
            ("main_contracts", "remote_total"),
            ("main_contracts", "remote_updated_at"),
            ("main_contracts", "remote_id"),
            ("projects", "contracts_read_at"),
            ("projects", "remote_id"),
        ):
            connection.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    upgrade(seeded.store)
    with seeded.store.connect() as connection:
        after = connection.execute(
            sa.select(b).where(b.c.contract_id == contract).order_by(b.c.item_no)
        ).all()
    assert current_revision(seeded.store) == head_revision()
    assert after == rows
