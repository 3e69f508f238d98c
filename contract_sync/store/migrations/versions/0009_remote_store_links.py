"""When the project store is Procore (CONTRACT_SYNC_STORE=procore), this database is the
ledger beside it: it keeps the audit, the baselines and a mirror of what the run read from
Procore. `remote_id` links a project, a contract and a line item of the mirror to Procore's
record; `remote_updated_at` is the contract's updated_at as last read, `remote_total` its
grand_total (cents) then, `items_read_at` when its line items were last read (edits since
are found through updated_at filters), and a project's `contracts_read_at` when its
contracts were last listed (a company with more projects than an hour's requests is
listed in part, stalest first). `store_intents`
records the writes of a contract before the first call to Procore is sent, and is cleared
in the transaction that records their end: an intent left behind is a contract written in
part (shown as `partial`, completed by the next run).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("remote_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("contracts_read_at", sa.String(length=40), nullable=True))
    with op.batch_alter_table("main_contracts") as batch:
        batch.add_column(sa.Column("remote_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("remote_updated_at", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("remote_total", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("items_read_at", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("change_orders_approved", sa.Integer(), nullable=True))
    with op.batch_alter_table("line_items") as batch:
        batch.add_column(sa.Column("remote_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "store_intents",
        sa.Column("erp_company", sa.Integer(), nullable=False),
        sa.Column("contract_no", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("erp_hash", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("erp_company", "contract_no", name="pk_store_intents"),
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (PostgreSQL; SQLite 3.35 and later): a batch would copy the
    # tables, which rows of other tables refer to by foreign key.
    op.drop_table("store_intents")
    for table, column in (
        ("line_items", "remote_id"),
        ("main_contracts", "change_orders_approved"),
        ("main_contracts", "items_read_at"),
        ("main_contracts", "remote_total"),
        ("main_contracts", "remote_updated_at"),
        ("main_contracts", "remote_id"),
        ("projects", "contracts_read_at"),
        ("projects", "remote_id"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
