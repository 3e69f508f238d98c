"""compare: the keyed three-way diff of ERP, store and last-import baseline."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_sync.columns import ITEM_FIELDS
from contract_sync.stages.compare import compare
from tests.frames import contracts_frame, item, items_frame, make_state

COUNTS = ["items_added", "items_changed", "items_removed", "items_unchanged", "header_changes"]


# --- frames --------------------------------------------------------------------------------


def edited(frame: pd.DataFrame, contract_no: str, item_no: str | None = None, **values):
    """A copy of `frame` with `values` set on the rows of one contract (or one of its items)."""
    rows = frame["contract_no"] == contract_no
    if item_no is not None:
        rows &= frame["item_no"] == item_no
    assert rows.sum() == 1
    frame = frame.copy()
    for field, value in values.items():
        frame.loc[rows, field] = value
    return frame


def dropped(frame: pd.DataFrame, contract_no: str, item_no: str) -> pd.DataFrame:
    keep = (frame["contract_no"] != contract_no) | (frame["item_no"] != item_no)
    return frame[keep].reset_index(drop=True)


CONTRACTS = contracts_frame("C1", "C2", "C3")
ITEMS = items_frame(
    item("C1", "10"),
    item("C1", "20", amount=50_000, description="Concrete"),
    item("C1", "30"),
    item("C2", "10"),
    item("C2", "20"),
    item("C3", "10"),
)
STATE = make_state(CONTRACTS, ITEMS)


def summary(comparison) -> pd.DataFrame:
    return comparison.contracts.set_index("contract_no").sort_index()


def item_row(comparison, contract_no: str, item_no: str) -> pd.Series:
    items = comparison.items
    rows = items[(items["contract_no"] == contract_no) & (items["item_no"] == item_no)]
    assert len(rows) == 1
    return rows.iloc[0]


def change_rows(comparison, contract_no: str) -> pd.DataFrame:
    changes = comparison.changes
    return changes[changes["contract_no"] == contract_no].reset_index(drop=True)


# --- the import state itself ---------------------------------------------------------------


def test_unchanged_erp_has_no_updates_and_no_change_rows():
    comparison = compare(STATE, CONTRACTS, ITEMS)
    contracts = summary(comparison)
    assert list(contracts.index) == ["C1", "C2", "C3"]
    assert not contracts["has_updates"].any()
    assert contracts["items_unchanged"].to_dict() == {"C1": 3, "C2": 2, "C3": 1}
    assert (contracts[["items_added", "items_changed", "items_removed"]] == 0).all().all()
    assert len(comparison.changes) == 0
    assert (comparison.items["change"] == "unchanged").all()


# --- item fields ---------------------------------------------------------------------------


def test_item_changed_only_in_the_erp_is_written():
    erp_items = edited(ITEMS, "C1", "20", amount=50_001)  # 500.00 -> 500.01
    comparison = compare(STATE, CONTRACTS, erp_items)
    target = item_row(comparison, "C1", "20")
    assert target["change"] == "changed"
    assert target["amount"] == 50_001
    assert target["description"] == "Concrete"
    changes = change_rows(comparison, "C1")
    assert changes[["item_no", "change", "field", "before", "after"]].values.tolist() == [
        ["20", "changed", "amount", "500.00", "500.01"]
    ]
    assert not changes.loc[0, "overwritten"]
    contracts = summary(comparison)
    assert contracts.loc["C1", "items_changed"] == 1
    assert contracts.loc["C1", "items_unchanged"] == 2
    assert contracts.loc["C1", "conflicts"] == 0
    assert contracts["has_updates"].to_dict() == {"C1": True, "C2": False, "C3": False}


def test_scaled_fields_are_written_as_exact_decimal_text():
    erp_items = edited(ITEMS, "C2", "10", quantity=-1, unit_cost=100_000_001, amount=-5)
    comparison = compare(STATE, CONTRACTS, erp_items)
    changes = change_rows(comparison, "C2").set_index("field")
    assert changes.loc["quantity", "after"] == "-0.001"
    assert changes.loc["unit_cost", "after"] == "1000.00001"
    assert changes.loc["amount", "after"] == "-0.05"
    assert changes.loc["amount", "before"] == "123.45"


def test_field_changed_only_in_the_store_is_kept():
    state = dataclasses.replace(STATE, items=edited(STATE.items, "C1", "20", cost_code="01-100"))
    comparison = compare(state, CONTRACTS, ITEMS)
    target = item_row(comparison, "C1", "20")
    assert target["change"] == "unchanged"
    assert target["cost_code"] == "01-100"
    # Shown as a kept store edit for the preview; not a change (the audit skips `kept`).
    assert comparison.changes[["change", "field", "before"]].values.tolist() == [
        ["kept", "cost_code", "01-100"]
    ]
    contracts = summary(comparison)
    assert contracts.loc["C1", "items_unchanged"] == 3
    assert not contracts.loc["C1", "has_updates"]


def test_store_edit_is_kept_while_the_erp_changes_another_field_of_the_item():
    state = dataclasses.replace(STATE, items=edited(STATE.items, "C1", "20", cost_code="01-100"))
    comparison = compare(state, CONTRACTS, edited(ITEMS, "C1", "20", amount=60_000))
    target = item_row(comparison, "C1", "20")
    assert (target["change"], target["cost_code"], target["amount"]) == (
        "changed",
        "01-100",
        60_000,
    )
    rows = change_rows(comparison, "C1")
    assert sorted(rows[["change", "field"]].values.tolist()) == [
        ["changed", "amount"],
        ["kept", "cost_code"],
    ]


def test_field_changed_on_both_sides_is_a_conflict_the_erp_wins():
    state = dataclasses.replace(
        STATE, items=edited(STATE.items, "C1", "20", description="Concrete (store)")
    )
    comparison = compare(state, CONTRACTS, edited(ITEMS, "C1", "20", description="Concrete (ERP)"))
    target = item_row(comparison, "C1", "20")
    assert target["change"] == "changed"
    assert target["description"] == "Concrete (ERP)"
    changes = change_rows(comparison, "C1")
    assert changes[["field", "before", "after"]].values.tolist() == [
        ["description", "Concrete (store)", "Concrete (ERP)"]
    ]
    assert bool(changes.loc[0, "overwritten"])
    contracts = summary(comparison)
    assert contracts.loc["C1", "conflicts"] > 0
    assert contracts.loc["C2", "conflicts"] == 0
    assert contracts.loc["C1", "has_updates"]


def test_removing_an_edited_item_counts_conflicts_consistently_with_the_audit():
    counted = {}
    for field, value in [("description", "Mine"), ("cost_code", "01-100")]:
        state = dataclasses.replace(STATE, items=edited(STATE.items, "C2", "20", **{field: value}))
        comparison = compare(state, CONTRACTS, dropped(ITEMS, "C2", "20"))
        assert summary(comparison).loc["C2", "items_removed"] == 1
        conflicts = summary(comparison).loc["C2", "conflicts"]
        assert conflicts == change_rows(comparison, "C2")["overwritten"].astype(bool).sum()
        counted[field] = conflicts
    assert counted["description"] == counted["cost_code"]


def test_same_change_on_both_sides_is_neither_a_conflict_nor_an_update():
    state = dataclasses.replace(STATE, items=edited(STATE.items, "C1", "20", amount=70_000))
    comparison = compare(state, CONTRACTS, edited(ITEMS, "C1", "20", amount=70_000))
    assert item_row(comparison, "C1", "20")["change"] == "unchanged"
    assert summary(comparison).loc["C1", "conflicts"] == 0
    assert not summary(comparison).loc["C1", "has_updates"]


def test_item_new_in_the_erp_is_added_and_one_gone_from_it_is_removed():
    erp_items = dropped(pd.concat([ITEMS, items_frame(item("C1", "40"))]), "C2", "20")
    comparison = compare(STATE, CONTRACTS, erp_items)
    assert item_row(comparison, "C1", "40")["change"] == "added"
    assert item_row(comparison, "C1", "40")["amount"] == 12_345
    assert item_row(comparison, "C2", "20")["change"] == "removed"
    assert item_row(comparison, "C2", "20")["item_id"] == STATE.items["item_id"].iloc[4]
    counts = summary(comparison)[["items_added", "items_removed", "items_unchanged"]]
    assert counts.loc["C1"].tolist() == [1, 0, 3]
    assert counts.loc["C2"].tolist() == [0, 1, 1]
    contracts = summary(comparison)
    assert contracts["has_updates"].to_dict() == {"C1": True, "C2": True, "C3": False}
    presence = comparison.changes[comparison.changes["change"].isin(["added", "removed"])]
    assert sorted(presence[["contract_no", "item_no", "change"]].values.tolist()) == [
        ["C1", "40", "added"],
        ["C2", "20", "removed"],
    ]


# --- header --------------------------------------------------------------------------------


def test_header_field_changed_in_the_erp_is_counted_and_written():
    erp_contracts = edited(CONTRACTS, "C2", title="Contract C2, revised")
    comparison = compare(STATE, erp_contracts, ITEMS)
    contracts = summary(comparison)
    assert contracts["header_changes"].to_dict() == {"C1": 0, "C2": 1, "C3": 0}
    assert contracts.loc["C2", "title"] == "Contract C2, revised"
    assert contracts.loc["C2", "has_updates"]
    changes = change_rows(comparison, "C2")
    assert changes[["field", "before", "after"]].values.tolist() == [
        ["title", "Contract C2", "Contract C2, revised"]
    ]
    assert pd.isna(changes.loc[0, "item_no"])


def test_header_field_changed_on_both_sides_is_a_conflict_the_erp_wins():
    state = dataclasses.replace(STATE, contracts=edited(STATE.contracts, "C1", title="Store"))
    comparison = compare(state, edited(CONTRACTS, "C1", title="ERP"), ITEMS)
    contracts = summary(comparison)
    assert contracts.loc["C1", "title"] == "ERP"
    counts = contracts[["header_changes", "header_conflicts", "conflicts"]]
    assert counts.loc["C1"].tolist() == [1, 1, 1]
    assert counts.loc["C2"].tolist() == [0, 0, 0]
    changes = change_rows(comparison, "C1")
    assert changes[["field", "before", "after", "overwritten"]].values.tolist() == [
        ["title", "Store", "ERP", True]
    ]


def test_header_amount_before_and_after():
    erp_contracts = edited(CONTRACTS, "C3", original_amount=1_000_001)
    contracts = summary(compare(STATE, erp_contracts, ITEMS))
    amounts = contracts[["amount_before", "amount_after"]]
    assert amounts.loc["C3"].tolist() == [1_000_000, 1_000_001]
    assert amounts.loc["C1"].tolist() == [1_000_000, 1_000_000]


def test_header_field_changed_only_in_the_store_is_kept():
    state = dataclasses.replace(STATE, contracts=edited(STATE.contracts, "C1", customer="Acme Inc"))
    contracts = summary(compare(state, CONTRACTS, ITEMS))
    assert contracts.loc["C1", "customer"] == "Acme Inc"
    assert contracts.loc["C1", "header_changes"] == 0
    assert not contracts.loc["C1", "has_updates"]


# --- matching ------------------------------------------------------------------------------


def test_contract_in_two_projects_is_not_compared():
    second = STATE.contracts[STATE.contracts["contract_no"] == "C3"].assign(
        contract_id=999, project_id=9
    )
    state = dataclasses.replace(
        STATE, contracts=pd.concat([STATE.contracts, second], ignore_index=True)
    )
    comparison = compare(state, CONTRACTS, edited(ITEMS, "C3", "10", amount=1))
    assert set(comparison.contracts["contract_no"]) == {"C1", "C2"}
    assert "C3" not in set(comparison.items["contract_no"])
    assert "C3" not in set(comparison.changes["contract_no"])


def test_store_contract_missing_from_the_erp_batch_is_not_compared():
    comparison = compare(STATE, CONTRACTS.iloc[:2], ITEMS[ITEMS["contract_no"] != "C3"])
    assert set(comparison.contracts["contract_no"]) == {"C1", "C2"}
    assert set(comparison.items["contract_no"]) == {"C1", "C2"}
    assert set(comparison.changes["contract_no"]) <= {"C1", "C2"}


def test_row_order_does_not_change_the_counts():
    erp_contracts = edited(CONTRACTS, "C2", title="New")
    erp_items = dropped(
        pd.concat([edited(ITEMS, "C1", "10", amount=1), items_frame(item("C3", "20"))]),
        "C2",
        "10",
    )
    expected = summary(compare(STATE, erp_contracts, erp_items))[[*COUNTS, "has_updates"]]

    def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        return frame.sample(frac=1, random_state=seed).reset_index(drop=True)

    for seed in range(3):
        state = dataclasses.replace(
            STATE,
            contracts=shuffled(STATE.contracts, seed),
            items=shuffled(STATE.items, seed),
            baselines=shuffled(STATE.baselines, seed),
            baseline_items=shuffled(STATE.baseline_items, seed),
        )
        comparison = compare(state, shuffled(erp_contracts, seed), shuffled(erp_items, seed + 7))
        pd.testing.assert_frame_equal(summary(comparison)[[*COUNTS, "has_updates"]], expected)
    assert expected.loc["C1", "items_changed"] == 1
    assert expected.loc["C2", ["items_removed", "header_changes"]].tolist() == [1, 1]
    assert expected.loc["C3", "items_added"] == 1


# --- properties ----------------------------------------------------------------------------

NUMBERS = ["C1", "C2", "C3"]
ITEM_NOS = ["1", "2", "3", "10"]


def scaled_ints(bound: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(-2, 2), st.integers(-bound, bound))  # small ones collide


FIELD_VALUES = {
    "position": st.integers(0, 5),
    "description": st.one_of(st.none(), st.sampled_from(["", "A", "a"]), st.text(max_size=6)),
    "quantity": scaled_ints(10**9),
    "unit_cost": scaled_ints(10**12),
    "amount": scaled_ints(10**12),
    "cost_code": st.sampled_from([None, "01-100", "02-200"]),
}
item_values = st.fixed_dictionaries(FIELD_VALUES)
item_edits = st.fixed_dictionaries({}, optional=FIELD_VALUES)
item_keys = st.tuples(st.sampled_from(NUMBERS), st.sampled_from(ITEM_NOS))
item_sets = st.dictionaries(item_keys, item_values, max_size=8)


@st.composite
def edited_sets(draw, base: dict) -> dict:
    """Some of `base`'s items with some fields edited, plus some other items."""
    result = draw(st.dictionaries(item_keys, item_values, max_size=4))
    for key, values in base.items():
        if draw(st.booleans()):
            result[key] = {**values, **draw(item_edits)}
    return result


