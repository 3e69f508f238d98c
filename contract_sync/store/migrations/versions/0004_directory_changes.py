"""The directory's change log, made append-only by triggers as the audit log is (0001).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "directory_changes"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_set", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("erp_company", sa.Integer(), nullable=True),
        sa.Column("entry", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("security_event", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_changes")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index("ix_directory_changes_recorded_at", ["recorded_at"], unique=False)
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_directory_changes_recorded_at")
    op.drop_table(TABLE)


def _create_append_only_triggers() -> None:
    # On PostgreSQL the trigger function refuse_audit_change() comes from migration 0001.
    postgresql = op.get_bind().dialect.name == "postgresql"
    for action in ("UPDATE", "DELETE"):
        name = f"{TABLE}_no_{action.lower()}"
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON {TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON {TABLE} BEGIN "
                f"SELECT RAISE(ABORT, 'the audit log is append-only: {action} on {TABLE} "
                "refused'); END"
            )


def _drop_append_only_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER {TABLE}_no_{action}" + (f" ON {TABLE}" if postgresql else ""))
