"""Procore records as the product's frames: what is the product's, and of which company."""

from __future__ import annotations

import json

import pandas as pd

from contract_sync.procore.frames import contract_body, contract_frame
from contract_sync.procore.mirror import _same
from contract_sync.procore.records import PrimeContract


def _contract(id_: int, origin_id: str | None, origin_data: dict | None) -> PrimeContract:
    return PrimeContract.from_api(
        {
            "id": id_,
            "origin_id": origin_id,
            "origin_data": json.dumps(origin_data) if origin_data is not None else None,
            "status": "Approved",
            "title": "T",
            "grand_total": "100.10",
        }
    )


def test_only_this_erp_company_s_contracts_are_read():
    listed = [
        (1, _contract(11, "24001-", {"erp_company": 1, "original_amount": "5.00"})),
        (1, _contract(12, "24001-", {"erp_company": 2, "original_amount": "6.00"})),
        (1, _contract(13, None, None)),  # made in Procore by a person: not an import
        (1, _contract(14, "24002-", None)),  # made by Procore's own ERP import
    ]
    frame = contract_frame(listed, 1)
    assert list(frame["remote_id"]) == [11, 14]
    # The product's original amount where it wrote it; Procore's total where it did not.
    assert list(frame["original_amount"]) == [500, 10010]


def test_a_header_body_sends_only_the_fields_asked_for():
    header = {"title": "New", "retainage_pct": 1000, "customer": "Owner", "original_amount": 1}
    assert contract_body(header, 1, fields=["title"]) == {"title": "New"}
    both = contract_body(header, 1, fields=["customer"])
    assert list(both) == ["origin_data"]
    assert json.loads(both["origin_data"]) == {
        "customer": "Owner",
        "erp_company": 1,
        "original_amount": "0.01",
    }


def test_numbers_read_back_as_floats_are_the_same_values():
    left = pd.Series([0.0, 3.0, None, "a", 2.5], dtype=object)
    right = pd.Series([0, 3, None, "a", 2], dtype=object)
    assert list(_same(left, right)) == [True, True, True, True, False]
