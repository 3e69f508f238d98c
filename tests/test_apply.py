"""Apply: one transaction per contract; a stale or failing one leaves only its audit row."""

from __future__ import annotations

import uuid

import pandas as pd
import sqlalchemy as sa

from contract_sync.demo.edit import edit_erp
from contract_sync.erp.vista import read_vista
from contract_sync.hashing import contract_hashes
from contract_sync.store import schema as s
from contract_sync.store.state import load_state, with_items
from contract_sync.store.writes import start_run
from flows.pipeline import run_record
from tasks.apply import apply, plan
from tasks.compare import ConflictPolicy, compare
from tasks.gate import evaluate_gates


def _plan(sides, dry_run=False):
    erp = read_vista(sides.erp, 1)
    state = load_state(sides.store, 1, "admin")
    state = with_items(sides.store, state, state.contracts["contract_id"])
    comparison = compare(state, erp.contracts, erp.items)
    decisions = evaluate_gates(
        state, erp.contracts, pd.Series([], dtype="string"), comparison, ConflictPolicy.erp_wins
    )
    failures = pd.DataFrame({"contract_no": [], "failed_expectations": []})
    hashes = contract_hashes(erp.contracts, erp.items)
    unchanged = pd.Series(False, index=erp.contracts.index)
    return plan(erp, decisions, comparison, hashes, failures, state, unchanged, dry_run)


def _run(sides) -> str:
    run_id = str(uuid.uuid4())
    start_run(sides.store, run_record(run_id, 1, "admin", {}, False))
    return run_id


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
    run_plan = _plan(seeded)
    victim = sorted(edited.contracts)[0]
    before = _contract(seeded, victim)
    items = run_plan.comparison.items
    # A value the database refuses, in the middle of the victim's writes.
    broken = items["contract_no"].eq(victim) & items["change"].isin(["changed", "added"])
    items.loc[broken[broken].index[-1], "position"] = pd.NA
    audit = apply(seeded.store, _run(seeded), run_plan).set_index("contract_no")

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
    run_plan = _plan(seeded)
    target = sorted(edited.contracts)[0]
    with seeded.store.begin() as connection:  # someone saves the contract in the store meanwhile
        connection.execute(
            s.main_contracts.update()
            .where(s.main_contracts.c.origin_id == target, s.main_contracts.c.company_id == 1)
            .values(version=s.main_contracts.c.version + 1)
        )
    before = _contract(seeded, target)
    audit = apply(seeded.store, _run(seeded), run_plan).set_index("contract_no")
    assert audit.loc[target, "outcome"] == "blocked"
    assert audit.loc[target, "reasons"] == "stale"
    assert _contract(seeded, target) == before
