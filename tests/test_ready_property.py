"""The ready list never crashes, whatever the mix of imported or not, synced job or none,
one project or several, missing titles or amounts: the list and its terminal view."""

from __future__ import annotations

import dataclasses
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from contract_sync.stages.compare import compare, stored_hashes, unchanged_contracts
from contract_sync.stages.gate import evaluate_gates
from contract_sync.stages.ready import ready_list
from contract_sync.vocabulary import ConflictPolicy
from contract_sync_faces.terminal import ready_view
from tests.frames import contract, contracts_frame, items_frame, make_state

CASE = st.fixed_dictionaries(
    {
        "imported": st.booleans(),
        "synced": st.booleans(),
        "two_projects": st.booleans(),
        "title": st.sampled_from(["Riverside", None, "Ünïcode façade — 60 characters " * 2]),
        "amount": st.sampled_from([1_000_000, None, 0, -5_000]),
    }
)


def _state_for(cases: list[dict]):
    contracts = contracts_frame(
        *(
            contract(f"C{i}", title=c["title"], original_amount=c["amount"])
            for i, c in enumerate(cases)
        )
    )
    items = items_frame(*((f"C{i}", "10") for i in range(len(cases))))
    state = make_state(contracts, items)
    numbers = pd.Series([f"C{i}" for i in range(len(cases))])
    imported = numbers[[c["imported"] for c in cases]]
    synced_jobs = "J" + numbers[[c["synced"] for c in cases]]
    kept = state.contracts[state.contracts["contract_no"].isin(imported)]
    ids = kept["contract_id"]
    twice = kept[kept["contract_no"].isin(numbers[[c["two_projects"] for c in cases]])]
    twice = twice.assign(
        contract_id=twice["contract_id"] + 1000, project_id=twice["project_id"] + 100
    )
    kept = pd.concat([kept, twice])
    state = dataclasses.replace(
        state,
        contracts=kept.reset_index(drop=True),
        baselines=state.baselines[state.baselines["contract_id"].isin(ids)],
        items=state.items[state.items["contract_id"].isin(ids)],
        baseline_items=state.baseline_items[state.baseline_items["contract_id"].isin(ids)],
        synced_jobs=state.synced_jobs[state.synced_jobs["job_no"].isin(synced_jobs)],
    )
    return state, contracts, items


@settings(deadline=None)
@given(st.lists(CASE, min_size=1, max_size=8))
def test_the_ready_list_and_its_view_hold_for_every_mix(cases):
    state, contracts, items = _state_for(cases)
    hashes = pd.Series("x", index=contracts.index)
    comparison = compare(state, contracts, items)
    decisions = evaluate_gates(
        state,
        contracts,
        pd.Series([], dtype="string"),
        comparison,
        ConflictPolicy.erp_wins,
        unchanged_contracts(stored_hashes(state), contracts, hashes),
    )
    table = ready_list(contracts, state, decisions, comparison).set_index("contract_no")

    assert len(table) == len(cases)
    for i, case in enumerate(cases):
        row = table.loc[f"C{i}"]
        assert bool(row["imported"]) == case["imported"]
        if case["imported"] and case["two_projects"]:
            assert row["project"].count(", ") == 1  # both projects named
        elif not case["imported"] and not case["synced"]:
            assert pd.isna(row["project"])
            assert "job_not_synced" in row["reasons"] and "not_imported" in row["reasons"]
        assert not (row["reimport_available"] and not case["imported"])

    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(
        ready_view(table.reset_index(), "admin", 1)
    )
    shown = out.getvalue()
    assert all(f"C{i}" in shown for i in range(len(cases)))
