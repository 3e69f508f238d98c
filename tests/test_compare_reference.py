"""compare against a reference: the three-way compare written plainly, one dict per item,
and a property that the production compare gives exactly its answer on random cases."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_sync.columns import HEADER_FIELDS, ITEM_FIELDS
from contract_sync.stages.compare import compare
from contract_sync.vocabulary import SCALES
from tests.frames import contract, contracts_frame, item, items_frame, make_state

# --- the reference -------------------------------------------------------------------------

CONTENT_FIELDS = [f for f in ITEM_FIELDS if f != "position"]


def text(value: object, field: str) -> str | None:
    """A value as the audit writes it: scaled integers as exact decimals."""
    if value is None:
        return None
    if field in SCALES:
        return format(Decimal(value).scaleb(-SCALES[field]), "f")
    return str(value)


def three_way(erp: dict, store: dict, base: dict | None, fields: list[str]) -> dict:
    """Per field: written (the ERP changed it since the baseline and the store holds another
    value), a conflict (the store changed it too), kept (only the store changed it), and the
    value a re-import leaves. No baseline: every difference counts as the ERP's."""
    result = {}
    for field in fields:
        differs = erp[field] != store[field]
        erp_changed = base is None or erp[field] != base[field]
        store_changed = base is not None and store[field] != base[field]
        write = differs and erp_changed
        result[field] = {
            "write": write,
            "conflict": write and store_changed,
            "kept": differs and not erp_changed,
            "target": erp[field] if write else store[field],
        }
    return result


def field_rows(contract_no: str, item_no: str | None, fields: dict, erp: dict, store: dict):
    for field, decided in fields.items():
        for change in ("changed", "kept"):
            if decided["write" if change == "changed" else "kept"]:
                before, after = text(store[field], field), text(erp[field], field)
                yield (contract_no, item_no, change, field, before, after, decided["conflict"])


def presence_row(contract_no: str, item_no: str, change: str, values: dict) -> tuple:
    shown = {f: text(values[f], f) for f in ITEM_FIELDS if values[f] is not None}
    value = json.dumps(shown, ensure_ascii=False)
    before, after = (None, value) if change == "added" else (value, None)
    return (contract_no, item_no, change, None, before, after, False)


NO_VALUES = dict.fromkeys(ITEM_FIELDS)


def reference(side: dict) -> tuple[dict, dict, Counter]:
    """(contracts, items, changes) of one compare, from plain dicts: `side` maps "erp",
    "store" and "base" to {"headers": {contract_no: header}, "items": {(contract_no,
    item_no): values}}, the store's items with an "item_id". Every contract here is in the
    ERP batch and in one store project."""
    contracts, items, changes = {}, {}, Counter()
    for no, erp_header in side["erp"]["headers"].items():
        store_header, base_header = side["store"]["headers"][no], side["base"]["headers"].get(no)
        header = three_way(erp_header, store_header, base_header, HEADER_FIELDS)
        changes.update(field_rows(no, None, header, erp_header, store_header))
        counts = Counter()
        conflicts = sum(d["conflict"] for d in header.values())
        renumbered = 0
        keys = {k for s in ("erp", "store") for k in side[s]["items"] if k[0] == no}
        for key in sorted(keys):
            erp, store = side["erp"]["items"].get(key), side["store"]["items"].get(key)
            has_base = no in side["base"]["headers"] and key in side["base"]["items"]
            base = side["base"]["items"][key] if has_base else None
            if store is None:  # new in the ERP: added with all its values
                change, target = "added", dict(erp)
                changes[presence_row(*key, change, erp)] += 1
            else:
                fields = three_way(erp or NO_VALUES, store, base, ITEM_FIELDS)
                target = {f: d["target"] for f, d in fields.items()}
                if erp is None:  # gone from the ERP: removed, store edits or not
                    change = "removed"
                    changes[presence_row(*key, change, store)] += 1
                else:
                    content = {f: fields[f] for f in CONTENT_FIELDS}
                    changes.update(field_rows(*key, content, erp, store))
                    conflicts += sum(d["conflict"] for d in content.values())
                    if any(d["write"] for d in content.values()):
                        change = "changed"
                    elif target["position"] != store["position"]:
                        change, renumbered = "renumbered", renumbered + 1
                    else:
                        change = "unchanged"
            counts[change] += 1
            items[key] = {
                "change": change,
                "item_id": None if store is None else store["item_id"],
                **target,
            }
        targets = {f: d["target"] for f, d in header.items()}
        header_changes = sum(d["write"] for d in header.values())
        contracts[no] = {
            **targets,
            "header_changes": header_changes,
            "header_conflicts": sum(d["conflict"] for d in header.values()),
            "items_added": counts["added"],
            "items_changed": counts["changed"],
            "items_removed": counts["removed"],
            "items_unchanged": counts["unchanged"] + counts["renumbered"],
            "conflicts": conflicts,
            "amount_before": store_header["original_amount"],
            "amount_after": targets["original_amount"],
            "has_updates": bool(
                counts["added"] or counts["changed"] or counts["removed"] or header_changes
            )
            or renumbered > 0,
        }
    return contracts, items, changes


