"""A run in groups of contracts: the same outcome as in one group, whole contracts in each
group, nothing written when the ERP fails after the first group."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from contract_sync.demo.edit import edit_erp
from contract_sync.demo.seed import seed
from contract_sync.erp import groups
from contract_sync.erp.frames import ErpDataError, ErpReadError
from contract_sync.erp.groups import split_by_contract
from contract_sync.erp.vista import read_vista
from contract_sync.erp.vista_schema import JCCI
from contract_sync.held import HeldFrames
from contract_sync.hooks import Hooks
from contract_sync.model import Request
from contract_sync.run import first_import, reimport
from contract_sync.settings import Settings
from contract_sync.store import schema as s
from contract_sync.store.state import load_state, with_items
from contract_sync_faces.cli import OUTCOME_FIELDS
from tests.conftest import SMALL, new_sides

# What a contract's audit row says, the run's id aside.
AUDITED = [f for f in OUTCOME_FIELDS if f != "run_id"] + ["erp_hash", "version_after"]


@given(
    sizes=st.lists(st.integers(1, 9), max_size=12),
    chunk=st.integers(1, 10),
    group_items=st.one_of(st.none(), st.integers(1, 20)),
)
def test_groups_hold_whole_contracts_and_every_row_once(sizes, chunk, group_items):
    rows = pd.DataFrame(
        {"contract_no": [f"C{n:02d}" for n, size in enumerate(sizes) for _ in range(size)]}
    )
    rows["row"] = range(len(rows))
    chunks = [rows.iloc[i : i + chunk] for i in range(0, len(rows), chunk)]
    groups = list(split_by_contract(chunks, group_items))

    assert pd.concat(groups, ignore_index=True).equals(rows) if groups else rows.empty
    owners = Counter(c for g in groups for c in g["contract_no"].unique())
    assert set(owners.values()) <= {1}  # no contract in two groups
    if group_items is not None:  # cut at the first contract boundary after group_items rows
        assert all(len(group) >= group_items for group in groups[:-1])
        assert all(len(group) < group_items + max(sizes) for group in groups)


def test_only_nothing_kept_is_empty_frames_of_the_same_columns(seeded):
    erp = read_vista(seeded.erp, 1)
    none = erp.only(pd.Series(False, index=erp.contracts.index))
    one = erp.only(erp.contracts["contract_no"] == erp.contracts["contract_no"].iloc[0])
    assert none.contracts.empty and none.items.empty
    pd.testing.assert_series_equal(none.contracts.dtypes, erp.contracts.dtypes)
    pd.testing.assert_series_equal(none.items.dtypes, erp.items.dtypes)
    assert len(one.contracts) == 1 and set(one.items["contract_no"]) == set(
        one.contracts["contract_no"]
    )


def test_held_frames_spill_beyond_their_budget_and_come_back_equal(seeded):
    erp = read_vista(seeded.erp, 1)
    numbers = erp.contracts["contract_no"]
    parts = [erp.only(numbers.isin(numbers.iloc[i : i + 3])) for i in range(0, len(numbers), 3)]
    with HeldFrames(budget_items=20) as held:
        for part in parts:
            held.add(part)
        assert held.spilled > 0 and held.in_memory <= 20
        back = list(held.groups(None))
        folder = held._folder.path
    [whole] = back
    pd.testing.assert_frame_equal(whole.contracts, erp.contracts)
    pd.testing.assert_frame_equal(whole.items, erp.items)
    assert not Path(folder).exists()  # removed on exit


def _twin(database_url, name: str):
    """Databases of their own, named apart, for one of two runs compared."""
    return new_sides(lambda side: database_url(f"{name}_{side}"))


def _counting(counted: Counter):
    """A stage timer that counts each stage's runs in `counted`."""

    def timer(stage: str):
        counted[stage] += 1
        return nullcontext()

    return timer


