"""What a sync of several companies says of its runs (contract_sync/reports/company_runs.py)."""

from __future__ import annotations

import pandas as pd

from contract_sync.reports.company_runs import (
    all_completed,
    companies_sentence,
    company_run_rows,
    company_runs_markdown,
)


def _runs(*ended: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "company": [3, 1, 2][: len(ended)],
            "name": ["Cedar", "Granite", "Aspen"][: len(ended)],
            "flow_run_name": ["run-c", "run-a", "run-b"][: len(ended)],
            "state_name": list(ended),
            "message": ["said c", "", "said b"][: len(ended)],
        }
    )


def test_each_company_in_order_with_how_its_run_ended():
    rows = company_run_rows(_runs("Crashed", "Completed", "Completed"))
    assert rows == [
        {"company": "1", "run": "run-a", "ended": "Completed"},
        {"company": "2", "run": "run-b", "ended": "Completed"},
        {"company": "3", "run": "run-c", "ended": "Crashed"},
    ]
    assert company_runs_markdown(_runs("Crashed", "Completed", "Completed")) == (
        "**1 Granite**: run run-a ended Completed.\n\n"
        "**2 Aspen**: run run-b ended Completed. said b\n\n"
        "**3 Cedar**: run run-c ended Crashed. said c"
    )


def test_the_sentence_names_the_companies_whose_run_did_not_complete():
    assert companies_sentence(_runs("Completed", "Completed", "Completed")) == (
        "Sync of 3 companies: 3 completed"
    )
    mixed = _runs("Crashed", "Completed", "Crashed")
    assert (
        companies_sentence(mixed) == "Sync of 3 companies: 1 completed; 2 crashed (companies 2, 3)"
    )
    assert not all_completed(mixed)
    one = _runs("Failed")
    assert companies_sentence(one) == "Sync of 1 company: 1 failed (company 3)"
    assert all_completed(_runs("Completed", "Completed"))
