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

from contract_sync.store.migrations import chain_0005, guards

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEWLY_APPEND_ONLY = ["sync_runs", "run_ends", "audit_chain"]
# Every append-only table at this revision, with its primary key then its unique keys: on
# SQLite, an insert matching a row already there on one of them (a REPLACE) is refused.
APPEND_ONLY_KEYS = {
    "sync_runs": [("id",)],
    "run_ends": [("run_id",)],
    "audit_chain": [("seq",), ("record_table", "record_key")],
    "audit_contracts": [("id",), ("run_id", "erp_company", "contract_no")],
    "audit_changes": [("id",)],
    "directory_changes": [("id",)],
}


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
    # The tables chained at this revision (later revisions chain tables of their own), by
    # the chain's code as it was then.
    chain_0005.rebuild(op.get_bind())
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


def _create_guards() -> None:
    guards.create_update_delete_guards(NEWLY_APPEND_ONLY)
    guards.create_truncate_replace_guards(APPEND_ONLY_KEYS)


def _drop_guards() -> None:
    guards.drop_guards(NEWLY_APPEND_ONLY, list(APPEND_ONLY_KEYS))
