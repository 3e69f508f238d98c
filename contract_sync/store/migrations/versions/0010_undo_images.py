"""Undo images: per contract a re-import writes, what it wrote over that its audit rows do
not say (the positions it moved, the baseline before it), for `contract-sync undo`.
Append-only, guarded as the audit tables are.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from contract_sync.store.migrations import guards

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "undo_images"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("image", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_undo_images_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "contract_id", name=op.f("pk_undo_images")),
    )
    guards.create_update_delete_guards([TABLE])
    guards.create_truncate_replace_guards({TABLE: [("run_id", "contract_id")]})


def downgrade() -> None:
    guards.drop_guards([TABLE], [TABLE])
    op.drop_table(TABLE)
