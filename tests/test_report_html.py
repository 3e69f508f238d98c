"""The audit report page from its templates: values are escaped, contracts keyed by company."""

from __future__ import annotations

import pandas as pd

from contract_sync.reports.audit import build_report, to_html


def _report(contract_no: str, changes_after: str):
    recorded = pd.Timestamp("2026-11-20 08:00", tz="UTC")
    rows = pd.DataFrame(
        {
            "audit_id": [1, 2],
            "run_id": ["r1", "r1"],
            "recorded_at": [recorded, recorded],
            "trigger": ["cli", "cli"],
            "actor": ["admin", "admin"],
            "erp_company": [1, 2],
            "contract_no": [contract_no, contract_no],
            "project": ["P1", "P2"],
            "outcome": ["reimported", "blocked"],
            "reasons": ["", "permission_denied"],
            "error": [None, None],
            "items_added": [0, 0],
            "items_changed": [1, 0],
            "items_removed": [0, 0],
            "header_changes": [0, 0],
            "amount_before": [100, 200],
            "amount_after": [150, 200],
        }
    )
    changes = pd.DataFrame(
        {
            "audit_id": [1],
            "item_no": ["10"],
            "change": ["changed"],
            "field": ["description"],
            "before": ["Old"],
            "after": [changes_after],
            "overwritten": [True],
        }
    )
    counts = pd.DataFrame(
        {
            "day": ["2026-11-20", "2026-11-20"],
            "outcome": ["reimported", "blocked"],
            "reasons": ["", "permission_denied"],
            "rows": [1, 1],
            "value_changed": [50, 0],
        }
    )
    totals = {"runs": 1, "contracts": 2, "run_statuses": {"completed": 1}, "contracts_repeated": 0}
    no_runs = pd.DataFrame(
        {"erp_company": [], "started_at": pd.Series(dtype="datetime64[ns, UTC]")}
    )
    times = pd.Series(dtype="datetime64[ns, UTC]")
    no_spans = (pd.DataFrame({"run_start": times, "next_start": times}), no_runs)
    return build_report(rows, changes, counts, totals, no_spans)


def test_values_from_the_audit_log_are_text_never_markup():
    page = to_html(_report("<script>alert(1)</script>", '<img src="x" onerror="y">'))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=&#34;x&#34; onerror=&#34;y&#34;&gt;" in page
    assert "store edit overwritten" in page


def test_the_same_contract_number_in_two_companies_has_two_histories():
    page = to_html(_report("24001-", "New"))
    assert "<summary>1 / 24001- (1 rows)</summary>" in page
    assert "<summary>2 / 24001- (1 rows)</summary>" in page
    assert page.count("<rect") >= 2 + 2  # one bar per outcome of the day, and the legend
