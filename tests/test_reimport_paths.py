"""First import, targeted re-import and the conflict policy, through the real flows, on the
SQL store and on Procore."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.demo.generator import edge_case_contracts
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI, JCCM
from contract_sync.store import schema as s
from contract_sync.vocabulary import ConflictPolicy
from contract_sync_flows.first_import import import_main_contract
from contract_sync_flows.reimport import reimport_main_contracts
from tests.store_rows import contract_id

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _edge(store) -> dict[str, str]:
    return edge_case_contracts(read_vista(store.sides.erp, 1).contracts["contract_no"])


def test_first_import_needs_standard_on_erp_integrations_and_happens_once(store):
    contract = _edge(store)["not_imported"]
    refused = import_main_contract(contract, "viewer", company=1).iloc[0]
    assert (refused["outcome"], refused["reasons"]) == ("blocked", "permission_denied")
    assert store.count(contract) == 0

    done = import_main_contract(contract, "estimator", company=1).iloc[0]
    assert done["outcome"] == "imported" and done["reasons"] == ""
    stored = store.header(contract)
    with store.sides.store.connect() as connection:  # the ledger's record of it
        version = connection.execute(
            sa.select(s.main_contracts.c.version).where(
                s.main_contracts.c.id == contract_id(connection, contract)
            )
        ).scalar_one()
    erp = read_vista(store.sides.erp, 1, contract_nos=[contract])
    assert stored["status"] == "Approved" and version == 1
    assert stored["project"] == erp.contracts.loc[0, "job_no"]  # the synced job's project
    assert stored["original_amount"] == erp.contracts.loc[0, "original_amount"]
    assert len(store.items(contract)) == len(erp.items) == done["items_added"]

    again = import_main_contract(contract, "estimator", company=1).iloc[0]
    assert (again["outcome"], again["reasons"]) == ("blocked", "already_imported")
    assert store.count(contract) == 1
    after = reimport_main_contracts(company=1, contracts=[contract], requested_by="admin")
    assert after.loc[0, "reasons"] == "no_updates"


def test_a_conflict_blocks_under_block_and_is_overwritten_under_erp_wins(store):
    contract = "24010-"
    _, item_no = store.describe_first_item(
        contract, store="Edited in the project", erp="Edited in the ERP"
    )
    blocked = reimport_main_contracts(
        company=1, contracts=[contract], requested_by="admin", policy=ConflictPolicy.block
    ).iloc[0]
    assert (blocked["outcome"], blocked["reasons"]) == ("blocked", "conflict")
    assert blocked["amount_after"] == blocked["amount_before"]  # nothing was written
    with store.sides.store.connect() as connection:
        recorded = connection.execute(
            sa.select(sa.func.count())
            .select_from(s.audit_changes.join(s.audit_contracts))
            .where(s.audit_contracts.c.run_id == blocked["run_id"])
        ).scalar()
    assert recorded == 0  # a refusal records its reason, not changes that were not made
    assert store.items(contract).loc[item_no.strip(), "description"] == "Edited in the project"

    done = reimport_main_contracts(company=1, contracts=[contract], requested_by="admin")
    assert done.loc[0, "outcome"] == "reimported"
    with store.sides.store.connect() as connection:
        change = connection.execute(
            sa.select(s.audit_changes)
            .join(s.audit_contracts)
            .where(s.audit_contracts.c.run_id == done.loc[0, "run_id"])
        ).one()
    assert (change.item_no, change.field) == (item_no, "description")
    assert (change.before, change.after) == ("Edited in the project", "Edited in the ERP")
    assert change.overwritten
    assert store.items(contract).loc[item_no.strip(), "description"] == "Edited in the ERP"


def test_every_path_checks_the_acting_user(store):
    # A scheduled run acts as the service user, who lacks Admin on one project;
    # the same contract is open to the admin, and closed to the viewer.
    contract = _edge(store)["permission_denied"]
    with store.sides.erp.begin() as connection:  # give the contract something to re-import
        connection.execute(
            JCCI.update()
            .where(JCCI.c.JCCo == 1, JCCI.c.Contract == contract)
            .values(Description="Scope revised")
        )
    runs = {
        user: reimport_main_contracts(
            company=1, contracts=[contract], requested_by=user, dry_run=True
        ).iloc[0]
        for user in (None, "admin", "viewer")
    }
    assert "permission_denied" in runs[None]["reasons"]
    assert runs["admin"]["outcome"] == "would_reimport"
    assert "permission_denied" in runs["viewer"]["reasons"]


def _under_block(contract: str, full_refresh: bool = False) -> pd.Series:
    """One contract re-imported as admin under the `block` policy; with `full_refresh`
    compared again even when its ERP hash has not moved since its last import."""
    return reimport_main_contracts(
        company=1,
        contracts=[contract],
        requested_by="admin",
        policy=ConflictPolicy.block,
        full_refresh=full_refresh,
    ).iloc[0]


def test_a_change_both_sides_agree_on_settles_the_baseline(store):
    """ERP and store both move the title to B: nothing to re-import, and the baseline moves
    to B, so that a later store edit to C is kept, not taken for a conflict."""
    contract = "24011-"
    with store.sides.erp.begin() as connection:
        connection.execute(
            JCCM.update()
            .where(JCCM.c.JCCo == 1, JCCM.c.Contract == contract)
            .values(Description="Title B")
        )
    store.edit_header(contract, title="Title B")
    first = _under_block(contract)
    assert first["reasons"] == "no_updates"
    store.edit_header(contract, title="Title C")
    second = _under_block(contract, full_refresh=True)
    assert (second["outcome"], second["reasons"]) == ("up_to_date", "no_updates")
    assert store.header(contract)["title"] == "Title C"


def test_an_item_change_both_sides_agree_on_settles_its_baseline_item(store):
    """ERP and store both set an item's description to the same text: nothing to re-import,
    and the baseline item moves to it (only that row is written), so that a later store
    edit of it is kept, not taken for a conflict."""
    contract = "24012-"
    assert contract not in _edge(store).values()
    agreed = "Agreed on both sides"
    store_id, item_no = store.describe_first_item(contract, store=agreed, erp=agreed)
    runs = [_under_block(contract)]
    store.describe_first_item(contract, store="Edited again in the project")
    runs.append(_under_block(contract, full_refresh=True))
    assert [(run["outcome"], run["reasons"]) for run in runs] == [("up_to_date", "no_updates")] * 2
    with store.sides.store.connect() as connection:
        baseline = connection.execute(
            sa.select(s.baseline_items.c.description).where(
                s.baseline_items.c.contract_id == store_id,
                s.baseline_items.c.item_no == item_no.strip(),
            )
        ).scalar_one()
    assert baseline == "Agreed on both sides"
    kept = store.items(contract).loc[item_no.strip(), "description"]
    assert kept == "Edited again in the project"
