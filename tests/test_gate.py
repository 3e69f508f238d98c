"""evaluate_gates: every reason a re-import is refused, all of them, in REIMPORT_GATES order."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from contract_sync.model import StoreState
from contract_sync.stages.compare import compare
from contract_sync.stages.gate import evaluate_gates
from contract_sync.vocabulary import REIMPORT_GATES, ConflictPolicy
from tests.frames import contracts_frame, items_frame, make_state


def where(frame: pd.DataFrame, column: str, value, **values) -> pd.DataFrame:
    """A copy of `frame` with `values` set on the rows whose `column` equals `value`."""
    rows = frame[column] == value
    assert rows.any()
    frame = frame.copy()
    for field, new in values.items():
        frame.loc[rows, field] = new
    return frame


CONTRACTS = contracts_frame("C1", "C2")
IMPORTED = items_frame(("C1", "10"), ("C1", "20"), ("C2", "10"), position=1)
UPDATED = IMPORTED.assign(amount=IMPORTED["amount"] + 1)  # every contract has an ERP update
STATE = make_state(CONTRACTS, IMPORTED)


def reasons(
    state: StoreState = STATE,
    erp_contracts: pd.DataFrame = CONTRACTS,
    erp_items: pd.DataFrame = UPDATED,
    invalid: tuple[str, ...] = (),
    policy: ConflictPolicy = ConflictPolicy.erp_wins,
) -> dict[str, str]:
    """Reason codes per contract_no, the gate's decision checked for consistency."""
    decisions = evaluate_gates(
        state,
        erp_contracts,
        pd.Series(list(invalid), dtype="string"),
        compare(state, erp_contracts, erp_items),
        policy,
    )
    assert decisions["contract_no"].tolist() == erp_contracts["contract_no"].tolist()
    assert (decisions["eligible"] == (decisions["reasons"] == "")).all()
    return dict(zip(decisions["contract_no"], decisions["reasons"], strict=True))


def test_contracts_passing_every_gate_are_eligible():
    decisions = evaluate_gates(
        STATE,
        CONTRACTS,
        pd.Series([], dtype="string"),
        compare(STATE, CONTRACTS, UPDATED),
        ConflictPolicy.block,
    )
    assert decisions["reasons"].tolist() == ["", ""]
    assert decisions["eligible"].tolist() == [True, True]


@pytest.mark.parametrize("level", ["none", "read_only", "standard"])
def test_permission_denied_below_admin_on_erp_integrations(level):
    state = dataclasses.replace(STATE, erp_integrations_level=level)
    assert reasons(state) == {"C1": "permission_denied", "C2": "permission_denied"}


def test_permission_denied_below_admin_on_the_projects_main_contracts():
    levels = where(STATE.main_contracts_levels, "project_id", 1, level="standard")
    state = dataclasses.replace(STATE, main_contracts_levels=levels)
    assert reasons(state) == {"C1": "permission_denied", "C2": ""}


def test_permission_denied_without_any_main_contracts_permission():
    no_rows = pd.DataFrame([], columns=["project_id", "level"])
    state = dataclasses.replace(STATE, main_contracts_levels=no_rows)
    assert reasons(state) == {"C1": "permission_denied", "C2": "permission_denied"}


def test_permission_denied_on_the_project_the_job_is_synced_to():
    """A first import lands in the synced job's project: the actor must be admin there too."""
    state = make_state(CONTRACTS.iloc[:1], IMPORTED.iloc[:2])
    synced = pd.concat(
        [state.synced_jobs, pd.DataFrame({"job_no": ["JC2"], "project_id": [7]})],
        ignore_index=True,
    )
    levels = pd.concat(
        [state.main_contracts_levels, pd.DataFrame({"project_id": [7], "level": ["read_only"]})],
        ignore_index=True,
    )
    state = dataclasses.replace(state, synced_jobs=synced, main_contracts_levels=levels)
    assert reasons(state) == {"C1": "", "C2": "permission_denied not_imported"}


def test_integration_not_configured():
    state = dataclasses.replace(STATE, integration_configured=False, erp_type=None)
    assert reasons(state) == {
        "C1": "integration_not_configured",
        "C2": "integration_not_configured",
    }


@pytest.mark.parametrize("erp_type", ["quickbooks_online", "quickbooks_desktop"])
def test_integration_unsupported(erp_type):
    state = dataclasses.replace(STATE, erp_type=erp_type)
    assert reasons(state) == {"C1": "integration_unsupported", "C2": "integration_unsupported"}


