"""The store's limits are checked before anything is written: text that does not fit its
column, control characters, unknown codes; and the suites never allow more than the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_sync.model import ErpFrames
from contract_sync.stages.store_limits import WRITTEN_TO
from contract_sync.stages.validate import SUITES, validate
from tests.frames import contract, contracts_frame, item, items_frame

SUITE_DIR = Path(__file__).resolve().parent.parent / "expectations"


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
    ],
)
def test_a_value_the_store_cannot_hold_quarantines_its_contract(frame, change):
    contracts = [contract("BAD", **(change if frame == "contracts" else {})), contract("GOOD")]
    items = [item("BAD", "10", **(change if frame == "items" else {})), item("GOOD", "10")]
    contracts = [{**c, "original_amount": 12_345} for c in contracts]
    found = validate(ErpFrames(contracts_frame(*contracts), items_frame(*items)), SUITE_DIR)
    assert list(found.invalid_contracts) == ["BAD"]


def test_the_suites_never_allow_longer_text_than_the_store_holds():
    for stem, (frame, _keys) in SUITES.items():
        suite = json.loads((SUITE_DIR / f"{stem}.json").read_text())
        for expectation in suite["expectations"]:
            kwargs = expectation["kwargs"]
            if expectation["type"] != "expect_column_value_lengths_to_be_between":
                continue
            target = WRITTEN_TO[frame][kwargs["column"]]
            assert kwargs["max_value"] <= target.type.length, (stem, kwargs["column"])