# --- the production compare's answer as plain values ---------------------------------------


def plain(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def answer(comparison) -> tuple[dict, dict, Counter]:
    contract_columns = [*HEADER_FIELDS, "header_changes", "header_conflicts"]
    contract_columns += ["items_added", "items_changed", "items_removed", "items_unchanged"]
    contract_columns += ["conflicts", "amount_before", "amount_after", "has_updates"]
    contracts = {
        row["contract_no"]: {c: plain(row[c]) for c in contract_columns}
        for row in comparison.contracts.to_dict("records")
    }
    items = {
        (row["contract_no"], row["item_no"]): {
            c: plain(row[c]) for c in ["change", "item_id", *ITEM_FIELDS]
        }
        for row in comparison.items.to_dict("records")
    }
    columns = ["contract_no", "item_no", "change", "field", "before", "after", "overwritten"]
    changes = Counter(
        tuple(plain(row[c]) for c in columns) for row in comparison.changes.to_dict("records")
    )
    return contracts, items, changes


# --- random three-way cases ----------------------------------------------------------------

NUMBERS = ["C1", "C2", "C3"]
ITEM_NOS = ["1", "2", "3", "10", "02"]


def scaled(bound: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(-2, 2), st.integers(-bound, bound))  # small ones collide


ITEM_VALUES = {
    "position": st.integers(0, 4),
    "description": st.one_of(st.none(), st.sampled_from(["", "A", "a"]), st.text(max_size=4)),
    "cost_code": st.sampled_from([None, "01-100", "02-200"]),
    "line_item_type": st.sampled_from([None, "progress", "lump_sum"]),
    "uom": st.sampled_from([None, "LS", "EA"]),
    "quantity": st.one_of(st.none(), scaled(10**9)),
    "unit_cost": scaled(10**12),
    "amount": st.one_of(st.none(), scaled(10**12)),
    "tax_code": st.sampled_from([None, "T1", "T2"]),
}
HEADER_VALUES = {
    "title": st.sampled_from([None, "Garage", "Clinic"]),
    "customer": st.sampled_from([None, "Acme"]),
    "retainage_pct": st.sampled_from([None, 0, 1000]),
    "start_date": st.sampled_from([None, "2024-01-01", "2024-02-01"]),
    "projected_completion": st.sampled_from([None, "2025-06-30"]),
    "original_amount": st.one_of(st.none(), scaled(10**12)),
}
item_keys = st.tuples(st.sampled_from(NUMBERS), st.sampled_from(ITEM_NOS))
item_values = st.fixed_dictionaries(ITEM_VALUES)
item_edits = st.fixed_dictionaries({}, optional=ITEM_VALUES)
header_edits = st.fixed_dictionaries({}, optional=HEADER_VALUES)


@st.composite
def edited(draw, imported: dict, edits: st.SearchStrategy, new: st.SearchStrategy) -> dict:
    """Some of `imported`'s entries kept, each with some fields edited, plus some new ones."""
    result = {k: {**v, **draw(edits)} for k, v in imported.items() if draw(st.integers(0, 4))}
    return {**draw(new), **result}


@st.composite
def cases(draw) -> dict:
    """A baseline (as imported), the store and the ERP each edited since; one contract may
    have no baseline at all."""
    headers = {n: contract(n) for n in NUMBERS}
    headers = {n: {f: h[f] for f in HEADER_FIELDS} for n, h in headers.items()}
    imported = draw(st.dictionaries(item_keys, item_values, max_size=10))
    new_items = st.dictionaries(item_keys, item_values, max_size=3)
    store = draw(edited(imported, item_edits, new_items))
    erp = draw(edited(imported, item_edits, new_items))
    return {
        "base": {"headers": headers, "items": imported},
        "store": {"headers": {n: {**h, **draw(header_edits)} for n, h in headers.items()}},
        "erp": {"headers": {n: {**h, **draw(header_edits)} for n, h in headers.items()}},
        "store_items": store,
        "erp_items": erp,
        "no_baseline": draw(st.sampled_from([None, *NUMBERS])),
    }


def items_of(values: dict) -> pd.DataFrame:
    return items_frame(*(item(c, i, **v) for (c, i), v in sorted(values.items())))


def contracts_of(headers: dict) -> pd.DataFrame:
    return contracts_frame(*(contract(n, **h) for n, h in headers.items()))


def state_and_sides(case: dict) -> tuple:
    """The store state the case describes, the ERP frames, and the reference's sides."""
    base = make_state(contracts_of(case["base"]["headers"]), items_of(case["base"]["items"]))
    store = make_state(contracts_of(case["store"]["headers"]), items_of(case["store_items"]))
    ids = dict(zip(base.contracts["contract_no"], base.contracts["contract_id"], strict=True))
    lost = ids.get(case["no_baseline"])
    state = dataclasses.replace(
        base,
        contracts=store.contracts,  # same ids: contract i is 101 + i in both
        items=store.items,
        baselines=base.baselines[base.baselines["contract_id"] != lost],
        baseline_items=base.baseline_items[base.baseline_items["contract_id"] != lost],
    )
    item_ids = {
        (row["contract_no"], row["item_no"]): row["item_id"]
        for row in store.items.to_dict("records")
    }
    base_headers = {n: h for n, h in case["base"]["headers"].items() if n != case["no_baseline"]}
    sides = {
        "base": {"headers": base_headers, "items": case["base"]["items"]},
        "store": {
            "headers": case["store"]["headers"],
            "items": {k: {**v, "item_id": item_ids[k]} for k, v in case["store_items"].items()},
        },
        "erp": {"headers": case["erp"]["headers"], "items": case["erp_items"]},
    }
    erp = (contracts_of(case["erp"]["headers"]), items_of(case["erp_items"]))
    return state, erp, sides


# How many examples: the Hypothesis profile, ci or dev (tests/conftest.py).
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_property_compare_gives_the_reference_answer(case):
    state, (erp_contracts, erp_items), sides = state_and_sides(case)
    comparison = compare(state, erp_contracts, erp_items)
    contracts, items, changes = answer(comparison)
    assert len(comparison.items) == len(items)  # no item row doubled (the dict would hide it)
    expected_contracts, expected_items, expected_changes = reference(sides)
    assert contracts == expected_contracts
    assert items == expected_items
    assert changes == expected_changes


def test_the_reference_sees_a_conflict_a_kept_edit_and_a_removal():
    """The reference itself, on one case worked by hand."""
    imported = {("C1", "1"): item("C1", "1"), ("C1", "2"): item("C1", "2")}
    imported = {k: {f: v[f] for f in ITEM_FIELDS} for k, v in imported.items()}
    headers = {"C1": {f: contract("C1")[f] for f in HEADER_FIELDS}}
    case = {
        "base": {"headers": headers, "items": imported},
        "store": {"headers": headers},
        "erp": {"headers": {"C1": {**headers["C1"], "title": "New"}}},
        "store_items": {
            ("C1", "1"): {**imported[("C1", "1")], "cost_code": "01-100", "amount": 5},
            ("C1", "2"): imported[("C1", "2")],
        },
        "erp_items": {("C1", "1"): {**imported[("C1", "1")], "amount": 7}},
        "no_baseline": None,
    }
    state, (erp_contracts, erp_items), sides = state_and_sides(case)
    contracts, items, changes = reference(sides)
    assert contracts["C1"]["items_changed"] == 1
    assert contracts["C1"]["items_removed"] == 1
    assert contracts["C1"]["conflicts"] == 1
    assert contracts["C1"]["header_changes"] == 1
    assert items[("C1", "1")]["amount"] == 7
    assert items[("C1", "1")]["cost_code"] == "01-100"
    assert {(c[2], c[3], c[6]) for c in changes} == {
        ("changed", "title", False),
        ("changed", "amount", True),
        ("kept", "cost_code", False),
        ("removed", None, False),
    }
    assert answer(compare(state, erp_contracts, erp_items)) == (contracts, items, changes)
