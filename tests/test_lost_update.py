"""No lost update: an item edited in the store while a sync applies, without the contract's
version moving, is not overwritten; the contract is refused as stale, the others written.
On the SQL store and on Procore."""

from __future__ import annotations

from contract_sync.demo.edit import edit_erp
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport

EDITED = "Edited in the store while the sync applied"


def test_an_item_edited_mid_apply_is_kept_and_its_contract_stale(store):
    edited = sorted(edit_erp(store.sides.erp, 1, 1.0, seed=21).contracts)
    edit = {}

    def edit_an_item_meanwhile(plan: Plan) -> None:
        target = plan.audit.loc[plan.audit["outcome"] == "reimported", "contract_no"].iloc[0]
        item = store.items(target).index[0]
        store.edit_item(target, item, description=EDITED)  # a store user saves one line
        edit.update(target=target, item=item)

    request = Request(company=1, actor="admin", full_refresh=True)
    audit = reimport(store.settings, request, hooks=Hooks(planned=edit_an_item_meanwhile)).audit
    audit = audit.set_index("contract_no")

    target = edit["target"]
    assert (audit.loc[target, "outcome"], audit.loc[target, "reasons"]) == ("blocked", "stale")
    assert audit.loc[target, "amount_after"] == audit.loc[target, "amount_before"]  # unwritten
    assert store.items(target).loc[edit["item"], "description"] == EDITED
    others = [c for c in edited if c != target and audit.loc[c, "outcome"] != "blocked"]
    assert others and (audit.loc[others, "outcome"] == "reimported").all()
