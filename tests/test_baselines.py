"""The baseline rows a write changes: written over the old baseline, they give the ERP's
items exactly, and they hold no row the baseline already has."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
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


Rows = dict[tuple[int, str], dict]  # (contract_id, item_no) -> item fields, None if missing


def _items(rows: Rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"contract_id": c, "item_no": i, **values} for (c, i), values in rows.items()],
        columns=[*BASELINE_ITEM_KEY, *ITEM_FIELDS],
    )
    numbers = ["position", "quantity", "unit_cost", "amount"]
    texts = [f for f in ITEM_FIELDS if f not in numbers]
    return frame.astype({"contract_id": "int64", **dict.fromkeys(numbers, "Int64")}).astype(
        {"item_no": "string", **dict.fromkeys(texts, "string")}
    )


def _rows(frame: pd.DataFrame) -> Rows:
    """A frame's rows as plain values by key (missing values as None)."""
    plain = frame.astype(object).where(frame.notna(), None)
    return {
        (row["contract_id"], row["item_no"]): {f: row[f] for f in ITEM_FIELDS}
        for row in plain.to_dict("records")
    }


ROWS = st.dictionaries(KEYS, st.fixed_dictionaries(FIELDS), max_size=12)


@st.composite
def baseline_and_erp(draw) -> tuple[Rows, Rows]:
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
    return old, erp


@given(sides=baseline_and_erp(), written=st.sets(st.sampled_from([1, 2, 3])))
def test_the_changes_make_the_baseline_the_erp_items_and_hold_nothing_already_there(sides, written):
    old, erp = sides
    erp = {key: values for key, values in erp.items() if key[0] in written}  # contracts written
    changes = baseline_changes(pd.Series(sorted(written), dtype="int64"), _items(erp), _items(old))

    assert list(changes.columns) == BASELINE_ROW
    assert not changes.duplicated(BASELINE_ITEM_KEY).any()
    new, gone = _rows(changes[~changes["gone"]]), _rows(changes[changes["gone"]])
    # Written as apply writes them: each changed key's row deleted, the ones not gone inserted.
    after = {key: values for key, values in old.items() if key not in new | gone} | new
    assert after == {key: values for key, values in old.items() if key[0] not in written} | erp
    # Nothing already in the baseline: a row not gone is new or differs in some field.
    assert [key for key, values in new.items() if old.get(key) == values] == []
    assert {contract for contract, _ in new | gone} <= written
