"""What a project manager reads of a run: the summary (blocked contracts with why and what
to do, the money, the validation failures in words), the table artifacts in words and
narrow, and the run's outcome in one sentence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contract_sync.columns import CONTRACT_COLUMNS, ITEM_COLUMNS
from contract_sync.reports.rules import checks, failure_rows, sentence
from contract_sync.reports.run_summary import (
    listed,
    outcome_rows,
    outcome_sentence,
    place,
    ready_rows,
    run_summary,
)
from contract_sync.vocabulary import REASON_LABELS, Reason

SUITES = Path(__file__).resolve().parent.parent / "expectations"


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
                        "expectation": "expect_column_pair_values_to_be_equal",
                        "item_no": "00010",
                        "values": {"amount": "37.51", "extended_amount": "37.50"},
                    }
                ],
                None,
            ],
            "items_added": [0, 0, 1],
            "items_changed": [0, 1, 2],
            "items_removed": [0, 0, 0],
            "amount_before": pd.array([100_000_00, 200_000_00, 1_234_567_89], dtype="Int64"),
            "amount_after": pd.array([100_000_00, 200_000_00, 1_334_567_89], dtype="Int64"),
            "error": [None, None, None],
        }
    )


def test_the_summary_says_why_what_to_do_and_what_money_would_move():
    link = place("http://127.0.0.1:4201/run-1/index.html", Path("/data/reports/run-1/index.html"))
    text = run_summary(_audit(), "run-1", link, "sqlite://", True, checks(SUITES))
    assert "(dry run: nothing was written)" in text
    assert "| would re-import | 1 |" in text and "| blocked | 2 |" in text
    assert "A re-import would change the contract value by: **100,000.00**" in text
    assert (
        "- **24001-**: the store contract is not Approved (contract_unapproved). "
        "What to do: approve it in the project, then re-import." in text
    )
    assert (
        "- **24005-**, item 00010: amount 37.51 (quantity × unit cost: 37.50) breaks the "
        "rule: each item's amount equals quantity × unit cost" in text
    )
    assert "expect_" not in text and "{" not in text
    assert (
        "Validation report: "
        "[http://127.0.0.1:4201/run-1/index.html](http://127.0.0.1:4201/run-1/index.html)" in text
    )


def test_a_report_not_served_over_http_is_named_as_a_file_not_linked():
    said = place(None, Path("/data/reports/run-1/index.html"))
    assert said == "the file `/data/reports/run-1/index.html` on the machine that ran the flow"
    text = run_summary(_audit(), "run-1", said, "sqlite://")
    assert "file://" not in text and "](" not in text


def test_a_failed_contract_is_listed_with_its_error_as_text():
    audit = _audit().assign(
        outcome=["failed", "blocked", "reimported"],
        error=["IntegrityError: value | too *long*", None, None],
    )
    text = run_summary(audit, "run-1", None, "sqlite://")
    assert "- **24001-**: IntegrityError: value \\| too \\*long\\*" in text


def test_the_outcome_table_reads_as_words_in_four_columns():
    contracts = pd.DataFrame(
        {"contract_no": ["24001-", "24005-", "24009-"], "title": ["A", "B", "C"]}
    )
    rows = outcome_rows(_audit(), contracts)
    assert list(rows[0]) == ["contract", "title", "outcome", "change"]
    by_contract = {r["contract"]: r for r in rows}
    assert by_contract["24009-"]["outcome"] == "would re-import"
    assert by_contract["24009-"]["change"] == "100,000.00"
    assert by_contract["24001-"] == {
        "contract": "24001-",
        "title": "A",
        "outcome": "blocked: not Approved in store",  # "nothing changed" beside it says nothing
        "change": "",  # blocked: the value did not change
    }
    assert by_contract["24005-"]["outcome"] == "blocked: invalid ERP data"


def test_a_table_cell_names_the_first_reason_and_counts_the_others():
    audit = _audit().assign(reasons="permission_denied job_not_synced contract_unapproved")
    [row, *_] = outcome_rows(audit, pd.DataFrame({"contract_no": [], "title": []}))
    assert row["outcome"] == "blocked: no permission, +2 more"


def test_the_ready_list_says_what_may_be_done_in_words():
    table = pd.DataFrame(
        {
            "contract_no": ["24001-", "24002-", "24003-", "24004-", "24005-"],
            "title": ["A", "B", "C", "D", "E"],
            "project": ["P1", "P2", "P3", "P4", None],
            "imported": [True, True, True, False, False],
            "import_available": [False, False, False, True, False],
            "reimport_available": [True, False, False, False, False],
            "reasons": ["", "no_updates", "contract_unapproved", "not_imported", "not_imported"],
            "import_reasons": [None, None, None, "", "job_not_synced"],
            "amount_after": pd.array([150_00, 200_00, 300_00, 1_234_567_89, 500_00]),
            "amount_delta": pd.array([50_00, 0, 10_00, 0, 0]),
        }
    )
    rows = {r["contract"]: r for r in ready_rows(table)}
    assert list(rows["24001-"]) == ["contract", "title", "action", "change"]
    assert [(r["action"], r["change"]) for r in rows.values()] == [
        ("re-import", "50.00"),
        ("up to date", ""),
        ("blocked: not Approved in store", ""),
        ("import", "1,234,567.89"),  # a first import brings the whole amount
        ("blocked: ERP job not synced", ""),  # why not: the import's own gates
    ]
    assert not {v for r in rows.values() for v in r.values()} & {True, False, "true", "false"}


def test_each_reason_has_a_few_words_short_enough_for_a_table_cell():
    assert set(REASON_LABELS) == set(Reason)
    assert max(map(len, REASON_LABELS.values())) <= 22


def test_the_run_log_states_the_outcome_in_one_sentence():
    audit = pd.concat([_audit()] * 2, ignore_index=True).assign(
        outcome=["reimported", "blocked", "up_to_date", "blocked", "blocked", "reimported"],
        reasons=["", "job_not_synced", "no_updates", "job_not_synced", "invalid_erp_data", ""],
    )
    assert outcome_sentence(audit, "r-1") == (
        "Re-import run r-1 completed: 2 re-imported, 3 blocked (2 job_not_synced, "
        "1 invalid_erp_data), 1 up to date; contract value changed by 100,000.00"
    )
    assert outcome_sentence(audit.iloc[:2], "r-1") == (
        "Re-import run r-1 completed: 1 re-imported, 1 blocked (job_not_synced); "
        "contract value changed by 0.00"
    )
    assert outcome_sentence(_audit(), "r-2", dry_run=True).startswith(
        "Dry run r-2 completed: 1 would re-import, 2 blocked ("
    )


def test_every_rule_reads_as_a_sentence_and_an_unknown_one_without_its_code():
    said = checks(SUITES)
    names = [c for c in [*CONTRACT_COLUMNS, *ITEM_COLUMNS, "extended_amount"] if "_" in c]
    assert not said["sentence"].str.contains("|".join(["expect_", *names])).any()
    assert (
        sentence("line_items", {"type": "expect_column_mean_to_be_between", "kwargs": {}})
        == "each item's row: column mean to be between"
    )
    unknown = {"suite": "line_items", "expectation": "expect_x", "item_no": "7", "values": {}}
    assert failure_rows([("24001-", unknown)]).to_dict("records") == [
        {"contract": "24001-", "item": "7", "field": "", "value": "", "rule": "each item's row: x"}
    ]


def test_a_value_the_connector_rejected_is_a_row_per_field():
    rejected = {
        "suite": "line_items",
        "expectation": "expect_column_values_to_be_null",
        "item_no": "00020",
        "values": {"quantity": "JCCI.OrigUnits 1.23456 has more decimals than 3"},
    }
    [row] = failure_rows([("24001-", rejected)], checks(SUITES)).to_dict("records")
    assert row == {
        "contract": "24001-",
        "item": "00020",
        "field": "quantity",
        "value": "JCCI.OrigUnits 1.23456 has more decimals than 3",
        "rule": "every value of each item was read from the ERP (none was rejected)",
    }


def test_an_outcome_table_lists_all_but_the_contracts_up_to_date():
    audit = _audit().assign(outcome=["up_to_date", "blocked", "up_to_date"])
    assert list(listed(audit)["contract_no"]) == ["24005-"]
