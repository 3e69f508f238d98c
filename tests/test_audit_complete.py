"""The audit says everything a re-import does, and nothing it does not: added and removed
items carry all their values; positions that only move are not logged as changes."""

from __future__ import annotations

import json

from contract_sync.stages.compare import compare
from tests.frames import contracts_frame, item, items_frame, make_state


def test_removing_the_first_item_logs_one_removal_not_a_change_per_later_item():
    contracts = contracts_frame("C1")
    stored = items_frame(*(("C1", f"{n:02d}") for n in range(1, 31)), position=None)
    state = make_state(contracts, stored)
    now = items_frame(*(("C1", f"{n:02d}") for n in range(2, 31)))  # item 01 gone
    comparison = compare(state, contracts, now)

    changes = comparison.changes[comparison.changes["change"] != "kept"]
    assert changes["change"].tolist() == ["removed"]
    summary = comparison.contracts.iloc[0]
    assert (summary["items_removed"], summary["items_changed"]) == (1, 0)
    assert summary["items_unchanged"] == 29
    moved = comparison.items[comparison.items["change"] == "renumbered"]
    assert len(moved) == 29 and moved["position"].tolist() == now["position"].tolist()
    before = json.loads(changes["before"].iloc[0])
    assert before["description"] == "Item 01" and before["amount"] == "123.45"


def test_an_added_item_is_recorded_with_all_its_values():
    contracts = contracts_frame("C1")
    state = make_state(contracts, items_frame(("C1", "10")))
    added = item("C1", "20", position=2, description="Façade – level 2", amount=4_821_075)
    now = items_frame(item("C1", "10", position=1), added)
    comparison = compare(state, contracts, now)

    row = comparison.changes[comparison.changes["change"] == "added"].iloc[0]
    after = json.loads(row["after"])
    assert after["amount"] == "48210.75" and after["description"] == "Façade – level 2"
    assert after["quantity"] == "1.000" and after["unit_cost"] == "123.45000"


def test_positions_that_only_moved_are_still_written():
    contracts = contracts_frame("C1")
    state = make_state(contracts, items_frame(("C1", "01"), ("C1", "02"), ("C1", "03")))
    now = items_frame(*(item("C1", f"0{n}", position=n + 4) for n in (1, 2, 3)))
    comparison = compare(state, contracts, now)

    summary = comparison.contracts.iloc[0]
    assert summary["has_updates"] and summary["items_changed"] == 0
    assert comparison.items["change"].eq("renumbered").all()
    assert comparison.changes[comparison.changes["change"] != "kept"].empty