def _store_contents(sides) -> pd.DataFrame:
    state = load_state(sides.store, 1, "admin")
    state = with_items(sides.store, state, state.contracts["contract_id"])
    # Ids and PostgreSQL's row versions differ between two databases; the contents not.
    items = state.items.drop(columns=["item_id", "contract_id", "item_version"], errors="ignore")
    return items.sort_values(["contract_no", "item_no"]).reset_index(drop=True)


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_run_in_small_groups_does_what_one_group_does(database_url, full_refresh):
    audits, contents, extracts, progress = [], [], [], []
    for name, group_items in (("whole", 10**9), ("groups", 7)):
        with _twin(database_url, name) as sides:
            seed(sides.erp, sides.store, **SMALL)
            edit_erp(sides.erp, 1, 0.5, seed=3)
            settings = Settings(
                erp_url=sides.erp_url,
                store_url=sides.store_url,
                data_docs=False,
                group_items=group_items,
            )
            request = Request(company=1, actor="admin", full_refresh=full_refresh)
            counted, moved = Counter(), []
            hooks = Hooks(
                timer=_counting(counted), progress=lambda *done, moved=moved: moved.append(done)
            )
            result = reimport(settings, request, hooks=hooks)
            audits.append(result.audit[AUDITED].reset_index(drop=True))
            contents.append(_store_contents(sides))
            extracts.append(counted)
            progress.append(moved)
    pd.testing.assert_frame_equal(audits[0], audits[1])
    pd.testing.assert_frame_equal(contents[0], contents[1])
    assert audits[0]["outcome"].eq("reimported").sum() > 0
    # One group, and then many: each read, compared and written apart.
    assert extracts[0]["extract"] == 2 and extracts[1]["extract"] > 5
    assert extracts[1]["apply"] > 2
    # Progress moves one contract written at a time, its total shrinking to the exact one.
    written = int(audits[0]["outcome"].eq("reimported").sum())
    assert progress[0] == [(n, written) for n in range(1, written + 1)]
    assert [done for done, _ in progress[1]] == list(range(1, written + 1))
    totals = [total for _, total in progress[1]]
    assert totals == sorted(totals, reverse=True) and totals[-1] == written


def test_a_group_is_read_in_pieces_and_written_as_one(database_url, monkeypatch):
    """A group larger than a read piece: read and hashed a piece at a time, compared and
    written as one group, with the outcome of a read in one piece."""
    audits, counts = [], []
    for name, piece in (("one_piece", 10**9), ("pieces", 7)):
        monkeypatch.setattr(groups, "READ_PIECE_ITEMS", piece)
        with _twin(database_url, name) as sides:
            seed(sides.erp, sides.store, **SMALL)
            edit_erp(sides.erp, 1, 0.5, seed=3)
            settings = Settings(
                erp_url=sides.erp_url, store_url=sides.store_url, data_docs=False, group_items=500
            )
            counted = Counter()

            hooks = Hooks(timer=_counting(counted))
            result = reimport(settings, Request(company=1, actor="admin"), hooks=hooks)
            audits.append(result.audit[AUDITED].reset_index(drop=True))
            counts.append(counted)
    pd.testing.assert_frame_equal(audits[0], audits[1])
    assert audits[0]["outcome"].eq("reimported").sum() > 0
    assert counts[0]["extract"] == 2 and counts[1]["extract"] > 5  # the last finds the end
    assert counts[0]["apply"] == counts[1]["apply"] == 1
    assert counts[1]["hash"] == counts[1]["extract"] - 1


def test_read_pieces_are_the_group_up_to_their_own_size():
    assert groups.read_piece_items(None) is None
    assert groups.read_piece_items(7) == 7
    assert groups.read_piece_items(10**6) == groups.READ_PIECE_ITEMS


def test_a_first_import_in_groups_imports_every_requested_contract(seeded):
    erp = read_vista(seeded.erp, 1)
    settings = Settings(
        erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False, group_items=1
    )
    state = load_state(seeded.store, 1, "admin")
    fresh = sorted(set(erp.contracts["contract_no"]) - set(state.contracts["contract_no"]))
    moved = []
    result = first_import(
        settings,
        Request(company=1, actor="estimator", contracts=fresh),
        hooks=Hooks(progress=lambda *done: moved.append(done)),
    )
    imported = result.audit.set_index("contract_no")
    counts = erp.items.groupby("contract_no").size()
    done = imported[imported["outcome"] == "imported"]
    assert len(done) > 0
    assert (done["items_added"] == counts[done.index]).all()
    assert moved[-1] == (len(done), len(done))  # exact at the end, blocked ones last or not


