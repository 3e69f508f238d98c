"""The data generator and the Vista connector reading what it wrote."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from contract_sync.columns import CONTRACT_COLUMNS, ITEM_COLUMNS
from contract_sync.demo.edit import edit_erp
from contract_sync.demo.generator import EDGE_CASES, edge_case_contracts, generate_company
from contract_sync.demo.seed import AlreadySeeded, seed
from contract_sync.erp.vista import read_vista
from contract_sync.store import schema as s
from contract_sync.vocabulary import LUMP_SUM_UOM
from tests.conftest import SMALL


def test_same_seed_same_data_other_seed_other_data():
    first = generate_company(1, 10, 5, seed=3)
    again = generate_company(1, 10, 5, seed=3)
    other = generate_company(1, 10, 5, seed=4)
    pd.testing.assert_frame_equal(first.items, again.items)
    pd.testing.assert_frame_equal(first.contracts, again.contracts)
    assert not first.items["amount"].equals(other.items["amount"])


def test_generated_money_is_consistent_where_it_is_meant_to_be():
    data = generate_company(3, 50, 8, seed=1)  # company 3 carries no edge cases
    items = data.items
    unit = items[items["uom"] != LUMP_SUM_UOM]
    assert ((unit["quantity"] * unit["unit_cost"]) % 1_000_000 == 0).all()
    assert (unit["quantity"] * unit["unit_cost"] // 1_000_000 == unit["amount"]).all()
    totals = items.groupby("contract_no")["amount"].sum()
    assert (data.contracts.set_index("contract_no")["original_amount"] == totals).all()
    assert set(items["uom"]) <= {"LS", "EA", "SF", "SY", "CY", "LF", "TON", "HR"}
    assert items["cost_code"].dropna().str.match(r"^\d{2}-\d{4}$").all()
    assert data.contracts["title"].str.len().max() <= 30
    assert items["description"].str.len().max() <= 60


def test_vista_read_gives_canonical_frames_equal_to_what_was_written(seeded):
    data = generate_company(1, SMALL["contracts"], SMALL["items_per_contract"], SMALL["seed"])
    frames = read_vista(seeded.erp, 1)
    assert list(frames.contracts.columns) == list(CONTRACT_COLUMNS)
    assert list(frames.items.columns) == list(ITEM_COLUMNS)
    for column in ("quantity", "unit_cost", "amount"):
        assert frames.items[column].dtype == "Int64"
    pd.testing.assert_frame_equal(frames.items, data.items, check_dtype=False)
    pd.testing.assert_frame_equal(frames.contracts, data.contracts, check_dtype=False)


def test_seeded_store_holds_every_edge_case(seeded):
    contracts = read_vista(seeded.erp, 1).contracts
    edge = edge_case_contracts(contracts["contract_no"])
    assert list(edge) == EDGE_CASES
    with seeded.store.connect() as connection:

        def count(query):
            return connection.execute(query).scalar()

        def store_contracts(contract_no):
            return (
                sa.select(sa.func.count())
                .select_from(s.main_contracts)
                .where(
                    s.main_contracts.c.company_id == 1, s.main_contracts.c.origin_id == contract_no
                )
            )

        assert count(store_contracts(edge["not_imported"])) == 0
        assert count(store_contracts(edge["contract_in_multiple_projects"])) == 2
        status = connection.execute(
            sa.select(s.main_contracts.c.status).where(
                s.main_contracts.c.origin_id == edge["contract_unapproved"],
                s.main_contracts.c.company_id == 1,
            )
        ).scalar()
        assert status == "Draft"
        job = contracts.set_index("contract_no").loc[edge["job_not_synced"], "job_no"]
        synced = (
            sa.select(sa.func.count())
            .select_from(s.synced_jobs)
            .where(s.synced_jobs.c.erp_job_no == job, s.synced_jobs.c.company_id == 1)
        )
        assert count(synced) == 0
        standard = (
            sa.select(sa.func.count())
            .select_from(s.tool_permissions.join(s.users))
            .where(s.users.c.login == "sync-service", s.tool_permissions.c.level == "standard")
        )
        assert count(standard) == 1
        quickbooks = sa.select(s.erp_integrations.c.erp_type).where(
            s.erp_integrations.c.company_id == 2
        )
        assert connection.execute(quickbooks).scalar() == "quickbooks_online"


def test_seeding_twice_is_refused(seeded):
    with pytest.raises(AlreadySeeded):
        seed(seeded.erp, seeded.store, **SMALL)


def test_edit_erp_changes_only_regular_contracts_and_keeps_totals(seeded):
    before = read_vista(seeded.erp, 1)
    summary = edit_erp(seeded.erp, 1, 0.5, seed=1)
    after = read_vista(seeded.erp, 1)
    edge = set(edge_case_contracts(before.contracts["contract_no"]).values())
    assert summary.contracts and not edge & set(summary.contracts)
    changed = before.items.merge(after.items, how="outer", indicator=True)
    touched = set(changed.loc[changed["_merge"] != "both", "contract_no"])
    assert touched == set(summary.contracts)
    totals = after.items.groupby("contract_no")["amount"].sum()
    regular = after.contracts[~after.contracts["contract_no"].isin(edge)]
    assert (
        regular.set_index("contract_no")["original_amount"] == totals[regular["contract_no"]]
    ).all()
    second = edit_erp(seeded.erp, 1, 0.5, seed=1)
    assert read_vista(seeded.erp, 1).items["amount"].sum() != after.items["amount"].sum()
    assert second.items_changed > 0
