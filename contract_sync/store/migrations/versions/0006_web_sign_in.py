"""Web sign-in: password hashes, sessions, run requests, and web_events (sign-ins, failed sign-ins,
refusals, runs started from the pages), append-only and chained like the audit log.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from contract_sync.store.migrations import guards

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EVENTS = "web_events"


def upgrade() -> None:
    op.create_table(
        "user_passwords",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_passwords_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_passwords")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "run_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("login", sa.String(length=80), nullable=False),
        sa.Column("erp_company", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("contract_no", sa.String(length=40), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("claimed_by_run", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_requests")),
    )
    op.create_index("ix_run_requests_flow_run_id", "run_requests", ["flow_run_id"])
    op.create_table(
        EVENTS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("login", sa.String(length=80), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("erp_company", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_events")),
    )
    op.create_index("ix_web_events_login_recorded_at", EVENTS, ["login", "recorded_at"])
    op.create_index("ix_web_events_client_recorded_at", EVENTS, ["client", "recorded_at"])
    guards.create_update_delete_guards([EVENTS])
    guards.create_truncate_replace_guards({EVENTS: [("id",)]})  # its keys: the primary key


def downgrade() -> None:
    # web_events are audit records, chained with the rest: never dropped with their rows.
    kept = op.get_bind().execute(sa.text(f"SELECT count(*) FROM {EVENTS}")).scalar_one()
    if kept:
        raise RuntimeError(
            f"{EVENTS} holds {kept} audit records (chained in audit_chain): a downgrade "
            "below 0006 would destroy them; restore a backup taken before 0006 instead"
        )
    guards.drop_guards([EVENTS], [EVENTS])
    op.drop_table(EVENTS)
    op.drop_index("ix_run_requests_flow_run_id", table_name="run_requests")
    op.drop_table("run_requests")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("user_passwords")
