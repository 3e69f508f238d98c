"""The store's items read one group ahead (contract_sync.items_ahead): a store user's edit
after the next group's items were read, while the group before is written, is kept and its
contract refused as stale, as an edit between read and write always is."""

from __future__ import annotations

import sqlalchemy as sa

from contract_sync import items_ahead
from contract_sync.demo.edit import edit_erp
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s

EDITED = "Edited in the store after the read ahead"


def test_an_edit_after_the_read_ahead_is_kept_and_its_contract_stale(seeded, monkeypatch):
    changed = set(edit_erp(seeded.erp, 1, 1.0, seed=21).contracts)
    submitted: list[tuple] = []  # (the reader, the contract ids of a group), as asked for
    real_ask = items_ahead.ItemsAhead.ask

    def recorded(self, contract_ids):  # noqa: ANN001, ANN202
        key = items_ahead._key(contract_ids)
        if key not in [ids for _, ids in submitted]:
            submitted.append((self, key))
        return real_ask(self, contract_ids)

    monkeypatch.setattr(items_ahead.ItemsAhead, "ask", recorded)
    planned, edited = [], {}

    def edit_the_next_group_meanwhile(plan: Plan) -> None:
        """Once the next group's items are read ahead, a store user edits an item of one of
        its contracts that the ERP changed."""
        planned.append(plan)
        if edited or len(submitted) < len(planned):
            return  # done, or no group after this one
        ahead, ids = submitted[len(planned) - 1]  # the first group is read when taken
        ahead._asked[ids].result()  # read ahead, not taken yet
        c, li = s.main_contracts.c, s.line_items.c
        numbers = sa.select(c.id, sa.func.trim(c.origin_id)).where(c.id.in_(ids))
        with seeded.store.begin() as connection:
            found = {n: i for i, n in connection.execute(numbers) if n in changed}
            if not found:
                return
            edited["contract_no"] = target = min(found)
            item = sa.select(sa.func.min(li.id)).where(li.contract_id == found[target])
            edited["item_id"] = connection.execute(item).scalar_one()
            update = s.line_items.update().where(li.id == edited["item_id"])
            connection.execute(update, {"description": EDITED})

    settings = Settings(
        erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False, group_items=7
    )
    request = Request(company=1, actor="admin", full_refresh=True)
    hooks = Hooks(planned=edit_the_next_group_meanwhile)
    audit = reimport(settings, request, hooks=hooks).audit.set_index("contract_no")

    assert len(planned) > 2 and len(submitted) == len(planned) - 1  # each later group
    target = edited["contract_no"]
    assert (audit.loc[target, "outcome"], audit.loc[target, "reasons"]) == ("blocked", "stale")
    with seeded.store.connect() as connection:
        description = connection.execute(
            sa.select(s.line_items.c.description).where(s.line_items.c.id == edited["item_id"])
        ).scalar_one()
    assert description == EDITED
    assert (audit["outcome"] == "reimported").sum() >= 3  # the others written
