"""Validation with Great Expectations: each expectation catches its own bad case."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from contract_sync.demo.generator import edge_case_contracts, generate_company
from contract_sync.erp.vista import read_vista
from contract_sync.model import ErpFrames
from contract_sync.reports.validation import with_report
from contract_sync.stages.validate import SuiteFileError, validate

SUITES = Path(__file__).resolve().parent.parent / "expectations"


def _company(contracts: int = 12) -> ErpFrames:
    data = generate_company(3, contracts, 4, seed=5)  # company 3: no edge cases
    return ErpFrames(data.contracts.copy(), data.items.copy())


def test_good_data_passes():
    result = validate(_company(), SUITES)
    assert result.invalid_contracts.empty
    assert result.failures.empty


def test_generated_invalid_contracts_are_quarantined_with_details(shared_seeded, tmp_path):
    frames = read_vista(shared_seeded.erp, 1)
    edge = edge_case_contracts(frames.contracts["contract_no"])
    checked = validate(frames, SUITES)
    result = with_report(checked, frames.contracts["contract_no"], tmp_path / "docs", "run-1")
    assert set(result.invalid_contracts) == {
        edge["invalid_unit_amount"],
        edge["invalid_header_total"],
    }
    details = result.failures.set_index("contract_no")["failed_expectations"]
    [unit] = details[edge["invalid_unit_amount"]]
    assert unit["expectation"] == "expect_column_pair_values_to_be_equal"
    assert unit["values"] == {"amount": "37.51", "extended_amount": "37.50"}
    assert unit["item_no"]
    [total] = details[edge["invalid_header_total"]]
    assert total["suite"] == "contract_aggregates"
    assert result.docs_path == tmp_path / "docs" / "index.html"
    page = result.docs_path.read_text()
    assert result.docs_path.stat().st_size < 200_000
    assert not re.search(r"<script|https?://", page)  # self-contained: nothing fetched
    for number in (edge["invalid_unit_amount"], edge["invalid_header_total"]):
        assert f"<h3>{number}</h3>" in page


# contract index -> (what is broken, the expectation that must catch it)
CASES = {
    0: ("erp_status", "expect_column_values_to_be_in_set"),
    1: ("retainage_pct", "expect_column_values_to_be_between"),
    2: ("title", "expect_column_value_lengths_to_be_between"),
    3: ("uom", "expect_column_values_to_be_in_set"),
    4: ("description", "expect_column_value_lengths_to_be_between"),
    5: ("item_no", "expect_column_values_to_match_regex"),
    6: ("duplicate item", "expect_compound_columns_to_be_unique"),
    7: ("unit amount", "expect_column_pair_values_to_be_equal"),
    8: ("header total", "expect_column_pair_values_to_be_equal"),
}


def broken_company() -> ErpFrames:
    """Twelve contracts, each of CASES' broken as said, and an orphan item of 99999-."""
    frames = _company()
    contracts, items = frames.contracts, frames.items
    number = contracts["contract_no"]
    first_item = {
        n: items.index[items["contract_no"] == number[i]][0] for i, n in enumerate(number)
    }
    contracts.loc[0, "erp_status"] = "void"
    contracts.loc[1, "retainage_pct"] = 10_001  # 100.01 %
    contracts.loc[2, "title"] = "A title that is longer than thirty"
    items.loc[first_item[number[3]], "uom"] = "XX"
    items.loc[first_item[number[4]], "description"] = "d" * 61
    items.loc[first_item[number[5]], "item_no"] = "#12"
    duplicate = items.loc[[first_item[number[6]]]]
    unit = items[(items["contract_no"] == number[7]) & (items["uom"] != "LS")].index[0]
    items.loc[unit, "amount"] += 1
    contracts.loc[7, "original_amount"] += 1  # keep contract 7's total consistent
    contracts.loc[6, "original_amount"] += duplicate["amount"].iloc[0]
    contracts.loc[8, "original_amount"] += 1
    orphan = items.loc[[first_item[number[9]]]].assign(contract_no="99999-")
    return ErpFrames(contracts, pd.concat([items, duplicate, orphan], ignore_index=True))


def test_each_expectation_catches_its_own_case():
    frames = broken_company()
    number = frames.contracts["contract_no"]

    result = validate(frames, SUITES)

    caught = result.failures.set_index("contract_no")["failed_expectations"]
    for index, (broken, expectation) in CASES.items():
        found = {d["expectation"] for d in caught[number[index]]}
        assert found == {expectation}, f"{broken}: {found}"
    assert set(result.invalid_contracts) == {number[i] for i in CASES}
    assert caught["99999-"][0]["expectation"] == "expect_column_values_to_be_in_set"


def test_a_suite_file_that_is_not_gx_json_names_the_file(tmp_path):
    suites = tmp_path / "expectations"
    shutil.copytree(SUITES, suites)
    broken = suites / "line_items.json"
    document = json.loads(broken.read_text())
    document["expectations"].append({"type": "expect_column_to_be_purple", "kwargs": {}})
    broken.write_text(json.dumps(document))
    with pytest.raises(SuiteFileError, match="line_items.json"):
        validate(_company(), suites)
    broken.write_text("{not json")
    with pytest.raises(SuiteFileError, match="line_items.json"):
        validate(_company(), suites)
