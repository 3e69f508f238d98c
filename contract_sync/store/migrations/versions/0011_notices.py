"""Notifications: a user's email address (from the directory file), and the notices the
daily digest told (each once).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch copy of users on SQLite would drop the
    # table its sessions and permissions refer to.
    op.add_column("users", sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "notices",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notices")),
    )


def downgrade() -> None:
    op.drop_table("notices")
    op.drop_column("users", "email")
