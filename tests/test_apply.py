"""Apply: contracts written in groups, each atomic; a stale or failing one leaves only its
audit row. On the SQL store and on Procore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa

from contract_sync.columns import ITEM_FIELDS
from contract_sync.demo.edit import edit_erp
from contract_sync.erp.read import read_erp
from contract_sync.hooks import Hooks
from contract_sync.model import Plan, Request
from contract_sync.run import reimport
from contract_sync.stages import apply as apply_stage
from contract_sync.store import chain
from contract_sync.store import schema as s
from contract_sync.store.state import load_state, with_items


def _reimport(store, before_apply: Callable[[Plan], None]) -> pd.DataFrame:
    """A full-refresh run as admin; `before_apply` sees the plan before it is written."""
    request = Request(company=1, actor="admin", full_refresh=True)
    result = reimport(store.settings, request, hooks=Hooks(planned=before_apply))
    return result.audit.set_index("contract_no")


def _written(items: pd.DataFrame, contract_no: str) -> pd.Series:
    return items["contract_no"].eq(contract_no) & items["change"].isin(["changed", "added"])


def test_a_failing_contract_is_rolled_back_and_the_others_applied(store):
    seeded = store.sides
    edited = edit_erp(seeded.erp, 1, 1.0, seed=4)
    victim = sorted(edited.contracts)[0]
    before = store.snapshot(victim)
    said = []

    def break_victim(plan: Plan) -> None:  # a value the store refuses, mid-writes
        items = plan.comparison.items
        said.append(store.refuse(items, _written(items, victim), victim))

    audit = _reimport(store, break_victim)

    assert audit.loc[victim, "outcome"] == "failed"
    error = audit.loc[victim, "error"]
    assert said[0] in error or "NULL" in error.upper(), error
    assert store.snapshot(victim) == before
    others = [c for c in edited.contracts if c != victim]
    assert (audit.loc[others, "outcome"] == "reimported").all()
    with seeded.store.connect() as connection:
        recorded = connection.execute(
            sa.select(s.audit_contracts.c.outcome).where(s.audit_contracts.c.contract_no == victim)
        ).scalar_one()
    assert recorded == "failed"


def test_a_contract_changed_after_compare_is_stale_and_untouched(store):
    edited = edit_erp(store.sides.erp, 1, 1.0, seed=5)
    target = sorted(edited.contracts)[0]
    saved = {}

    def save_in_store(_plan: Plan) -> None:  # someone saves the contract in the store meanwhile
        store.save_contract(target)
        saved["before"] = store.snapshot(target)

    audit = _reimport(store, save_in_store)
    before = saved["before"]
    assert audit.loc[target, "outcome"] == "blocked"
    assert audit.loc[target, "reasons"] == "stale"
    assert store.snapshot(target) == before


def test_each_contract_of_a_group_is_atomic(store, monkeypatch):
    """Groups of 3 (Procore: of one, written without transactions): in the first, a contract
    the store refuses mid-write fails and another saved in the store meanwhile is stale; both
    are left as they were, their neighbours land, each contract is recorded once, progress
    counts every contract and the chain verifies."""
    seeded = store.sides
    monkeypatch.setattr(apply_stage, "GROUP", 3)
    edit_erp(seeded.erp, 1, 1.0, seed=4)
    chosen, saved, progress = {}, {}, []

    def break_one_and_save_another(plan: Plan) -> None:
        written = plan.audit[plan.audit["outcome"] == "reimported"]
        in_order = written.sort_values("contract_id")  # the order groups are made in
        assert len(in_order) > 3  # two groups at least
        victim, stale = in_order["contract_no"].iloc[1], in_order["contract_no"].iloc[2]
        items = plan.comparison.items
        said = store.refuse(items, _written(items, victim), victim)
        store.save_contract(stale)
        chosen.update(victim=victim, stale=stale, written=list(written["contract_no"]), said=said)
        saved.update({c: store.snapshot(c) for c in (victim, stale)})

    request = Request(company=1, actor="admin", full_refresh=True)
    hooks = Hooks(planned=break_one_and_save_another, progress=lambda *p: progress.append(p))
    result = reimport(store.settings, request, hooks=hooks)
    audit = result.audit.set_index("contract_no")

    victim, stale, written = chosen["victim"], chosen["stale"], chosen["written"]
    assert audit.loc[victim, "outcome"] == "failed"
    error = audit.loc[victim, "error"]
    assert chosen["said"] in error or "NULL" in error.upper(), error
    assert (audit.loc[stale, "outcome"], audit.loc[stale, "reasons"]) == ("blocked", "stale")
    assert {c: store.snapshot(c) for c in (victim, stale)} == saved  # nothing of them written
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


def _baseline_items(sides) -> pd.DataFrame:
    """The store's baseline items, by contract number, in key order."""
    b, c = s.baseline_items.c, s.main_contracts.c
    query = (
        sa.select(c.origin_id.label("contract_no"), b.item_no, *(b[f] for f in ITEM_FIELDS))
        .join(s.main_contracts, c.id == b.contract_id)
        .order_by(c.origin_id, b.item_no)
    )
    with sides.store.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["contract_no", "item_no", *ITEM_FIELDS])