def test_a_read_that_ends_early_fails_the_run_before_any_write(seeded):
    """A stream that stops (say, a retried read task) never passes for the whole ERP."""
    settings = Settings(
        erp_url=seeded.erp_url, store_url=seeded.store_url, data_docs=False, group_items=5
    )
    extracts = Counter()

    def stop_early(name, function, /, **arguments):
        extracts[name] += 1
        if name == "extract" and extracts[name] > 2:
            return None
        return function(**arguments)

    before = _written(seeded)
    with pytest.raises(ErpReadError, match="the ERP read ended before contracts"):
        reimport(settings, Request(company=1, actor="admin"), hooks=Hooks(run_stage=stop_early))
    assert _written(seeded) == before


def _late_contract(sides) -> str:
    """The contract whose items the ERP streams last."""
    with sides.erp.connect() as connection:
        return connection.execute(
            sa.select(JCCI.c.Contract)
            .where(JCCI.c.JCCo == 1)
            .order_by(JCCI.c.Contract.desc())
            .limit(1)
        ).scalar_one()


def _written(sides) -> tuple[int, int]:
    with sides.store.connect() as connection:
        return (
            connection.execute(sa.select(sa.func.count()).select_from(s.audit_contracts)).scalar(),
            connection.execute(sa.select(sa.func.sum(s.main_contracts.c.version))).scalar(),
        )


@pytest.mark.parametrize("group_items", [5, 10**9])
def test_an_erp_fault_in_the_last_group_fails_the_run_before_any_write(seeded, group_items):
    """In a late group or in the only one: the same refusal, the store untouched."""
    edit_erp(seeded.erp, 1, 1.0, seed=5)  # every contract has something to write
    late = _late_contract(seeded)
    with seeded.erp.begin() as connection:  # half its items under a padded code: sorted apart
        items = JCCI.c.JCCo == 1, JCCI.c.Contract == late
        first = connection.execute(sa.select(sa.func.min(JCCI.c.Item)).where(*items))
        connection.execute(
            JCCI.update()
            .where(*items, JCCI.c.Item == first.scalar_one())
            .values(Contract=" " + late.strip())
        )
    before = _written(seeded)
    settings = Settings(
        erp_url=seeded.erp_url,
        store_url=seeded.store_url,
        data_docs=False,
        group_items=group_items,
    )
    with pytest.raises(ErpDataError) as raised:
        reimport(settings, Request(company=1, actor="admin"))
    assert late.strip() in str(raised.value)
    assert _written(seeded) == before
    with seeded.store.connect() as connection:
        ends = connection.execute(sa.select(s.run_ends.c.status)).scalars().all()
    assert ends[-1] == "failed"


@pytest.mark.parametrize("group_items", [5, 10**9])
def test_a_value_with_more_decimals_in_the_last_group_quarantines_its_contract_alone(
    seeded, backend, group_items
):
    """Rejected, never rounded, in a late group or in the only one: the other contracts
    are written."""
    if backend == "postgresql":
        pytest.skip("PostgreSQL's NUMERIC rounds a value to its column's scale when stored")
    edit_erp(seeded.erp, 1, 1.0, seed=5)  # every contract has something to write
    late = _late_contract(seeded)
    with seeded.erp.begin() as connection:
        items = JCCI.c.JCCo == 1, JCCI.c.Contract == late
        connection.execute(JCCI.update().where(*items).values(OrigContractAmt=12.345))
    settings = Settings(
        erp_url=seeded.erp_url,
        store_url=seeded.store_url,
        data_docs=False,
        group_items=group_items,
    )
    audit = reimport(settings, Request(company=1, actor="admin")).audit.set_index("contract_no")
    assert audit.loc[late.strip(), "reasons"].split() == ["invalid_erp_data"]
    [said] = {
        text
        for d in audit.loc[late.strip(), "failed_expectations"]
        for text in d["values"].values()
        if "decimals" in str(text)
    }
    assert said == "JCCI, column OrigContractAmt: '12.345' has more than 2 decimals"
    assert (audit.drop(index=late.strip())["reasons"] != "invalid_erp_data").sum() > 1
    assert "reimported" in set(audit["outcome"])