@st.composite
def three_sides(draw) -> tuple[dict, dict, dict]:
    """(baseline, store, erp): the store and the ERP each edited the imported items."""
    imported = draw(item_sets)
    store = {key: {**values, **draw(item_edits)} for key, values in imported.items()}
    return imported, store, draw(edited_sets(imported))


def frame_of(items: dict) -> pd.DataFrame:
    return items_frame(*(item(c, i, **values) for (c, i), values in sorted(items.items())))


ERP_CONTRACTS = contracts_frame(*NUMBERS)
# How many examples: the Hypothesis profile, ci or dev (tests/conftest.py).
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(item_sets)
def test_property_comparing_the_imported_state_has_no_updates(items):
    erp_items = frame_of(items)
    comparison = compare(make_state(ERP_CONTRACTS, erp_items), ERP_CONTRACTS, erp_items)
    assert not comparison.contracts["has_updates"].any()
    assert len(comparison.changes) == 0
    assert (comparison.items["change"] == "unchanged").all()
    assert len(comparison.items) == len(erp_items)


@PROPERTY
@given(item_sets, item_sets)
def test_property_applying_the_targets_reproduces_the_erp_items(imported, now):
    erp_items = frame_of(now)
    comparison = compare(make_state(ERP_CONTRACTS, frame_of(imported)), ERP_CONTRACTS, erp_items)
    key = ["contract_no", "item_no"]
    applied = comparison.items[comparison.items["change"] != "removed"][[*key, *ITEM_FIELDS]]
    expected = erp_items[[*key, *ITEM_FIELDS]].astype(applied.dtypes.to_dict())
    pd.testing.assert_frame_equal(
        applied.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
    )