def test_a_reimport_leaves_each_baseline_the_erp_items_exactly(store):
    """Items changed, added and removed, of which only the baseline rows that differ are
    written: the baseline is the ERP's items (exact values, as compare reads them)."""
    seeded = store.sides
    edited = edit_erp(seeded.erp, 1, 1.0, seed=6)
    audit = _reimport(store, lambda _plan: None)
    written = audit[audit["outcome"] == "reimported"]
    assert set(written.index) == set(edited.contracts)

    state = load_state(seeded.store, 1, "admin")
    state = with_items(seeded.store, state, written["contract_id"].astype("int64"))
    numbers = state.contracts.set_index("contract_id")["contract_no"]
    baseline = state.baseline_items.assign(
        contract_no=state.baseline_items["contract_id"].map(numbers)
    )
    erp = read_erp(store.settings, 1).items
    columns = ["contract_no", "item_no", *ITEM_FIELDS]
    pd.testing.assert_frame_equal(
        _in_key_order(baseline[columns]),
        _in_key_order(erp.loc[erp["contract_no"].isin(written.index), columns]),
        check_dtype=False,
    )


def _in_key_order(items: pd.DataFrame) -> pd.DataFrame:
    return items.sort_values(["contract_no", "item_no"]).reset_index(drop=True)


def test_a_contract_whose_baseline_moved_after_compare_is_stale_and_untouched(store):
    """Another run settles a contract's baseline between this run's compare and its apply:
    the diff was made from the old one, so the contract is refused, nothing of it written."""
    seeded = store.sides
    edited = edit_erp(seeded.erp, 1, 1.0, seed=5)
    target = sorted(edited.contracts)[0]
    saved = {}

    def settle_elsewhere(_plan: Plan) -> None:
        with seeded.store.begin() as connection:
            contract_id = connection.execute(
                sa.select(s.main_contracts.c.id).where(
                    s.main_contracts.c.origin_id == target, s.main_contracts.c.company_id == 1
                )
            ).scalar_one()
            connection.execute(
                s.import_baselines.update()
                .where(s.import_baselines.c.contract_id == contract_id)
                .values(erp_hash="settled by another run")
            )
        saved.update(contract=store.snapshot(target), baseline=_baseline_items(seeded))

    audit = _reimport(store, settle_elsewhere)
    assert (audit.loc[target, "outcome"], audit.loc[target, "reasons"]) == ("blocked", "stale")
    assert store.snapshot(target) == saved["contract"]
    baseline = _baseline_items(seeded)
    pd.testing.assert_frame_equal(
        baseline[baseline["contract_no"] == target],
        saved["baseline"][saved["baseline"]["contract_no"] == target],
    )
    others = [c for c in edited.contracts if c != target]
    assert (audit.loc[others, "outcome"] == "reimported").all()


def test_a_settle_leaves_a_baseline_another_run_wrote_after_compare(store):
    """A change both sides agree on settles the baseline, unless another run wrote that
    baseline since this run compared: its rows were computed from the one compare saw."""
    seeded = store.sides
    target, agreed = "24012-", "Agreed on both sides"
    contract_id, _ = store.describe_first_item(target, store=agreed, erp=agreed)
    before = _baseline_items(seeded)

    def write_baseline_elsewhere(plan: Plan) -> None:
        assert target in set(plan.settle)
        with seeded.store.begin() as connection:
            connection.execute(
                s.import_baselines.update()
                .where(s.import_baselines.c.contract_id == contract_id)
                .values(erp_hash="written by another run")
            )

    audit = _reimport(store, write_baseline_elsewhere)
    assert (audit.loc[target, "outcome"], audit.loc[target, "reasons"]) == (
        "up_to_date",
        "no_updates",
    )
    with seeded.store.connect() as connection:
        kept = connection.execute(
            sa.select(s.import_baselines.c.erp_hash).where(
                s.import_baselines.c.contract_id == contract_id
            )
        ).scalar_one()
    assert kept == "written by another run"
    after = _baseline_items(seeded)
    pd.testing.assert_frame_equal(
        after[after["contract_no"] == target], before[before["contract_no"] == target]
    )


def test_a_baseline_written_before_the_items_are_read_is_the_one_compared(store):
    """Another run writes a contract's baseline after this run loaded the store's state and
    before it reads the contract's items: the baseline and its hash are read with the items,
    so the contract is compared with that baseline and written, not refused as stale."""
    seeded = store.sides
    edited = edit_erp(seeded.erp, 1, 1.0, seed=8)
    target = sorted(edited.contracts)[0]
    written = []

    @contextmanager
    def write_baseline_before_items(stage: str) -> Iterator[None]:
        if stage == "load items" and not written:
            with seeded.store.begin() as connection:
                connection.execute(
                    s.import_baselines.update()
                    .where(
                        s.import_baselines.c.contract_id
                        == sa.select(s.main_contracts.c.id)
                        .where(
                            s.main_contracts.c.origin_id == target,
                            s.main_contracts.c.company_id == 1,
                        )
                        .scalar_subquery()
                    )
                    .values(erp_hash="written by another run")
                )
            written.append(stage)
        yield

    request = Request(company=1, actor="admin", full_refresh=True)
    result = reimport(store.settings, request, hooks=Hooks(timer=write_baseline_before_items))
    audit = result.audit.set_index("contract_no")
    assert written
    assert audit.loc[target, "outcome"] == "reimported"
