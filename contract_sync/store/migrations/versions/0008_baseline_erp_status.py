"""The ERP status at the last import, kept with the baseline: a status change in the ERP
(soft close to hard close, pending to open) is then a change a run shows and records,
instead of "nothing changed". Existing baselines hold no status (NULL): no status change is
reported for them until their next re-import or settle records the status.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_baselines") as batch:
        batch.add_column(sa.Column("erp_status", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_baselines") as batch:
        batch.drop_column("erp_status")
