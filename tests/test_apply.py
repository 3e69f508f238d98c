"""Apply: one transaction per contract; a stale or failing one leaves only its audit row."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.run import Hooks, Request, reimport
from contract_sync.settings import Settings
from contract_sync.stages.plan import Plan
from contract_sync.store import schema as s


def _reimport(sides, before_apply: Callable[[Plan], None]) -> pd.DataFrame:
    """A full-refresh run as admin; `before_apply` sees the plan before it is written."""
    settings = Settings(erp_url=sides.erp_url, store_url=sides.store_url, data_docs=False)
    request = Request(company=1, actor="admin", full_refresh=True)
    result = reimport(settings, request, hooks=Hooks(planned=before_apply))
    return result.audit.set_index("contract_no")


def _contract(sides, contract_no: str):
    with sides.store.connect() as connection:
        header = connection.execute(
            sa.select(s.main_contracts).where(
                s.main_contracts.c.origin_id == contract_no, s.main_contracts.c.company_id == 1
            )
        ).one()
        items = connection.execute(
            sa.select(s.line_items)
            .where(s.line_items.c.contract_id == header.id)
            .order_by(s.line_items.c.id)
        ).all()
    return header, items


def test_a_failing_contract_is_rolled_back_and_the_others_applied(seeded):
    edited = edit_erp(seeded.erp, 1, 1.0, seed=4)
    victim = sorted(edited.contracts)[0]
    before = _contract(seeded, victim)

    def break_victim(plan: Plan) -> None:  # a value the database refuses, mid-writes
        items = plan.comparison.items
        broken = items["contract_no"].eq(victim) & items["change"].isin(["changed", "added"])
        items.loc[broken[broken].index[-1], "position"] = pd.NA

    audit = _reimport(seeded, break_victim)

    assert audit.loc[victim, "outcome"] == "failed"
    assert "position" in audit.loc[victim, "error"] or "NULL" in audit.loc[victim, "error"].upper()
    assert _contract(seeded, victim) == before
    others = [c for c in edited.contracts if c != victim]
    assert (audit.loc[others, "outcome"] == "reimported").all()
    with seeded.store.connect() as connection:
        recorded = connection.execute(
            sa.select(s.audit_contracts.c.outcome).where(s.audit_contracts.c.contract_no == victim)
        ).scalar_one()
    assert recorded == "failed"


def test_a_contract_changed_after_compare_is_stale_and_untouched(seeded):
    edited = edit_erp(seeded.erp, 1, 1.0, seed=5)
    target = sorted(edited.contracts)[0]
    saved = {}

    def save_in_store(_plan: Plan) -> None:  # someone saves the contract in the store meanwhile
        with seeded.store.begin() as connection:
            connection.execute(
                s.main_contracts.update()
                .where(s.main_contracts.c.origin_id == target, s.main_contracts.c.company_id == 1)
                .values(version=s.main_contracts.c.version + 1)
            )
        saved["before"] = _contract(seeded, target)

    audit = _reimport(seeded, save_in_store)
    before = saved["before"]
    assert audit.loc[target, "outcome"] == "blocked"
    assert audit.loc[target, "reasons"] == "stale"
    assert _contract(seeded, target) == before
