"""A missing value anywhere in the batch never lets another contract's failure through."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_sync.model import ErpFrames
from contract_sync.stages.validate import validate
from tests.frames import contract, contracts_frame, item, items_frame

SUITES = Path(__file__).resolve().parent.parent / "expectations"


@pytest.mark.parametrize("blank", ["amount", "quantity", "unit_cost"])
def test_blank_numbers_elsewhere_do_not_hide_a_wrong_extension_or_total(blank):
    contracts, items = [], []
    for k in range(10):  # contracts with a blank number in one unit item each
        contracts.append(contract(f"N{k}", original_amount=3750 * 3))
        for j in range(3):
            values = {"quantity": 3000, "unit_cost": 1250000, "amount": 3750}
            if j == 0:
                values[blank] = None
            items.append(item(f"N{k}", f"{j + 1}0", uom="EA", **values))
    contracts.append(contract("EXT", original_amount=3751))  # 37.51 against 3 x 12.50
    items.append(item("EXT", "10", uom="EA", quantity=3000, unit_cost=1250000, amount=3751))
    contracts.append(contract("TOTAL", original_amount=3750 + 10000))  # header != items
    items.append(item("TOTAL", "10", uom="EA", quantity=3000, unit_cost=1250000, amount=3750))
    contracts.append(contract("GOOD", original_amount=3750))
    items.append(item("GOOD", "10", uom="EA", quantity=3000, unit_cost=1250000, amount=3750))

    found = validate(ErpFrames(contracts_frame(*contracts), items_frame(*items)), SUITES)
    invalid = set(found.invalid_contracts)
    assert {"EXT", "TOTAL"} <= invalid
    assert {f"N{k}" for k in range(10)} <= invalid
    assert "GOOD" not in invalid


def test_a_null_header_total_does_not_hide_another_contracts_wrong_total():
    contracts = contracts_frame(
        contract("BLANK", original_amount=None),
        contract("WRONG", original_amount=99),
        contract("GOOD", original_amount=12_345),
    )
    items = items_frame(("BLANK", "10"), ("WRONG", "10"), ("GOOD", "10"))
    found = validate(ErpFrames(contracts, items), SUITES)
    assert set(found.invalid_contracts) == {"BLANK", "WRONG"}
