"""No lost update: an item edited in the store while a sync applies, without the contract's
version moving, is not overwritten; the contract is refused as stale, the others written."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from tests.store_rows import contract_id, first_item


def test_an_item_edited_mid_apply_is_kept_and_its_contract_stale(seeded):
    edited = sorted(edit_erp(seeded.erp, 1, 1.0, seed=21).contracts)
    edit = {}

    def edit_an_item_meanwhile(plan: Plan) -> None:
        target = plan.audit.loc[plan.audit["outcome"] == "reimported", "contract_no"].iloc[0]
        with seeded.store.begin() as connection:  # a store user saves one line, nothing else
            item = first_item(connection, contract_id(connection, target), s.line_items.c.id)
            connection.execute(
                s.line_items.update()
                .where(s.line_items.c.id == item)
                .values(description="Edited in the store while the sync applied")
            )
        edit.update(target=target, item=item)

    settings = Settings(erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False)
    request = Request(company=1, actor="admin", full_refresh=True)
    audit = reimport(settings, request, hooks=Hooks(planned=edit_an_item_meanwhile)).audit
    audit = audit.set_index("contract_no")

    target = edit["target"]
    assert (audit.loc[target, "outcome"], audit.loc[target, "reasons"]) == ("blocked", "stale")
    assert audit.loc[target, "amount_after"] == audit.loc[target, "amount_before"]  # unwritten
    with seeded.store.connect() as connection:
        kept = connection.execute(
            sa.select(s.line_items.c.description).where(s.line_items.c.id == edit["item"])
        ).scalar_one()
    assert kept == "Edited in the store while the sync applied"
    others = [c for c in edited if c != target and audit.loc[c, "outcome"] != "blocked"]
    assert others and (audit.loc[others, "outcome"] == "reimported").all()
