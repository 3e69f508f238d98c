"""The baseline rows a write changes: written over the old baseline, they give the ERP's
items exactly, and they hold no row the baseline already has."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_sync.columns import BASELINE_ITEM_KEY, BASELINE_ROW, ITEM_FIELDS
from contract_sync.stages.baselines import baseline_changes

FIELDS = {  # a few values each, missing ones included, so that rows often agree
    "position": st.sampled_from([1, 2, None]),
    "description": st.sampled_from(["Pour", "Pour ", "", None]),
    "cost_code": st.sampled_from(["01-100", None]),
    "line_item_type": st.sampled_from(["Labor"]),
    "uom": st.sampled_from(["LS", "EA"]),
    "quantity": st.sampled_from([1000, 0, None]),
    "unit_cost": st.sampled_from([150_000, None]),
    "amount": st.sampled_from([150, 151, None]),
    "tax_code": st.sampled_from(["T", None]),
}
assert set(FIELDS) == set(ITEM_FIELDS)
KEYS = st.tuples(st.sampled_from([1, 2, 3]), st.sampled_from(["1", "2", "10", "A-1"]))


def _items(rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"contract_id": c, "item_no": i, **values} for (c, i), values in rows.items()],
        columns=[*BASELINE_ITEM_KEY, *ITEM_FIELDS],
    )
    numbers = ["position", "quantity", "unit_cost", "amount"]
    texts = [f for f in ITEM_FIELDS if f not in numbers]
    return frame.astype({"contract_id": "int64", **dict.fromkeys(numbers, "Int64")}).astype(
        {"item_no": "string", **dict.fromkeys(texts, "string")}
    )


ROWS = st.dictionaries(KEYS, st.fixed_dictionaries(FIELDS), max_size=12)


@st.composite
def baseline_and_erp(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An old baseline, and ERP items made from it: each row kept, dropped, or with one
    field set to a value it may already hold; then new rows (or rows set anew)."""
    old = draw(ROWS)
    erp = {}
    for key, values in old.items():
        action = draw(st.sampled_from(["keep", "drop", "edit", "edit"]))
        if action == "edit":
            field = draw(st.sampled_from(ITEM_FIELDS))
            values = {**values, field: draw(FIELDS[field])}
        if action != "drop":
            erp[key] = values
    erp.update(draw(st.dictionaries(KEYS, st.fixed_dictionaries(FIELDS), max_size=4)))
    return _items(old), _items(erp)


def _written(old: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """The old baseline with the changes written as apply writes them: each changed key's
    row deleted, the ones not gone inserted."""
    keys = pd.MultiIndex.from_frame(changes[BASELINE_ITEM_KEY])
    kept = old[~pd.MultiIndex.from_frame(old[BASELINE_ITEM_KEY]).isin(keys)]
    return _sorted(pd.concat([kept, changes.loc[~changes["gone"], kept.columns]]))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(BASELINE_ITEM_KEY).reset_index(drop=True)


@settings(max_examples=300, deadline=None)
@given(sides=baseline_and_erp(), written=st.sets(st.sampled_from([1, 2, 3])))
def test_the_changes_make_the_baseline_the_erp_items_and_hold_nothing_already_there(sides, written):
    old, erp = sides
    ids = pd.Series(sorted(written), dtype="int64")
    erp = erp[erp["contract_id"].isin(ids)]  # the ERP items of the contracts written
    changes = baseline_changes(ids, erp, old)

    assert list(changes.columns) == BASELINE_ROW
    others = old[~old["contract_id"].isin(ids)]
    expected = _sorted(pd.concat([others, erp]))
    pd.testing.assert_frame_equal(_written(old, changes), expected, check_dtype=False)
    # Nothing already in the baseline: a row not gone is new or differs in some field.
    unchanged = changes[~changes["gone"]].merge(old, how="inner")
    assert unchanged.empty, unchanged
    assert set(changes["contract_id"]) <= set(ids)