@pytest.mark.parametrize("erp_type", ["sage_300_cre", "cmic", "viewpoint_spectrum"])
def test_erp_types_that_sync_main_contracts_pass(erp_type):
    assert reasons(dataclasses.replace(STATE, erp_type=erp_type)) == {"C1": "", "C2": ""}


def test_not_imported():
    state = make_state(CONTRACTS.iloc[:1], IMPORTED.iloc[:2])
    synced = pd.concat(
        [state.synced_jobs, pd.DataFrame({"job_no": ["JC2"], "project_id": [1]})],
        ignore_index=True,
    )
    assert reasons(dataclasses.replace(state, synced_jobs=synced)) == {
        "C1": "",
        "C2": "not_imported",
    }


def test_nothing_imported_yet_in_an_empty_store():
    state = make_state(CONTRACTS.iloc[0:0], IMPORTED.iloc[0:0])
    assert reasons(state) == {
        "C1": "not_imported job_not_synced",
        "C2": "not_imported job_not_synced",
    }


@pytest.mark.parametrize("status", ["Draft", "Out For Signature", "Complete", "Terminated"])
def test_contract_unapproved(status):
    state = dataclasses.replace(
        STATE, contracts=where(STATE.contracts, "contract_no", "C1", status=status)
    )
    assert reasons(state) == {"C1": "contract_unapproved", "C2": ""}


@pytest.mark.parametrize(
    ("erp_status", "store_status", "reason"),
    [
        ("pending", "Draft", "erp_contract_pending"),
        ("hard_close", "Complete", "erp_contract_closed"),
    ],
)
def test_a_pending_or_closed_erp_contract_has_its_own_reason_not_unapproved(
    erp_status, store_status, reason
):
    """Not "approve it in the project": the store status follows the ERP's. With changes it
    is blocked for its ERP status; with none it is up to date, not a blocker forever."""
    state = dataclasses.replace(
        STATE,
        contracts=where(STATE.contracts, "contract_no", "C1", status=store_status),
        baselines=where(STATE.baselines, "contract_id", 101, erp_status=erp_status),
    )
    erp = where(CONTRACTS, "contract_no", "C1", erp_status=erp_status)
    assert reasons(state, erp_contracts=erp) == {"C1": reason, "C2": ""}
    assert reasons(state, erp_contracts=erp, erp_items=IMPORTED) == {
        "C1": "no_updates",
        "C2": "no_updates",
    }
    soft_closed = where(CONTRACTS, "contract_no", "C1", erp_status="soft_close")
    assert reasons(STATE, erp_contracts=soft_closed) == {"C1": "", "C2": ""}


@pytest.mark.parametrize(
    ("before", "after"),
    [("soft_close", "hard_close"), ("open", "hard_close"), ("open", "pending")],
)
def test_an_erp_status_change_is_a_change_and_closing_alone_is_not_refused(before, after):
    """The status is the ERP's: its change alone is re-imported (recorded, the store's own
    status left as the project keeps it); with other changes it waits for the ERP."""
    state = dataclasses.replace(
        STATE, baselines=where(STATE.baselines, "contract_id", 101, erp_status=before)
    )
    erp = where(CONTRACTS, "contract_no", "C1", erp_status=after)
    comparison = compare(state, erp, IMPORTED)
    changes = comparison.changes
    assert changes[["contract_no", "change", "field", "before", "after"]].values.tolist() == [
        ["C1", "changed", "erp_status", before, after]
    ]
    assert comparison.contracts.set_index("contract_no")["header_changes"].to_dict() == {
        "C1": 1,
        "C2": 0,
    }
    assert reasons(state, erp_contracts=erp, erp_items=IMPORTED) == {"C1": "", "C2": "no_updates"}
    blocked = "erp_contract_pending" if after == "pending" else "erp_contract_closed"
    assert reasons(state, erp_contracts=erp) == {"C1": blocked, "C2": ""}


def test_closing_a_contract_does_not_carry_its_moved_items_through():
    """Items that only moved are written too: with them, closing is no longer alone."""
    erp = where(CONTRACTS, "contract_no", "C1", erp_status="hard_close")
    moved = IMPORTED.assign(position=IMPORTED["position"].where(IMPORTED["contract_no"] != "C1", 7))
    moved.loc[moved["item_no"].eq("20") & moved["contract_no"].eq("C1"), "position"] = 3
    assert reasons(STATE, erp_contracts=erp, erp_items=moved)["C1"] == "erp_contract_closed"
    assert reasons(STATE, erp_contracts=erp, erp_items=IMPORTED)["C1"] == ""


