"""Baseline item numbers in their normal form (spaces trimmed), as the ERP readers give them
since codes are matched on one normal form. A baseline written before kept Vista's padded
text; a re-import writes only the baseline items that differ, by their key, and would add
the trimmed key beside the padded one instead of replacing it. A padded row whose normal
form the contract's baseline already holds (one item twice) is dropped; of two padded rows
of one normal form, the one whose text sorts first is kept (the next re-import of the
contract writes the ERP's values over it).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM baseline_items WHERE item_no <> TRIM(item_no) AND EXISTS ("
        "SELECT 1 FROM baseline_items other "
        "WHERE other.contract_id = baseline_items.contract_id "
        "AND TRIM(other.item_no) = TRIM(baseline_items.item_no) "
        "AND (other.item_no = TRIM(other.item_no) OR other.item_no < baseline_items.item_no))"
    )
    op.execute("UPDATE baseline_items SET item_no = TRIM(item_no) WHERE item_no <> TRIM(item_no)")


def downgrade() -> None:
    """Nothing to undo: the padded text is not needed (the store's items keep the ERP's
    exact text as their origin id)."""
