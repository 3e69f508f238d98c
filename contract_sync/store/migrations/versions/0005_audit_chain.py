"""A tamper-evident audit log: run records become append-only events (the start in
sync_runs, the end in run_ends), every audit record is chained by hash (audit_chain, built
here over the existing log), and the databases refuse what they can: UPDATE and DELETE on
every audit table, TRUNCATE on PostgreSQL, REPLACE on SQLite (whose implicit delete fires
no DELETE trigger).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from contract_sync.store import chain
from contract_sync.store import schema as s

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEWLY_APPEND_ONLY = ["sync_runs", "run_ends", "audit_chain"]
ALL_APPEND_ONLY = [*NEWLY_APPEND_ONLY, "audit_contracts", "audit_changes", "directory_changes"]


def upgrade() -> None:
    op.create_table(
        "run_ends",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contracts_repeated", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["sync_runs.id"], name=op.f("fk_run_ends_run_id")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_ends")),
    )
    op.execute(
        "INSERT INTO run_ends (run_id, status, at) "
        "SELECT id, status, COALESCE(finished_at, started_at) FROM sync_runs "
        "WHERE status <> 'running'"
    )
    # A run still `running` now was killed (no run is alive during a migration): abandoned,
    # found so now.
    op.execute(
        "INSERT INTO run_ends (run_id, status, at) "
        "SELECT id, 'abandoned', CURRENT_TIMESTAMP FROM sync_runs WHERE status = 'running'"
    )
    op.execute("ALTER TABLE sync_runs DROP COLUMN status")
    op.execute("ALTER TABLE sync_runs DROP COLUMN finished_at")
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record_table", sa.String(length=40), nullable=False),
        sa.Column("record_key", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_chain")),
        sa.UniqueConstraint("record_table", "record_key", name=op.f("uq_audit_chain_record")),
    )
    chain.rebuild(op.get_bind())
    _create_guards()


def downgrade() -> None:
    _drop_guards()
    op.drop_table("audit_chain")
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="running")
        )
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE sync_runs SET status = (SELECT status FROM run_ends WHERE run_id = sync_runs.id), "
        "finished_at = (SELECT at FROM run_ends WHERE run_id = sync_runs.id) "
        "WHERE id IN (SELECT run_id FROM run_ends)"
    )
    op.drop_table("run_ends")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_guards() -> None:
    for table in NEWLY_APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            _refuse(table, action.lower(), f"BEFORE {action} ON {table}")
    for table in ALL_APPEND_ONLY:
        if _postgresql():
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
            )
        else:  # REPLACE deletes the row it collides with: refuse the colliding insert
            _refuse(table, "replace", f"BEFORE INSERT ON {table} WHEN {_collides(table)}")


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


def _drop_guards() -> None:
    names = [(t, a) for t in NEWLY_APPEND_ONLY for a in ("update", "delete")]
    names += [(t, "truncate" if _postgresql() else "replace") for t in ALL_APPEND_ONLY]
    for table, action in names:
        op.execute(f"DROP TRIGGER {table}_no_{action}" + (f" ON {table}" if _postgresql() else ""))
