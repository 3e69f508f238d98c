"""The ready-to-be-imported list and the line-level preview."""

from __future__ import annotations

import dataclasses
import json

import pytest
from prefect.artifacts import Artifact

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.generator import edge_case_contracts
from contract_sync.model import Request
from contract_sync.run import company_ready_list, preview
from contract_sync.settings import get_settings
from contract_sync.stages.compare import compare
from contract_sync.stages.ready import line_preview
from tests.conftest import kept_as_is, seeded_sides, settings_for
from tests.frames import contracts_frame, item, items_frame, make_state


def _ready(actor: str, project: str | None = None):
    return company_ready_list(get_settings(), Request(company=1, actor=actor, project=project))


@pytest.fixture(scope="module")
def edited(backend, tmp_path_factory):
    """Seeded, half of company 1's contracts then edited in the ERP, the settings pointing
    there: built once per backend, as the ready list and the preview write nothing."""
    folder = tmp_path_factory.mktemp("ready")
    with seeded_sides(backend, folder) as sides, settings_for(sides, folder / "reports"):
        summary = edit_erp(sides.erp, 1, 0.5, seed=8)
        with kept_as_is(sides):
            yield summary


def test_ready_list_shows_every_case_for_the_user(edited):
    table = _ready("sync-service").set_index("contract_no")
    edge = edge_case_contracts(table.index)

    assert not table.loc[edge["not_imported"], "imported"]
    several = table.loc[edge["contract_in_multiple_projects"], "project"].split(", ")
    assert len(several) == 2 and several == sorted(several)
    for case in (
        "contract_unapproved",
        "job_not_synced",
        "permission_denied",
        "not_imported",
        "contract_in_multiple_projects",
    ):
        assert case in table.loc[edge[case], "reasons"].split()
        assert not table.loc[edge[case], "reimport_available"]
    available = set(table.index[table["reimport_available"]])
    assert available == set(edited.contracts)
    for number in available:
        row = table.loc[number]
        assert row["amount_delta"] == row["amount_after"] - row["amount_before"]
        assert row["items_added"] + row["items_changed"] + row["items_removed"] > 0
    # Another user sees the permission edge case open up: the admin has Admin everywhere.
    as_admin = _ready("admin").set_index("contract_no")
    assert "permission_denied" not in as_admin.loc[edge["permission_denied"], "reasons"]
    only = _ready("admin", as_admin.loc[edge["permission_denied"], "project"])
    assert list(only["contract_no"]) == [edge["permission_denied"]]


def test_preview_marks_kept_edits_conflicts_added_and_removed_items():
    contracts = contracts_frame("C1")
    items = items_frame(("C1", "10"), ("C1", "20"), ("C1", "30"))
    state = make_state(contracts, items)
    store_items = state.items.copy()
    store_items.loc[store_items["item_no"] == "10", "cost_code"] = "03-3000"  # store-only edit
    store_items.loc[store_items["item_no"] == "20", "description"] = "Store text"  # both sides
    state = dataclasses.replace(state, items=store_items)
    erp_items = items_frame(("C1", "10"), ("C1", "20"), ("C1", "40"))  # 30 gone, 40 new
    erp_items.loc[erp_items["item_no"] == "20", "description"] = "ERP text"

    lines = line_preview("C1", compare(state, contracts, erp_items), state)
    by_item = {(r.item_no, r.change, r.field): r for r in lines.itertuples()}
    assert by_item[("10", "kept", "cost_code")].note == "store edit kept"
    conflict = by_item[("20", "changed", "description")]
    assert (conflict.before, conflict.after) == ("Store text", "ERP text")
    assert conflict.note == "conflict: store edit overwritten"
    removed, added = by_item[("30", "removed", "")], by_item[("40", "added", "")]
    assert (removed.before, removed.after) == ("Item 30, 123.45", "(removed)")
    assert (added.before, added.after) == ("", "Item 40, 123.45")
    assert "<NA>" not in lines.to_string()


def test_an_item_without_description_is_said_in_words():
    contracts = contracts_frame("C1")
    state = make_state(contracts, items_frame(("C1", "10")))
    erp_items = items_frame(("C1", "10"), item("C1", "20", description=None))
    lines = line_preview("C1", compare(state, contracts, erp_items), state)
    assert lines[["item_no", "change", "after"]].values.tolist() == [
        ["20", "added", "(no description), 123.45"]
    ]


@pytest.mark.usefixtures("prefect_harness", "edited")
def test_the_ready_list_flow_publishes_the_table():
    from contract_sync_flows.ready import ready_list_flow

    table = ready_list_flow(company=1)
    artifact = Artifact.get("ready-list-company-1")
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [r["contract"] for r in rows] == list(table["contract_no"])
    assert "import" in {r["action"] for r in rows}  # words, not true/false
    assert any(r["action"] == "blocked: invalid ERP data" for r in rows)
    found = preview(get_settings(), Request(company=1, actor="sync-service"))
    assert len(rows) == len(found.erp.contracts)