def test_a_baseline_without_a_status_shows_no_status_change():
    state = dataclasses.replace(STATE, baselines=STATE.baselines.assign(erp_status=None))
    erp = where(CONTRACTS, "contract_no", "C1", erp_status="soft_close")
    assert compare(state, erp, IMPORTED).changes.empty
    assert reasons(state, erp_contracts=erp, erp_items=IMPORTED)["C1"] == "no_updates"


def test_job_not_synced():
    synced = STATE.synced_jobs[STATE.synced_jobs["job_no"] != "JC2"]
    assert reasons(dataclasses.replace(STATE, synced_jobs=synced)) == {
        "C1": "",
        "C2": "job_not_synced",
    }


def test_contract_in_multiple_projects():
    second = STATE.contracts[STATE.contracts["contract_no"] == "C2"].assign(
        contract_id=999, project_id=9
    )
    levels = pd.concat(
        [STATE.main_contracts_levels, pd.DataFrame({"project_id": [9], "level": ["admin"]})],
        ignore_index=True,
    )
    state = dataclasses.replace(
        STATE,
        contracts=pd.concat([STATE.contracts, second], ignore_index=True),
        main_contracts_levels=levels,
    )
    assert reasons(state) == {"C1": "", "C2": "contract_in_multiple_projects"}


def test_invalid_erp_data():
    assert reasons(invalid=("C2",)) == {"C1": "", "C2": "invalid_erp_data"}


def test_no_updates():
    assert reasons(erp_items=IMPORTED) == {"C1": "no_updates", "C2": "no_updates"}
    only_c1 = where(IMPORTED, "contract_no", "C1", amount=1)
    assert reasons(erp_items=only_c1) == {"C1": "", "C2": "no_updates"}


def test_invalid_contract_is_not_also_reported_as_without_updates():
    assert reasons(erp_items=IMPORTED, invalid=("C1",)) == {
        "C1": "invalid_erp_data",
        "C2": "no_updates",
    }


def test_conflict_blocks_only_under_policy_block():
    store_items = where(STATE.items, "item_id", 1, amount=99)  # C1 item 10, edited in the store
    state = dataclasses.replace(STATE, items=store_items)
    assert reasons(state, policy=ConflictPolicy.block) == {"C1": "conflict", "C2": ""}
    assert reasons(state, policy=ConflictPolicy.erp_wins) == {"C1": "", "C2": ""}


def test_all_failing_reasons_are_listed_in_reasons_order():
    state = dataclasses.replace(
        STATE,
        erp_integrations_level="read_only",
        erp_type="quickbooks_online",
        contracts=where(STATE.contracts, "contract_no", "C1", status="Draft"),
        synced_jobs=STATE.synced_jobs[STATE.synced_jobs["job_no"] != "JC1"],
    )
    expected = [
        "permission_denied",
        "integration_unsupported",
        "contract_unapproved",
        "job_not_synced",
        "invalid_erp_data",
    ]
    found = reasons(state, invalid=("C1",))
    assert found["C1"] == " ".join(expected)
    assert found["C1"].split() == [r for r in REIMPORT_GATES if r in expected]
    assert found["C2"] == "permission_denied integration_unsupported"


def test_no_updates_and_conflict_together_with_the_other_reasons():
    store_items = where(STATE.items, "item_id", 1, amount=99)  # C1 item 10: store-only edit
    store_items = where(store_items, "item_id", 3, amount=7)  # C2 item 10: edited on both sides
    state = dataclasses.replace(STATE, integration_configured=False, items=store_items)
    erp_items = where(IMPORTED, "contract_no", "C2", amount=5)
    found = reasons(state, erp_items=erp_items, policy=ConflictPolicy.block)
    assert found == {
        "C1": "integration_not_configured no_updates",
        "C2": "integration_not_configured conflict",
    }


def test_reasons_follow_their_contracts_whatever_the_row_index():
    synced = STATE.synced_jobs[STATE.synced_jobs["job_no"] != "JC2"]
    state = dataclasses.replace(
        STATE,
        synced_jobs=synced,
        contracts=where(STATE.contracts, "contract_no", "C1", status="Draft"),
    )
    expected = {"C1": "contract_unapproved", "C2": "job_not_synced"}
    assert reasons(state) == expected
    assert reasons(state, erp_contracts=CONTRACTS.iloc[::-1]) == expected
    assert reasons(state, erp_contracts=CONTRACTS.set_axis([7, 3])) == expected
