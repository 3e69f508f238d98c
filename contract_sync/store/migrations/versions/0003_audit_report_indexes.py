"""Indexes for audit reports over long histories (by time).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_contracts_recorded_at", "audit_contracts", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_contracts_recorded_at", table_name="audit_contracts")
