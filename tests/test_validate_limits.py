"""The store's limits are checked before anything is written, derived from its schema:
required values (NOT NULL, and what an ERP contract always has), text that does not fit
its column or holds control characters, codes the store does not know, numbers beyond a
column's precision, values the connector rejected; and the suites never allow more than
the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_sync.columns import REJECTED
from contract_sync.model import ErpFrames
from contract_sync.stages.store_limits import (
    CODES,
    ERP_REQUIRED,
    FIELD_TABLES,
    column_limits,
    store_expectations,
)
from contract_sync.stages.validate import SUITES, rules_key, validate
from contract_sync.store.types import Scaled
from tests.frames import contract, contracts_frame, item, items_frame

SUITE_DIR = Path(__file__).resolve().parent.parent / "expectations"
FRAMES = ["contracts", "items"]


def _checked(frame: str, change: dict):
    """Validation of a contract BAD with `change` in its header or first item, beside GOOD."""
    items = [{**item("BAD", "10"), **(change if frame == "items" else {})}, item("GOOD", "10")]
    contracts = [
        contract(i["contract_no"], original_amount=i["amount"], **(change if bad else {}))
        for i, bad in zip(items, (frame == "contracts", False), strict=True)
    ]
    return validate(ErpFrames(contracts_frame(*contracts), items_frame(*items)), SUITE_DIR)


def _details(found) -> list[dict]:
    [details] = found.failures.loc[found.failures["contract_no"] == "BAD", "failed_expectations"]
    return details


@pytest.mark.parametrize(
    ("frame", "change"),
    [
        ("items", {"description": "Footings\x00"}),
        ("items", {"cost_code": "03-\x1b300"}),
        ("items", {"description": "x" * 5000}),
        ("items", {"line_item_type": "Z"}),
        ("items", {"uom": "FURLONG"}),
        ("contracts", {"title": "Bell\x07"}),
        ("contracts", {"customer": "C" * 121}),
        ("contracts", {"job_no": "J" * 21}),
        ("items", {"item_code": "10\t"}),  # a tab would match differently in Python and SQL
        ("contracts", {"contract_code": "BAD\xa0"}),  # so would a no-break space
        ("contracts", {"erp_status": "open "}),
        ("items", {"uom": "LS", "amount": 10**15, "quantity": 0, "unit_cost": 0}),  # (15, 2)
        ("items", {"quantity": 10**15, "unit_cost": 10**10}),  # a product beyond int64
        ("contracts", {"retainage_pct": -1}),
    ],
)
def test_a_value_the_store_cannot_hold_quarantines_its_contract(frame, change):
    found = _checked(frame, change)
    assert list(found.invalid_contracts) == ["BAD"]
    named = {c for d in _details(found) for c in d["values"]}
    assert named & set(change)


def _required_text() -> list[tuple[str, str]]:
    """Required free text (keys are taken in their normal form: see the test below)."""
    return [
        (frame, column)
        for frame in FRAMES
        for column, limits in column_limits(frame).items()
        if limits.required and limits.codes is None and limits.max_length and column not in CODES
    ]


@pytest.mark.parametrize(("frame", "column"), _required_text())
@pytest.mark.parametrize("blank", [None, "", "   ", "\t", "\u3000", "\u200b"])
def test_blank_required_text_quarantines_naming_row_field_and_value(frame, column, blank):
    details = _details(_checked(frame, {column: blank}))
    assert {"values": {column: blank}} in [{"values": d["values"]} for d in details]
    if frame == "items":
        assert all(d.get("item_no") in ("10", None) for d in details)


@pytest.mark.parametrize(("frame", "key"), [("contracts", "job_no"), ("items", "item_no")])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_key_quarantines_its_contract(frame, key, blank):
    found = _checked(frame, {key: blank})
    assert list(found.invalid_contracts) == ["BAD"]
    assert {key: None if blank is None else ""} in [d["values"] for d in _details(found)]


def test_what_is_required_comes_from_the_store_and_the_erp():
    required = {f: {c for c, lim in column_limits(f).items() if lim.required} for f in FRAMES}
    assert required["contracts"] == {
        "contract_no", "contract_code", "job_no", "title", "erp_status", "original_amount",
    }  # fmt: skip
    assert required["items"] == {
        "item_no", "item_code", "description", "line_item_type", "uom", "quantity",
        "unit_cost", "amount",
    }  # fmt: skip
    for frame in FRAMES:
        assert ERP_REQUIRED[frame] <= required[frame]


@pytest.mark.parametrize(
    ("frame", "change"),
    [
        ("items", {"cost_code": None}),
        ("items", {"tax_code": None}),
        ("items", {"tax_code": "   "}),
        ("contracts", {"customer": None}),
        ("contracts", {"retainage_pct": None}),
        ("contracts", {"start_date": None, "projected_completion": None}),
        ("contracts", {"title": "=cmd|' /C calc'!A0"}),
        ("items", {"description": "<script>alert(1)</script> – façade 🏗"}),
    ],
)
def test_optional_blanks_and_legitimate_text_pass(frame, change):
    assert _checked(frame, change).invalid_contracts.empty


@pytest.mark.parametrize(
    "change", [{"quantity": 1000}, {"unit_cost": 1_234_500}, {"quantity": 1000, "unit_cost": 5}]
)
def test_a_lump_sum_item_with_units_or_a_unit_price_is_quarantined(change):
    details = _details(_checked("items", {"uom": "LS", "quantity": 0, "unit_cost": 0, **change}))
    assert {c for d in details for c in d["values"]} == set(change)


@pytest.mark.parametrize(
    ("frame", "field", "text"),
    [
        ("items", "amount", "items.csv, column OrigContractAmt: '12.345' has more than 2 decimals"),
        ("contracts", "erp_status", "contracts.csv, column ContractStatus: 'open' is not one"),
    ],
)
def test_a_rejected_value_is_reported_as_the_connector_said_it(frame, field, text):
    change = {field: None, REJECTED: json.dumps({field: text})}
    details = _details(_checked(frame, change))
    assert [d["values"] for d in details if field in d["values"]] == [{field: text}]


def test_every_canonical_column_the_store_holds_is_limited():
    """A field added to the canonical frames and to a store table of the same name is
    covered without a word more."""
    for frame in FRAMES:
        limits = column_limits(frame)
        for table in FIELD_TABLES[frame]:
            for column in table.c:
                held = column_limits(frame).get(column.name)
                if column.name in limits and column.name != "position":
                    assert column in held.held_in, (frame, column)
                if isinstance(column.type, Scaled) and column.name in limits:
                    assert held.largest is not None


def test_every_code_fits_its_store_columns():
    for frame in FRAMES:
        for column, limits in column_limits(frame).items():
            for code in limits.codes or []:
                assert limits.max_length is None or len(code) <= limits.max_length, column


def test_the_suites_never_allow_longer_text_than_the_store_holds():
    for stem, (frame, _keys) in SUITES.items():
        suite = json.loads((SUITE_DIR / f"{stem}.json").read_text())
        for expectation in suite["expectations"]:
            kwargs = expectation["kwargs"]
            if expectation["type"] != "expect_column_value_lengths_to_be_between":
                continue
            assert kwargs["max_value"] <= column_limits(frame)[kwargs["column"]].max_length


def test_the_rules_key_follows_the_store_limits(monkeypatch):
    before = rules_key(SUITE_DIR)
    monkeypatch.setitem(ERP_REQUIRED, "items", ERP_REQUIRED["items"] | {"tax_code"})
    assert any(e["kwargs"]["column"] == "tax_code" for e in store_expectations("items"))
    assert rules_key(SUITE_DIR) != before
