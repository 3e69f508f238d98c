"""Apply: contracts written in groups, each atomic; a stale or failing one leaves only its
audit row."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.run import Hooks, Request, reimport
from contract_sync.settings import Settings
from contract_sync.stages import apply as apply_stage
from contract_sync.stages.plan import Plan
from contract_sync.store import chain
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


def test_each_contract_of_a_group_is_atomic(seeded, monkeypatch):
    """Groups of 3: in the first, a contract the database refuses mid-write fails and another
    saved in the store meanwhile is stale; both are left as they were, their neighbours land,
    each contract is recorded once, progress counts every contract and the chain verifies."""
    monkeypatch.setattr(apply_stage, "GROUP", 3)
    edit_erp(seeded.erp, 1, 1.0, seed=4)
    chosen, saved, progress = {}, {}, []

    def break_one_and_save_another(plan: Plan) -> None:
        written = plan.audit[plan.audit["outcome"] == "reimported"]
        in_order = written.sort_values("contract_id")  # the order groups are made in
        assert len(in_order) > 3  # two groups at least
        victim, stale = in_order["contract_no"].iloc[1], in_order["contract_no"].iloc[2]
        items = plan.comparison.items
        broken = items["contract_no"].eq(victim) & items["change"].isin(["changed", "added"])
        items.loc[broken[broken].index[-1], "position"] = pd.NA  # NOT NULL in the store
        with seeded.store.begin() as connection:
            connection.execute(
                s.main_contracts.update()
                .where(s.main_contracts.c.id == int(in_order["contract_id"].iloc[2]))
                .values(version=s.main_contracts.c.version + 1)
            )
        chosen.update(victim=victim, stale=stale, written=list(written["contract_no"]))
        saved.update({c: _contract(seeded, c) for c in (victim, stale)})

    settings = Settings(erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False)
    request = Request(company=1, actor="admin", full_refresh=True)
    hooks = Hooks(planned=break_one_and_save_another, progress=lambda *p: progress.append(p))
    result = reimport(settings, request, hooks=hooks)
    audit = result.audit.set_index("contract_no")

    victim, stale, written = chosen["victim"], chosen["stale"], chosen["written"]
    assert audit.loc[victim, "outcome"] == "failed"
    assert "NULL" in audit.loc[victim, "error"].upper()
    assert (audit.loc[stale, "outcome"], audit.loc[stale, "reasons"]) == ("blocked", "stale")
    assert {c: _contract(seeded, c) for c in (victim, stale)} == saved  # nothing of them written
    landed = [c for c in written if c not in (victim, stale)]
    assert (audit.loc[landed, "outcome"] == "reimported").all()
    assert (audit.loc[landed, "version_after"] == audit.loc[landed, "version_before"] + 1).all()
    assert progress == [(n, len(written)) for n in range(1, len(written) + 1)]
    with seeded.store.connect() as connection:
        recorded = connection.execute(
            sa.select(s.audit_contracts.c.contract_no, s.audit_contracts.c.outcome).where(
                s.audit_contracts.c.run_id == result.run_id
            )
        ).all()
        assert chain.verify(connection).problem is None
    outcomes = dict(recorded)
    assert len(recorded) == len(outcomes)  # each contract recorded once
    assert {c: outcomes[c] for c in written} == {
        **dict.fromkeys(landed, "reimported"),
        victim: "failed",
        stale: "blocked",
    }