@PROPERTY
@given(item_sets, item_sets)
def test_property_every_item_key_is_counted_once(imported, now):
    comparison = compare(
        make_state(ERP_CONTRACTS, frame_of(imported)), ERP_CONTRACTS, frame_of(now)
    )
    union = set(imported) | set(now)
    contracts = summary(comparison)
    counted = contracts[["items_added", "items_changed", "items_removed", "items_unchanged"]]
    for no in NUMBERS:
        assert counted.loc[no].sum() == sum(1 for c, _ in union if c == no)
    assert contracts["items_added"].sum() == len(set(now) - set(imported))
    assert contracts["items_removed"].sum() == len(set(imported) - set(now))
    assert len(comparison.items) == len(union)


@pytest.mark.parametrize("field", ["description", "cost_code"])
def test_clearing_a_text_field_in_the_erp_is_written(field):
    imported = edited(ITEMS, "C1", "10", cost_code="01-100")
    comparison = compare(
        make_state(CONTRACTS, imported), CONTRACTS, edited(imported, "C1", "10", **{field: None})
    )
    target = item_row(comparison, "C1", "10")
    assert target["change"] == "changed"
    assert pd.isna(target[field])
    assert change_rows(comparison, "C1")["field"].tolist() == [field]


@PROPERTY
@given(three_sides())
def test_property_three_way_writes_what_the_erp_changed_and_keeps_the_rest(sides):
    imported, store, now = sides
    state = dataclasses.replace(
        make_state(ERP_CONTRACTS, frame_of(imported)),
        items=make_state(ERP_CONTRACTS, frame_of(store)).items,
    )
    comparison = compare(state, ERP_CONTRACTS, frame_of(now))
    written, conflicts = set(), set()
    for key in imported.keys() & now.keys():
        base, mine, erp = (item(*key, **side[key]) for side in (imported, store, now))
        for field in ITEM_FIELDS:
            if erp[field] != base[field] and erp[field] != mine[field]:
                written.add((*key, field))
                if mine[field] != base[field] and field != "position":
                    conflicts.add((*key, field))
        target = item_row(comparison, *key)
        for field in ITEM_FIELDS:
            expected = erp[field] if (*key, field) in written else mine[field]
            actual = None if pd.isna(target[field]) else target[field]
            assert actual == expected, (key, field)
    # A moved position is written but is no change of its own: neither logged nor counted.
    writes = {w for w in written if w[2] != "position"}
    renumbered = {w[:2] for w in written if w[2] == "position"} - {w[:2] for w in writes}
    changed = comparison.changes[comparison.changes["change"] == "changed"]
    rows = changed[["contract_no", "item_no", "field"]].itertuples(index=False, name=None)
    assert set(rows) == writes
    overwritten = changed[changed["overwritten"].astype(bool)]
    rows = overwritten[["contract_no", "item_no", "field"]].itertuples(index=False, name=None)
    assert set(rows) == conflicts
    items = comparison.items.set_index(["contract_no", "item_no"])["change"]
    assert {key for key, change in items.items() if change == "changed"} == {
        (contract_no, item_no) for contract_no, item_no, _ in writes
    }
    assert {key for key, change in items.items() if change == "renumbered"} == renumbered


# --- text held by Arrow --------------------------------------------------------------------

TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "A", "a ", "é", "10"]))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.tuples(TEXT, TEXT)))
def test_text_held_by_arrow_compares_as_text_held_by_python(values):
    pytest.importorskip("pyarrow")
    from contract_sync.stages.compare import same_values

    left, right = [v for v, _ in values], [v for _, v in values]
    expected = [a == b for a, b in values]  # missing on both sides is the same
    arrow, python = pd.StringDtype("pyarrow"), pd.StringDtype("python")
    arrow_nan = pd.StringDtype("pyarrow", na_value=float("nan"))  # pandas' `str`
    for left_dtype, right_dtype in [
        (arrow, arrow),
        (python, arrow),
        (arrow, python),
        (arrow_nan, arrow_nan),
        (arrow_nan, arrow),
    ]:
        found = same_values(pd.array(left, dtype=left_dtype), pd.array(right, dtype=right_dtype))
        assert found.tolist() == expected, (left_dtype, right_dtype)
