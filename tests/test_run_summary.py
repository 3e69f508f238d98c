"""The run summary a project manager reads: blocked contracts with why and what to do, the
money a dry run would move, and the validation failures inline."""

from __future__ import annotations

import pandas as pd

from contract_sync.reports.run_summary import listed, outcome_rows, run_summary


def _audit() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "erp_company": [1, 1, 1],
            "contract_no": ["24001-", "24005-", "24009-"],
            "project_id": pd.array([10, 10, None], dtype="Int64"),
            "outcome": ["blocked", "blocked", "would_reimport"],
            "reasons": ["contract_unapproved no_updates", "invalid_erp_data", ""],
            "failed_expectations": [
                None,
                [
                    {
                        "suite": "line_items",
                        "expectation": "expect_x",
                        "item_no": "00010",
                        "values": {"amount": "37.51"},
                    }
                ],
                None,
            ],
            "items_added": [0, 0, 1],
            "items_changed": [0, 1, 2],
            "items_removed": [0, 0, 0],
            "amount_before": pd.array([100_000_00, 200_000_00, 1_234_567_89], dtype="Int64"),
            "amount_after": pd.array([100_000_00, 200_000_00, 1_334_567_89], dtype="Int64"),
        }
    )


def test_the_summary_says_why_what_to_do_and_what_money_would_move():
    text = run_summary(
        _audit(), "run-1", "http://127.0.0.1:4201/run-1/index.html", "sqlite://", True
    )
    assert "(dry run: nothing was written)" in text
    assert "A re-import would change the contract value by: **100,000.00**" in text
    assert (
        "| 24001- | the store contract is not Approved (contract_unapproved) | "
        "approve it in the project, then re-import |" in text
    )
    assert "| 24005- | 00010 | expect_x | amount 37.51 |" in text
    assert (
        "[http://127.0.0.1:4201/run-1/index.html](http://127.0.0.1:4201/run-1/index.html)" in text
    )


def test_outcome_rows_carry_title_project_and_amounts_with_separators():
    contracts = pd.DataFrame(
        {"contract_no": ["24001-", "24005-", "24009-"], "title": ["A", "B", "C"]}
    )
    projects = pd.DataFrame({"project_id": [10], "project": ["24001-001"]})
    rows = {r["contract"]: r for r in outcome_rows(_audit(), contracts, projects)}
    assert rows["24009-"]["amount after"] == "1,334,567.89"
    assert rows["24009-"]["change"] == "100,000.00"
    assert rows["24001-"]["project"] == "24001-001" and rows["24009-"]["project"] == ""
    assert rows["24005-"]["why"] == "its ERP data fails validation (invalid_erp_data)"


def test_an_outcome_table_lists_all_but_the_contracts_up_to_date():
    audit = _audit().assign(outcome=["up_to_date", "blocked", "up_to_date"])
    assert list(listed(audit)["contract_no"]) == ["24005-"]
